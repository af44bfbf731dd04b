#include "models/kernel/mm_ops.h"

#include <iterator>
#include <vector>

#include "models/kernel/pte.h"

namespace mmusim::kernel {

const char* err::name(int e) {
    // The asm-generic errno names (the same numbers on arm64 and x86_64) a traced call may
    // have answered.
    switch (e < 0 ? -e : e) {
        case 0: return "0";
        case kEperm: return "EPERM";
        case kEnoent: return "ENOENT";
        case 3: return "ESRCH";
        case 4: return "EINTR";
        case 5: return "EIO";
        case 6: return "ENXIO";
        case 7: return "E2BIG";
        case 8: return "ENOEXEC";
        case 9: return "EBADF";
        case 10: return "ECHILD";
        case 11: return "EAGAIN";
        case kEnomem: return "ENOMEM";
        case 13: return "EACCES";
        case kEfault: return "EFAULT";
        case kEbusy: return "EBUSY";
        case kEexist: return "EEXIST";
        case 19: return "ENODEV";
        case 20: return "ENOTDIR";
        case 21: return "EISDIR";
        case kEinval: return "EINVAL";
        case 23: return "ENFILE";
        case 24: return "EMFILE";
        case 25: return "ENOTTY";
        case 27: return "EFBIG";
        case 28: return "ENOSPC";
        case 29: return "ESPIPE";
        case 30: return "EROFS";
        case 32: return "EPIPE";
        case 34: return "ERANGE";
        case 38: return "ENOSYS";
        case 95: return "EOPNOTSUPP";
        default: return "E?";
    }
}

MmOps::MmOps(KernelContext& k, PageAlloc& pages) : m_k(k), m_pages(pages) {}

Desc MmOps::vma_page_prot(const Vma& vma) const {
    return vm_page_prot(vma.flags.read, vma.flags.write, vma.flags.exec, vma.flags.shared, vma.wants_writenotify());
}

std::optional<Folio> MmOps::vm_normal_folio(const Vma& /*vma*/, Desc pte) const {
    // arm64 has pte_special: the bit alone decides (§7).
    if (arch::desc_special(pte)) return std::nullopt;
    const std::uint64_t pfn = arch::desc_pfn(pte, m_k.geo.page_shift);
    if (pfn >= m_k.device_pfn) return std::nullopt;
    return m_k.folios.folio_of(pfn);
}

std::uint64_t MmOps::pte_table_of(Mm& mm, std::uint64_t addr, std::uint64_t* pmd_entry, Desc* pmd_value) {
    const std::uint64_t pmd = m_k.tables.pmd_lookup(mm, addr);
    if (pmd_entry != nullptr) *pmd_entry = pmd;
    if (pmd_value != nullptr) *pmd_value = 0;
    if (pmd == 0) return 0;
    const Desc d = m_k.tables.pmd_read(pmd);
    if (pmd_value != nullptr) *pmd_value = d;
    if (!arch::desc_valid(d) || !arch::desc_is_table_or_page(d)) return 0;
    return arch::desc_oa(d, m_k.geo.page_shift);
}

void MmOps::split_vma_at(Mm& mm, std::uint64_t addr) {
    Vma* vma = mm.find_vma(addr);
    if (vma == nullptr || vma->start == addr) return;
    // vma_adjust_trans_huge: a PMD leaf the new boundary cuts is split first.
    split_huge_pmd_address(mm, addr);
    Vma tail = *vma;
    tail.start = addr;
    if (tail.kind == VmaKind::File || tail.pfnmap()) tail.pgoff += (addr - vma->start) >> m_k.geo.page_shift;
    vma->end = addr;
    mm.vmas.emplace(addr, tail);
}

void MmOps::merge_vmas(Mm& mm, std::uint64_t start, std::uint64_t end) {
    auto it = mm.vmas.lower_bound(start);
    if (it != mm.vmas.begin()) --it;
    while (it != mm.vmas.end() && it->second.start <= end) {
        auto next = std::next(it);
        if (next == mm.vmas.end()) break;
        Vma& a = it->second;
        const Vma& b = next->second;
        const bool pgoff_ok = !(a.kind == VmaKind::File || a.pfnmap()) ||
                              a.pgoff + ((a.end - a.start) >> m_k.geo.page_shift) == b.pgoff;
        if (a.end == b.start && a.flags == b.flags && a.kind == b.kind && a.file == b.file && pgoff_ok &&
            a.page_prot == b.page_prot && a.name == b.name) {
            a.end = b.end;
            a.anon_vma = a.anon_vma || b.anon_vma;
            mm.vmas.erase(next);
            continue;
        }
        it = next;
    }
}

bool MmOps::covered(const Mm& mm, std::uint64_t start, std::uint64_t end) const {
    std::uint64_t at = start;
    while (at < end) {
        const Vma* v = mm.find_vma(at);
        if (v == nullptr) return false;
        at = v->end;
    }
    return true;
}

void MmOps::flush_tlb_batched_pending(Mm& mm) {
    // A batched reclaim flush still outstanding for this mm must complete before entries
    // are changed under the PTE lock.
    // arm64's arch_flush_tlb_batched_pending is a DSB.ISH: the deferred TLBIs were issued
    // already, only their completion is waited for (43b3dfdd0455 "arm64: support
    // batched/deferred tlb shootdown during page reclamation/migration", v6.5).
    if (!mm.tlb_flush_batched) return;
    m_k.flush.barrier(Barrier::DsbIsh);
    mm.tlb_flush_batched = false;
}

unsigned MmOps::folio_pte_batch(const Folio& folio, std::uint64_t ptep, Desc pte, unsigned max_nr, unsigned flags,
                                Desc* merged) {
    // Consecutive present entries mapping consecutive pages of the same large folio with
    // the same bits, ignoring access, dirty (unless respected) and write (unless respected).
    const auto clear_ignored = [&](Desc d) {
        if ((flags & kFpbRespectDirty) == 0) d = arch::desc_mkclean(d);
        if ((flags & kFpbRespectWrite) == 0) d = pte_wrprotect(d);
        return arch::desc_mkold(d);
    };
    const std::uint64_t pfn = arch::desc_pfn(pte, m_k.geo.page_shift);
    const std::uint64_t folio_left = folio.head_pfn + folio.nr_pages() - pfn;
    if (folio_left < max_nr) max_nr = static_cast<unsigned>(folio_left);
    bool any_writable = false, any_young = false, any_dirty = false;
    unsigned nr = m_k.pgtable.pte_batch_hint(ptep, pte);
    Desc expected = clear_ignored(m_k.pgtable.pfn_pte(pfn + nr, pte));
    ptep += 8 * std::uint64_t{nr};
    while (nr < max_nr) {
        const Desc cur = m_k.pgtable.ptep_get(ptep);
        if (!pte_same(clear_ignored(cur), expected)) break;
        any_writable |= arch::desc_write(cur);
        any_young |= arch::desc_young(cur);
        any_dirty |= arch::desc_dirty(cur);
        const unsigned step = m_k.pgtable.pte_batch_hint(ptep, cur);
        expected = m_k.pgtable.pfn_pte(arch::desc_pfn(expected, m_k.geo.page_shift) + step, expected);
        ptep += 8 * std::uint64_t{step};
        nr += step;
    }
    if (merged != nullptr) {
        if ((flags & kFpbMergeWrite) != 0 && any_writable) *merged = arch::desc_mkwrite(*merged);
        if ((flags & kFpbMergeYoungDirty) != 0) {
            if (any_young) *merged = arch::desc_mkyoung(*merged);
            if (any_dirty) *merged = arch::desc_mkdirty(*merged);
        }
    }
    return nr < max_nr ? nr : max_nr;
}

}  // namespace mmusim::kernel
