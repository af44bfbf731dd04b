#include "models/kernel/lazy_mmu.h"

#include <cctype>

#include "models/kernel/timeline.h"

namespace mmusim::kernel {

const char* lazy_mmu_variant_name(LazyMmuVariant v) {
    switch (v) {
        case LazyMmuVariant::None: return "none";
        case LazyMmuVariant::A: return "A";
        case LazyMmuVariant::B: return "B";
        case LazyMmuVariant::C: return "C";
        case LazyMmuVariant::D: return "D";
    }
    return "?";
}

bool parse_lazy_mmu_variant(std::string_view text, LazyMmuVariant& out) {
    if (text == "none") { out = LazyMmuVariant::None; return true; }
    if (text.size() != 1) return false;
    switch (std::toupper(static_cast<unsigned char>(text[0]))) {
        case 'A': out = LazyMmuVariant::A; return true;
        case 'B': out = LazyMmuVariant::B; return true;
        case 'C': out = LazyMmuVariant::C; return true;
        case 'D': out = LazyMmuVariant::D; return true;
        default: return false;
    }
}

bool LazyMmu::active() const {
    if (m_in_interrupt) return false;
    switch (m_variant) {
        case LazyMmuVariant::None: return false;
        case LazyMmuVariant::D: return m_enable_count > 0 && m_pause_count == 0;
        default: return m_mode;
    }
}

void LazyMmu::emit() {
    ++m_stats.emitted;
    m_flush.emit_pte_barriers();
}

void LazyMmu::queue_pte_barriers() {
    ++m_stats.requests;
    if (!active()) {
        emit();
        return;
    }
    // In the mode: remember that barriers are owed (one atomic the first time, a flag read
    // afterwards); they are emitted when the section ends or is flushed.
    ++m_stats.deferred;
    m_pending = true;
}

void LazyMmu::flush() {
    if (m_in_interrupt || m_variant == LazyMmuVariant::None) return;
    if (m_pending) {
        m_pending = false;
        emit();
    }
}

LazyMmu::State LazyMmu::enable() {
    const State state = enter();
    if (m_flush.timeline() != nullptr && state != State::Ignored) m_flush.timeline()->push("lazy_mmu");
    return state;
}

void LazyMmu::disable(State state) {
    leave(state);
    if (m_flush.timeline() != nullptr && state != State::Ignored) m_flush.timeline()->pop();
}

LazyMmu::State LazyMmu::enter() {
    if (m_in_interrupt || m_variant == LazyMmuVariant::None) return State::Ignored;
    switch (m_variant) {
        case LazyMmuVariant::A:
        case LazyMmuVariant::B:
            if (m_mode) {
                ++m_stats.nested_sections;
                if (m_variant == LazyMmuVariant::A) ++m_stats.warnings;  // VM_WARN_ON(test_thread_flag(TIF_LAZY_MMU))
            } else {
                ++m_stats.sections;
            }
            m_mode = true;
            return State::Default;
        case LazyMmuVariant::C:
            if (m_mode) {
                ++m_stats.nested_sections;
                return State::Nested;
            }
            ++m_stats.sections;
            m_mode = true;
            return State::Default;
        case LazyMmuVariant::D:
            if (m_pause_count > 0) return State::Ignored;
            if (m_enable_count++ == 0) ++m_stats.sections;  // arch enter is empty on arm64
            else ++m_stats.nested_sections;
            return State::Default;
        case LazyMmuVariant::None: break;
    }
    return State::Ignored;
}

void LazyMmu::leave(State state) {
    if (m_in_interrupt || state == State::Ignored) return;
    switch (m_variant) {
        case LazyMmuVariant::A:
        case LazyMmuVariant::B:
            // The inner leave flushes and turns the mode off for the rest of the outer
            // section; the outer leave then finds nothing to do.
            flush();
            m_mode = false;
            return;
        case LazyMmuVariant::C:
            flush();  // callers see their updates complete at every leave
            if (state != State::Nested) m_mode = false;
            return;
        case LazyMmuVariant::D:
            if (m_pause_count > 0 || m_enable_count == 0) return;
            --m_enable_count;
            flush();  // arch leave at depth 0, arch flush otherwise: both emit what is pending
            return;
        case LazyMmuVariant::None: return;
    }
}

void LazyMmu::pause() {
    if (m_variant != LazyMmuVariant::D || m_in_interrupt || m_enable_count == 0) return;
    if (m_pause_count++ == 0) flush();  // arch leave
}

void LazyMmu::resume() {
    if (m_variant != LazyMmuVariant::D || m_in_interrupt || m_pause_count == 0) return;
    --m_pause_count;
}

void LazyMmu::context_switch() { m_flush.barrier(Barrier::DsbIsh); }

}  // namespace mmusim::kernel
