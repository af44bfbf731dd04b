// userfaultfd (fs/userfaultfd.c, mm/userfaultfd.c): registering ranges for missing and
// write-protect faults, and UFFDIO_WRITEPROTECT through change_protection with the uffd-wp
// flags (spec/kernel.md §6.10).
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

int MmOps::uffd_register(Mm& mm, const Syscall& call) {
    // userfaultfd_register: UFFDIO_REGISTER_MODE_WP needs CONFIG_HAVE_ARCH_USERFAULTFD_WP,
    // which arm64 selects from v6.10 ("arm64/mm: Add uffd write-protect support"); before,
    // the mode check answers EINVAL ahead of any range check.
    if (call.uffd_wp && !pgtable_supports_uffd_wp(m_k.config.version)) return -err::kEinval;
    if (!aligned(call.addr) || call.len == 0 || (call.len & (m_k.geo.page_size() - 1)) != 0) return -err::kEinval;
    if (!call.uffd_missing && !call.uffd_wp) return -err::kEinval;
    const std::uint64_t end = call.addr + call.len;
    if (!covered(mm, call.addr, end)) return -err::kEinval;
    for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
        const Vma& v = it->second;
        if (v.end <= call.addr || v.start >= end) continue;
        if (v.pfnmap()) return -err::kEinval;  // vma_can_userfault: no pfn maps
    }
    if (call.uffd_wp) {
        mm.uffd_wp_async = call.uffd_async;
        mm.uffd_wp_unpopulated = call.uffd_wp_unpopulated;
    }
    split_vma_at(mm, call.addr);
    split_vma_at(mm, end);
    for (auto it = mm.vmas.lower_bound(call.addr); it != mm.vmas.end() && it->second.start < end; ++it) {
        it->second.flags.uffd_missing = it->second.flags.uffd_missing || call.uffd_missing;
        it->second.flags.uffd_wp = it->second.flags.uffd_wp || call.uffd_wp;
    }
    return 0;
}

int MmOps::uffd_unregister(Mm& mm, std::uint64_t addr, std::uint64_t len) {
    if (!aligned(addr) || len == 0 || (len & (m_k.geo.page_size() - 1)) != 0) return -err::kEinval;
    const std::uint64_t end = addr + len;
    if (!covered(mm, addr, end)) return -err::kEinval;
    split_vma_at(mm, addr);
    split_vma_at(mm, end);
    for (auto it = mm.vmas.lower_bound(addr); it != mm.vmas.end() && it->second.start < end; ++it) {
        Vma& v = it->second;
        if (v.flags.uffd_wp) {
            // userfaultfd_clear_vma: remove the protection that registration allowed.
            MmuGather tlb = make_gather(mm, false);
            (void)change_protection(tlb, mm, v, v.start, v.end, kCpUffdWpResolve);
            tlb.tlb_finish_mmu();
        }
        v.flags.uffd_missing = v.flags.uffd_wp = false;
    }
    merge_vmas(mm, addr, end);
    return 0;
}

int MmOps::uffd_writeprotect(Mm& mm, std::uint64_t addr, std::uint64_t len, bool protect) {
    if (!aligned(addr) || len == 0 || (len & (m_k.geo.page_size() - 1)) != 0) return -err::kEinval;
    const std::uint64_t end = addr + len;
    // mwriteprotect_range: every VMA of the range must be registered for wp.
    for (std::uint64_t at = addr; at < end;) {
        const Vma* v = mm.find_vma(at);
        if (v == nullptr || !v->flags.uffd_wp) return -err::kEnoent;
        at = v->end;
    }
    for (std::uint64_t at = addr; at < end;) {
        const Vma* v = mm.find_vma(at);
        const std::uint64_t e = v->end < end ? v->end : end;
        // uffd_wp_range: its own gather per VMA.
        MmuGather tlb = make_gather(mm, false);
        unsigned flags = protect ? kCpUffdWp : kCpUffdWpResolve;
        if (!protect && v->wants_manual_pte_write_upgrade()) flags |= kCpTryChangeWritable;
        (void)change_protection(tlb, mm, *v, at, e, flags);
        tlb.tlb_finish_mmu();
        at = e;
    }
    return 0;
}

}  // namespace mmusim::kernel
