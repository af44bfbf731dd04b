// TLBI instruction forms and the FEAT_TLBIRANGE encoding rules (spec/kernel.md §3.2).
#pragma once

#include <cstdint>
#include <string_view>

namespace mmusim::arch {

enum class TlbiOp : std::uint8_t {
    VALE1IS,   // one VA, last level, broadcast
    VAE1IS,    // one VA, all levels (walk caches too), broadcast
    RVALE1IS,  // VA range, last level, broadcast
    RVAE1IS,   // VA range, all levels, broadcast
    ASIDE1IS,  // whole ASID, broadcast
    VALE1,     // one VA, last level, local
    VAE1,      // one VA, all levels, local
    RVALE1,    // VA range, last level, local
    ASIDE1,    // whole ASID, local
    VAALE1IS,  // one VA, any ASID, last level, broadcast (kernel mappings)
    RVAALE1IS, // VA range, any ASID, last level, broadcast (kernel mappings)
    VMALLE1IS, // everything, broadcast
    Count
};

inline constexpr unsigned kTlbiOpCount = static_cast<unsigned>(TlbiOp::Count);

std::string_view tlbi_name(TlbiOp op);
bool tlbi_is_broadcast(TlbiOp op);
bool tlbi_is_range(TlbiOp op);

// One TLBI instruction of a range flush: `pages` pages from `va` (a single op has pages = 1
// unless it is an ASID/all form).
// Largest range a single range-flush may cover before escalating (MAX_TLBI_RANGE_PAGES).
inline constexpr std::uint64_t kMaxTlbiRangePages = std::uint64_t{32} << 16;

struct TlbiRangeOp {
    bool range;             // a range (R*) form, else a single-VA form
    std::uint64_t first_page;  // index (in pages) of the first page, relative to the start
    std::uint64_t pages;
};

// The instruction sequence of Linux's __flush_tlb_range_op for `pages` pages (at most
// kMaxTlbiRangePages: callers escalate beyond) flushed with a stride of `stride_pages`, LPA2
// off: single-VA ops, one per stride, without FEAT_TLBIRANGE or when one page is left;
// otherwise, for scale 3..0, one range op covering floor(r / 2^(5s+1)) * 2^(5s+1) pages
// (at most 32 units: NUM is 5 bits). Calls `emit` once per instruction; returns the count.
template <typename Emit>
unsigned tlbi_range_ops(std::uint64_t pages, std::uint64_t stride_pages, bool range_supported, Emit&& emit) {
    unsigned count = 0;
    std::uint64_t done = 0;
    int scale = 3;
    while (pages > 0) {
        if (!range_supported || pages == 1) {
            emit(TlbiRangeOp{false, done, 1});
            ++count;
            done += stride_pages;
            pages -= pages < stride_pages ? pages : stride_pages;
            continue;
        }
        if (scale < 0) break;  // only reachable past kMaxTlbiRangePages
        const std::uint64_t unit = std::uint64_t{1} << (5 * scale + 1);
        const std::uint64_t capped = pages < 32 * unit ? pages : 32 * unit;
        if (capped >= unit) {
            const std::uint64_t n = (capped / unit) * unit;
            emit(TlbiRangeOp{true, done, n});
            ++count;
            done += n;
            pages -= n;
        }
        --scale;
    }
    return count;
}

}  // namespace mmusim::arch
