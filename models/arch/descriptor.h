// arm64 stage-1 descriptor bits (non-D128 layout) and the Linux software bits, as plain
// functions on 64-bit values. spec/mmu.md §1 and spec/kernel.md §1.
#pragma once

#include <cstdint>

namespace mmusim::arch {

using Desc = std::uint64_t;

namespace bits {
inline constexpr Desc kValid = Desc{1} << 0;
inline constexpr Desc kType = Desc{1} << 1;     // table (levels 0-2) / page (level 3)
inline constexpr Desc kUser = Desc{1} << 6;     // AP[1]: EL0 access
inline constexpr Desc kRdonly = Desc{1} << 7;   // AP[2]
inline constexpr Desc kShInner = Desc{3} << 8;  // SH[1:0] = inner shareable
inline constexpr Desc kAf = Desc{1} << 10;
inline constexpr Desc kNg = Desc{1} << 11;      // also PRESENT_INVALID when VALID is clear
inline constexpr Desc kGp = Desc{1} << 50;
inline constexpr Desc kDbm = Desc{1} << 51;     // Linux PTE_WRITE
inline constexpr Desc kCont = Desc{1} << 52;
inline constexpr Desc kPxn = Desc{1} << 53;
inline constexpr Desc kUxn = Desc{1} << 54;
inline constexpr Desc kSwDirty = Desc{1} << 55;
inline constexpr Desc kSwSpecial = Desc{1} << 56;
inline constexpr Desc kSwUffdWp = Desc{1} << 58;
inline constexpr Desc kSwMask = (Desc{1} << 63) | (Desc{0xf} << 55);
// Output address bits [47:12]; callers mask off the bits below the granule's page shift.
inline constexpr Desc kOaMask = ((Desc{1} << 48) - 1) & ~((Desc{1} << 12) - 1);
}  // namespace bits

inline bool desc_valid(Desc d) { return (d & bits::kValid) != 0; }
// At levels 0-2: bit 1 set = table, clear = block. At level 3: set = page, clear = reserved.
inline bool desc_is_table_or_page(Desc d) { return (d & bits::kType) != 0; }
inline bool desc_cont(Desc d) { return (d & bits::kCont) != 0; }
inline bool desc_valid_cont(Desc d) { return desc_valid(d) && desc_cont(d); }
inline bool desc_young(Desc d) { return (d & bits::kAf) != 0; }
inline bool desc_special(Desc d) { return (d & bits::kSwSpecial) != 0; }
inline bool desc_write(Desc d) { return (d & bits::kDbm) != 0; }
inline bool desc_rdonly(Desc d) { return (d & bits::kRdonly) != 0; }
// Linux: dirty = software DIRTY, or hardware dirty (WRITE set and RDONLY clear).
inline bool desc_dirty(Desc d) {
    return (d & bits::kSwDirty) != 0 || (desc_write(d) && !desc_rdonly(d));
}

// The output address of a descriptor for a granule with `page_shift`.
inline std::uint64_t desc_oa(Desc d, unsigned page_shift) {
    return d & bits::kOaMask & ~((std::uint64_t{1} << page_shift) - 1);
}
inline std::uint64_t desc_pfn(Desc d, unsigned page_shift) { return desc_oa(d, page_shift) >> page_shift; }
inline Desc desc_with_pfn(Desc d, std::uint64_t pfn, unsigned page_shift) {
    const Desc oa_mask = bits::kOaMask & ~((std::uint64_t{1} << page_shift) - 1);
    return (d & ~oa_mask) | ((pfn << page_shift) & oa_mask);
}

// Linux pte_mkdirty: software dirty, and hardware-writable when WRITE is set.
inline Desc desc_mkdirty(Desc d) {
    d |= bits::kSwDirty;
    if (desc_write(d)) d &= ~bits::kRdonly;
    return d;
}
// Linux pte_mkclean: no software dirty, read-only for the hardware.
inline Desc desc_mkclean(Desc d) { return (d & ~bits::kSwDirty) | bits::kRdonly; }
inline Desc desc_mkyoung(Desc d) { return d | bits::kAf; }
inline Desc desc_mkold(Desc d) { return d & ~bits::kAf; }
// Linux pte_mkwrite_novma: WRITE set; writable for the hardware if already dirty.
inline Desc desc_mkwrite(Desc d) {
    d |= bits::kDbm;
    if ((d & bits::kSwDirty) != 0) d &= ~bits::kRdonly;
    return d;
}
// Equal ignoring access and dirty state (kernel.md §1): clear AF and DIRTY, set RDONLY.
inline Desc desc_normalise_ad(Desc d) { return desc_mkclean(desc_mkold(d)); }

// Table descriptor pointing at a next-level table at physical address `pa`.
inline Desc make_table_desc(std::uint64_t pa) { return (pa & bits::kOaMask) | bits::kType | bits::kValid; }

}  // namespace mmusim::arch
