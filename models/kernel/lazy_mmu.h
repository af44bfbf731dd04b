// Lazy MMU mode (spec/kernel.md §4): batching the barriers that kernel page-table stores
// request, per task, with the nesting semantics of each era selectable by config.
#pragma once

#include <cstdint>
#include <string_view>

#include "models/kernel/lazy_mmu_variant.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {


struct LazyMmuStats {
    std::uint64_t sections = 0;         // outermost enable ... disable pairs
    std::uint64_t nested_sections = 0;  // enables while already active
    std::uint64_t requests = 0;         // barrier requests (queue_pte_barriers)
    std::uint64_t deferred = 0;         // requests absorbed by lazy mode
    std::uint64_t emitted = 0;          // DSB.ISHST + ISB pairs emitted for requests
    std::uint64_t warnings = 0;         // variant A: enable while already lazy
};

// The state of the running task (the model runs one task at a time on a core).
class LazyMmu {
public:
    LazyMmu(TlbFlush& flush, LazyMmuVariant variant) : m_flush(flush), m_variant(variant) {}

    const LazyMmuStats& stats() const { return m_stats; }

    // What enable returns and disable takes: variant C's nesting state.
    enum class State : std::uint8_t { Default, Nested, Ignored };

    // lazy_mmu_mode_enable / arch_enter_lazy_mmu_mode.
    State enable();
    // lazy_mmu_mode_disable / arch_leave_lazy_mmu_mode.
    void disable(State state);
    // arch_flush_lazy_mmu_mode: emit pending barriers, stay in the mode.
    void flush();
    // Variant D: leave the mode whatever the depth, and come back at the same depth.
    void pause();
    void resume();

    // queue_pte_barriers(): a kernel page-table store asks for DSB.ISHST + ISB.
    void queue_pte_barriers();

    // Interrupt context: never batches; enable/disable/flush are no-ops there.
    void set_in_interrupt(bool in_interrupt) { m_in_interrupt = in_interrupt; }
    bool in_interrupt() const { return m_in_interrupt; }
    // __switch_to: DSB.ISH publishes pending stores; the pending flag stays with the task.
    void context_switch();

    bool active() const;
    bool pending() const { return m_pending; }

private:
    void emit();
    // enable and disable without the timeline's "lazy_mmu" span.
    State enter();
    void leave(State state);

    TlbFlush& m_flush;
    LazyMmuVariant m_variant;
    LazyMmuStats m_stats;
    bool m_mode = false;      // TIF_LAZY_MMU (A-C)
    bool m_pending = false;   // TIF_LAZY_MMU_PENDING
    unsigned m_enable_count = 0;  // D
    unsigned m_pause_count = 0;   // D
    bool m_in_interrupt = false;
};

}  // namespace mmusim::kernel
