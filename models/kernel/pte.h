// Linux's value-level PTE helpers for arm64 (arch/arm64/include/asm/pgtable.h,
// pgtable-prot.h, tlbflush.h): protections of a mapping, pte_modify, pte_needs_flush, and the
// non-present encodings the model uses (PROT_NONE, uffd-wp markers). No memory access here.
#pragma once

#include <cstdint>

#include "models/arch/descriptor.h"

namespace mmusim::kernel {

using arch::Desc;

namespace pte_bits {
using namespace arch::bits;
// PTE_PRESENT_INVALID: nG reused while VALID is clear (a PROT_NONE entry).
inline constexpr Desc kPresentInvalid = kNg;
// Attribute index 0 (normal memory) is all zeros, so _PAGE_DEFAULT is TYPE | AF | SH.
inline constexpr Desc kPageDefault = kType | kAf | kShInner;
// The bits pte_modify() takes from the new protection.
inline constexpr Desc kModifyMask = kUser | kPxn | kUxn | kRdonly | kPresentInvalid | kValid | kDbm | kGp;
// A uffd-wp PTE marker: a swap-format entry (bits 0-1 zero) of the marker type (swap type
// field b6-10 all ones) whose offset (b12+) holds PTE_MARKER_UFFD_WP.
inline constexpr Desc kMarkerUffdWp = (Desc{0x1f} << 6) | (Desc{1} << 12);
// The swap type the model gives migration entries (split_folio's unmap/remap).
inline constexpr Desc kSwapTypeMigration = Desc{0x1c} << 6;
}  // namespace pte_bits

// A migration entry for page `pfn` (swp_entry_to_pte(make_*_migration_entry)): non-present,
// not none. Its young/dirty/write state is kept by the splitter, which remaps synchronously.
inline Desc make_migration_entry(std::uint64_t pfn) { return pte_bits::kSwapTypeMigration | (Desc{pfn} << 12); }

// The three migration entry types of include/linux/swapops.h (SWP_MIGRATION_READ,
// _READ_EXCLUSIVE, _WRITE), which the model numbers 0x1c, 0x1d, 0x1e in the swap type field
// (b6-10; 0x1f is the PTE marker), and the A/D bits migration entries carry at the top of
// the offset (SWP_MIG_YOUNG_BIT, SWP_MIG_DIRTY_BIT: arm64's offset has room for them, so
// migration_entry_supports_ad() is true). The same encoding serves a PMD migration entry.
enum class MigrationType : std::uint8_t { Read, ReadExclusive, Write };
namespace pte_bits {
inline constexpr Desc kSwapTypeMask = Desc{0x1f} << 6;
inline constexpr Desc kMigYoung = Desc{1} << 48;   // offset bit 36 (above any PFN of a 48-bit PA)
inline constexpr Desc kMigDirty = Desc{1} << 49;
inline constexpr Desc kSwpUffdWp = Desc{1} << 3;   // PTE_SWP_UFFD_WP
inline constexpr Desc kSwpOffsetPfnMask = ((Desc{1} << 48) - 1) & ~((Desc{1} << 12) - 1);
}  // namespace pte_bits
inline Desc make_migration_entry(std::uint64_t pfn, MigrationType type) {
    return ((Desc{0x1c} + static_cast<Desc>(type)) << 6) | (Desc{pfn} << 12);
}
// is_migration_entry(pte_to_swp_entry(pte)) of a non-present, non-none entry.
inline bool is_migration_entry(Desc d) {
    if ((d & (pte_bits::kValid | pte_bits::kPresentInvalid)) != 0 || d == 0) return false;
    const Desc type = (d & pte_bits::kSwapTypeMask) >> 6;
    return type >= 0x1c && type <= 0x1e;
}
inline bool is_writable_migration_entry(Desc d) {
    return is_migration_entry(d) && (d & pte_bits::kSwapTypeMask) >> 6 == 0x1e;
}
// SWP_MIGRATION_READ only: neither exclusive nor writable.
inline bool is_readable_migration_entry(Desc d) {
    return is_migration_entry(d) && (d & pte_bits::kSwapTypeMask) >> 6 == 0x1c;
}
inline std::uint64_t migration_entry_pfn(Desc d) { return (d & pte_bits::kSwpOffsetPfnMask) >> 12; }
inline Desc make_migration_entry_young(Desc d) { return d | pte_bits::kMigYoung; }
inline Desc make_migration_entry_dirty(Desc d) { return d | pte_bits::kMigDirty; }
inline bool is_migration_entry_young(Desc d) { return (d & pte_bits::kMigYoung) != 0; }
inline bool is_migration_entry_dirty(Desc d) { return (d & pte_bits::kMigDirty) != 0; }
inline Desc pte_swp_mkuffd_wp(Desc d) { return d | pte_bits::kSwpUffdWp; }
inline bool pte_swp_uffd_wp(Desc d) { return (d & pte_bits::kSwpUffdWp) != 0; }
inline Desc pte_swp_clear_uffd_wp(Desc d) { return d & ~pte_bits::kSwpUffdWp; }

// A swap entry of the one swap device (swap type 0): arm64's layout from v6.10 ("arm64/mm:
// Add uffd write-protect support"): bits 0-1 zero, bit 2 PTE_SWP_EXCLUSIVE (the page was
// PageAnonExclusive), bit 3 uffd-wp, bits 6-10 the type, bits 12 and up the offset.
namespace pte_bits {
inline constexpr Desc kSwpExclusive = Desc{1} << 2;  // PTE_SWP_EXCLUSIVE
}  // namespace pte_bits
inline Desc swp_entry_to_pte(std::uint64_t offset) { return Desc{offset} << 12; }
// is_swap_pte && !non_swap_entry: a swap entry of a real swap device (not a migration entry
// or a marker).
inline bool is_swap_entry(Desc d) {
    if (d == 0 || (d & (pte_bits::kValid | pte_bits::kPresentInvalid)) != 0) return false;
    return (d & pte_bits::kSwapTypeMask) == 0 && (d & pte_bits::kSwpOffsetPfnMask) != 0;
}
inline std::uint64_t swp_offset(Desc d) { return (d & pte_bits::kSwpOffsetPfnMask) >> 12; }
inline Desc pte_swp_mkexclusive(Desc d) { return d | pte_bits::kSwpExclusive; }
inline bool pte_swp_exclusive(Desc d) { return (d & pte_bits::kSwpExclusive) != 0; }
inline Desc pte_swp_clear_exclusive(Desc d) { return d & ~pte_bits::kSwpExclusive; }
// pte_move_swp_offset: the same entry `delta` slots on (flags kept).
inline Desc pte_move_swp_offset(Desc d, std::int64_t delta) {
    return (d & ~pte_bits::kSwpOffsetPfnMask) | swp_entry_to_pte(static_cast<std::uint64_t>(static_cast<std::int64_t>(swp_offset(d)) + delta));
}

// pte_present(): valid, or PROT_NONE (present-invalid).
inline bool pte_present(Desc d) { return (d & pte_bits::kValid) != 0 || (d & pte_bits::kPresentInvalid) != 0; }
inline bool pte_none(Desc d) { return d == 0; }
inline bool pte_protnone(Desc d) { return (d & pte_bits::kValid) == 0 && (d & pte_bits::kPresentInvalid) != 0; }
inline bool pte_uffd_wp(Desc d) { return (d & pte_bits::kSwUffdWp) != 0; }
inline bool pte_marker_uffd_wp(Desc d) { return d == pte_bits::kMarkerUffdWp; }
inline bool pte_user_exec(Desc d) { return (d & pte_bits::kUxn) == 0; }
// pte_valid_not_user(): a valid kernel entry (no EL0 access, not executable at EL0), the kind
// whose store asks for DSB.ISHST + ISB (§4.1).
inline bool pte_valid_not_user(Desc d) {
    return (d & pte_bits::kValid) != 0 && (d & pte_bits::kUser) == 0 && (d & pte_bits::kUxn) != 0;
}

// The value __ptep_set_access_flags (and pmdp_set_access_flags) stores over `old`: AF, DIRTY
// and WRITE taken from `entry`, and RDONLY only ever cleared, so that the update never makes
// the mapping more restrictive.
inline Desc access_flags_update(Desc old, Desc entry) {
    using namespace pte_bits;
    const Desc add = (entry & (kRdonly | kAf | kDbm | kSwDirty)) ^ kRdonly;
    return ((old ^ kRdonly) | add) ^ kRdonly;
}

// vm_get_page_prot(): the attributes of new entries of a mapping with these VM flags
// (protection_map of arm64). Private writable mappings start read-only (copy-on-write); the
// fault handler adds WRITE and DIRTY. Shared writable mappings are writable but clean unless
// `writenotify` (a file system that wants to see the first write).
inline Desc vm_page_prot(bool read, bool write, bool exec, bool shared, bool writenotify) {
    using namespace pte_bits;
    if (!read && !write && !exec)
        return (kPageDefault & ~kValid) | kPresentInvalid | kRdonly | kPxn | kUxn;  // PAGE_NONE
    Desc prot = kPageDefault | kValid | kUser | kRdonly | kNg | kPxn;
    if (!exec) prot |= kUxn;
    if (shared && write && !writenotify) prot |= kDbm;  // PAGE_SHARED[_EXEC]
    return prot;
}

// pte_modify(): keep the PFN, access/dirty state and software bits; take the permission bits
// from `newprot`. Hardware dirtiness is preserved as software dirty.
inline Desc pte_modify(Desc pte, Desc newprot) {
    using namespace pte_bits;
    if (arch::desc_write(pte) && !arch::desc_rdonly(pte)) pte |= kSwDirty;  // pte_hw_dirty
    pte = (pte & ~kModifyMask) | (newprot & kModifyMask);
    if ((pte & kSwDirty) != 0) pte = arch::desc_mkdirty(pte);
    return pte;
}

// pte_needs_flush(): a change needs a TLBI only if the old entry was valid and a bit other
// than the software bits changed.
inline bool pte_needs_flush(Desc oldpte, Desc newpte) {
    if ((oldpte & pte_bits::kValid) == 0) return false;
    return ((oldpte ^ newpte) & ~pte_bits::kSwMask) != 0;
}

// pte_wrprotect(): move hardware dirtiness into the software bit, then read-only.
inline Desc pte_wrprotect(Desc pte) {
    if (arch::desc_write(pte) && !arch::desc_rdonly(pte)) pte |= pte_bits::kSwDirty;
    return (pte & ~pte_bits::kDbm) | pte_bits::kRdonly;
}

// pte_mkuffd_wp(): the bit, and write protection with it.
inline Desc pte_mkuffd_wp(Desc pte) { return pte_wrprotect(pte) | pte_bits::kSwUffdWp; }
inline Desc pte_clear_uffd_wp(Desc pte) { return pte & ~pte_bits::kSwUffdWp; }

}  // namespace mmusim::kernel

namespace mmusim::kernel {

// pte_same() of arm64: RDONLY is ignored on present entries (hardware dirtiness).
inline bool pte_same(Desc a, Desc b) {
    if (pte_present(a)) a &= ~pte_bits::kRdonly;
    if (pte_present(b)) b &= ~pte_bits::kRdonly;
    return a == b;
}

}  // namespace mmusim::kernel
