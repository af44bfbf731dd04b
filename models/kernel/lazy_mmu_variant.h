// The lazy-MMU nesting semantics a run models (spec/kernel.md §4.4).
#pragma once

#include <cstdint>
#include <string_view>

namespace mmusim::kernel {

// None: arm64 before v6.16, no batching at all: every barrier request emits at once.
// A: v6.16-rc1 (warns on nesting); B: v6.16-v6.19 (the inner leave ends the mode);
// C: the proposed fix (flush at every leave, clear the mode only at the outermost);
// D: the generic layer with counters (Dec 2025 mm tree and later).
enum class LazyMmuVariant : std::uint8_t { None, A, B, C, D };

const char* lazy_mmu_variant_name(LazyMmuVariant v);
// "none", "A", "B", "C", "D" (case-insensitive letters).
bool parse_lazy_mmu_variant(std::string_view text, LazyMmuVariant& out);

}  // namespace mmusim::kernel
