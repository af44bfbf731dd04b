#include "models/check/invariant_checker.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "models/arch/descriptor.h"
#include "models/arch/sizes.h"
#include "models/kernel/kernel_error.h"
#include "models/kernel/pte.h"
#include "models/mmu/permissions.h"

namespace mmusim::check {

using arch::Desc;

using kernel::hex;

namespace {
std::string entries_text(const Desc* entries, unsigned n) {
    std::ostringstream os;
    os << "[";
    for (unsigned i = 0; i < n; ++i) os << (i == 0 ? "" : " ") << hex(entries[i]);
    os << "]";
    return os.str();
}

constexpr arch::Access kAccesses[] = {arch::Access::Load, arch::Access::Store, arch::Access::Ifetch};
// Kernel VAs have bits 63..48 set (TTBR1); the tables index only the low 48 bits.
constexpr std::uint64_t kKernelVaBits = 0xffff000000000000ull;
}  // namespace

InvariantChecker::InvariantChecker(const kernel::Kernel& kernel, memory::PhysMem& mem, std::vector<const mmu::Mmu*> mmus)
    : m_kernel(kernel), m_mem(mem), m_mmus(std::move(mmus)), m_geo(arch::geometry(kernel.config().granule)) {
    m_mem.enable_store_log();
}

InvariantChecker::Prints InvariantChecker::vma_prints() const {
    Prints prints;
    for (const auto& [id, mm] : m_kernel.processes()) {
        std::vector<VmaPrint>& v = prints[id];
        for (const auto& [start, vma] : mm->vmas) v.push_back(VmaPrint{vma.start, vma.end, vma.flags, vma.kind});
    }
    return prints;
}

void InvariantChecker::after_op(const std::string& op) {
    ++m_ops;
    const memory::PhysMem::StoreLog& log = m_mem.store_log();
    Prints prints = vma_prints();
    Scope scope;
    scope.all = m_first;
    if (!m_first) {
        scope.pages = log.pages;
        std::sort(scope.pages.begin(), scope.pages.end());
        scope.pages.erase(std::unique(scope.pages.begin(), scope.pages.end()), scope.pages.end());
        for (const auto& [id, v] : prints) {
            const auto it = m_prints.find(id);
            if (it == m_prints.end() || it->second != v) scope.full.push_back(id);
        }
        scope.changed_pas = log.valid_changed;
        std::sort(scope.changed_pas.begin(), scope.changed_pas.end());
        scope.changed_pas.erase(std::unique(scope.changed_pas.begin(), scope.changed_pas.end()), scope.changed_pas.end());
    }
    check_tables(op, scope);
    if (m_first) check_tlbs(op);
    else if (!scope.changed.empty()) check_tlbs(op, &scope.changed);
    // Only a check that held moves on: after a violation the same state is checked again.
    m_first = false;
    m_prints = std::move(prints);
    m_mem.clear_store_log();
}

void InvariantChecker::read_words(std::uint64_t pa, std::uint64_t n, Desc* out) const {
    while (n > 0) {
        const std::uint64_t in_page = std::min<std::uint64_t>(n, (4096 - (pa & 4095)) / 8);
        const std::uint64_t* words = m_mem.page_words(pa);
        for (std::uint64_t i = 0; i < in_page; ++i) out[i] = words != nullptr ? words[((pa & 4095) >> 3) + i] : 0;
        pa += 8 * in_page;
        out += in_page;
        n -= in_page;
    }
}

void InvariantChecker::note_changes(const Scope& scope, const kernel::Mm& mm, std::uint64_t table, unsigned level,
                                    std::uint64_t va) const {
    const std::uint64_t end = table + (level == m_geo.start_level ? m_geo.start_table_entries() : m_geo.ptrs_per_table()) * 8;
    const bool global = &mm == m_kernel.init_mm();
    for (auto it = std::lower_bound(scope.changed_pas.begin(), scope.changed_pas.end(), table);
         it != scope.changed_pas.end() && *it < end; ++it) {
        const std::uint64_t index = (*it - table) / 8;
        scope.changed.push_back(Changed{mm.asid, global, va + (index << m_geo.level_shift(level)), m_geo.level_size(level)});
    }
}

bool InvariantChecker::in_scope(const Scope& scope, const kernel::Mm& mm, std::uint64_t table) const {
    if (scope.all) return true;
    if (&mm != m_kernel.init_mm() && std::find(scope.full.begin(), scope.full.end(), mm.id) != scope.full.end()) return true;
    const auto it = std::lower_bound(scope.pages.begin(), scope.pages.end(), table >> 12);
    return it != scope.pages.end() && *it < (table + m_geo.page_size()) >> 12;
}

void InvariantChecker::fail(const std::string& op, const kernel::Mm* mm, std::uint64_t va, const std::string& what) const {
    std::ostringstream os;
    os << "page-table invariant broken after " << op << ": ";
    if (mm == nullptr) os << "no address space";
    else if (mm == m_kernel.init_mm()) os << "init_mm";
    else os << "process " << mm->id;
    os << ", VA " << hex(va) << ": " << what
       << ". This is a bug of the model, not of the workload: the run stops before it counts anything built on it";
    throw InvariantViolation(os.str());
}

// ---- page tables ----------------------------------------------------------------------------

void InvariantChecker::check_tables(const std::string& op) const { check_tables(op, Scope{}); }

void InvariantChecker::check_tables(const std::string& op, const Scope& scope) const {
    for (const auto& [id, mm] : m_kernel.processes()) check_table(*mm, mm->pgd_pa, m_geo.start_level, 0, op, scope);
    if (const kernel::Mm* init = m_kernel.init_mm())
        check_table(*init, init->pgd_pa, m_geo.start_level, kKernelVaBits, op, scope);
}

void InvariantChecker::check_table(const kernel::Mm& mm, std::uint64_t table, unsigned level, std::uint64_t va,
                                   const std::string& op, const Scope& scope) const {
    const std::uint64_t entries = level == m_geo.start_level ? m_geo.start_table_entries() : m_geo.ptrs_per_table();
    std::vector<Desc> words(entries);
    read_words(table, entries, words.data());
    note_changes(scope, mm, table, level, va);
    for (std::uint64_t i = 0; i < entries; ++i) {
        const Desc d = words[i];
        const std::uint64_t entry_va = va + (i << m_geo.level_shift(level));
        if (!kernel::pte_present(d)) continue;
        if (arch::desc_valid(d) && arch::desc_is_table_or_page(d)) {
            const std::uint64_t next = arch::desc_oa(d, m_geo.page_shift);
            if (level + 1 < 3) {
                check_table(mm, next, level + 1, entry_va, op, scope);
            } else {
                note_changes(scope, mm, next, 3, entry_va);
                if (in_scope(scope, mm, next)) check_pte_table(mm, next, entry_va, op);
            }
        } else {
            check_leaf(mm, entry_va, d, level, op);  // a block (or a PROT_NONE PMD leaf)
        }
    }
}

void InvariantChecker::check_pte_table(const kernel::Mm& mm, std::uint64_t table, std::uint64_t va,
                                       const std::string& op) const {
    const kernel::KernelConfig& config = m_kernel.config();
    const bool kernel_mm = &mm == m_kernel.init_mm();
    const unsigned n = m_geo.cont_ptes();
    const std::uint64_t page = m_geo.page_size();
    std::vector<Desc> entries(m_geo.ptrs_per_table());
    read_words(table, entries.size(), entries.data());
    for (std::uint64_t first = 0; first < m_geo.ptrs_per_table(); first += n) {
        bool any_cont = false;
        const Desc* block = &entries[first];
        for (unsigned i = 0; i < n; ++i) {
            any_cont |= arch::desc_valid_cont(block[i]);
            if (arch::desc_cont(block[i]) && kernel::pte_present(block[i]) && (!config.contpte || kernel_mm)) {
                fail(op, &mm, va + (first + i) * page,
                     std::string(kernel_mm ? "PTE_CONT on a kernel mapping, which no caller in the model sets"
                                           : "PTE_CONT in a kernel built without contpte (kernel.contpte false)") +
                         "; entry " + hex(block[i]));
            }
        }
        const std::uint64_t block_va = va + first * page;
        if (any_cont) {
            // A folded block: every entry valid and CONT, consecutive PFNs from an aligned one,
            // the same attributes once access and dirty state are ignored (spec §5.2).
            const std::uint64_t pfn0 = arch::desc_pfn(block[0], m_geo.page_shift);
            const Desc prot0 = arch::desc_with_pfn(arch::desc_normalise_ad(block[0]), 0, m_geo.page_shift);
            for (unsigned i = 0; i < n; ++i) {
                const Desc e = block[i];
                const char* why = nullptr;
                if (!arch::desc_valid_cont(e)) why = "an entry of the folded block is not valid with PTE_CONT";
                else if ((pfn0 & (n - 1)) != 0) why = "the folded block's first PFN is not CONT_PTES aligned";
                else if (arch::desc_pfn(e, m_geo.page_shift) != pfn0 + i) why = "the folded block's PFNs are not consecutive";
                else if (arch::desc_with_pfn(arch::desc_normalise_ad(e), 0, m_geo.page_shift) != prot0)
                    why = "the folded block's entries differ in more than access and dirty state";
                if (why != nullptr)
                    fail(op, &mm, block_va + i * page,
                         std::string(why) + "; the block at VA " + hex(block_va) + " holds " + entries_text(block, n));
            }
        }
        if (kernel_mm) continue;
        for (unsigned i = 0; i < n; ++i) {
            if (kernel::pte_present(block[i])) check_leaf(mm, block_va + i * page, block[i], 3, op);
            // A swap entry names a slot in use: it holds a page-table reference there.
            else if (kernel::is_swap_entry(block[i]) && m_kernel.swap().count(kernel::swp_offset(block[i])) == 0)
                fail(op, &mm, block_va + i * page,
                     "a swap entry whose slot " + std::to_string(kernel::swp_offset(block[i])) +
                         " has no reference (freed, or never allocated); entry " + hex(block[i]));
        }
    }
}

void InvariantChecker::check_leaf(const kernel::Mm& mm, std::uint64_t va, Desc d, unsigned level,
                                  const std::string& op) const {
    const bool kernel_mm = &mm == m_kernel.init_mm();
    if (level < 3 && arch::desc_cont(d))
        fail(op, &mm, va, "PTE_CONT on a " + arch::size_name(m_geo.level_size(level)) +
                              " block entry (contiguous PMDs are hugetlb's, never the transparent engine's); entry " + hex(d));
    if (kernel_mm) return;
    const std::uint64_t size = m_geo.level_size(level);
    const kernel::Vma* vma = mm.find_vma(va);
    if (vma == nullptr || vma->end - va < size)
        fail(op, &mm, va, "a present " + arch::size_name(size) + " entry " + (vma == nullptr ? "outside every VMA" : "crossing the end of its VMA " + vma->name) + "; entry " + hex(d));
    if (!arch::desc_valid(d)) return;  // PROT_NONE: no access at all
    const kernel::VmFlags& f = vma->flags;
    const char* why = nullptr;
    // A valid entry that grants EL0 nothing is not an access (fork's copy of a PROT_NONE block
    // before v6.14 is one: pte_mkcont set PTE_TYPE_PAGE).
    const bool el0_access = mmu::check_permission(d, arch::Access::Load, true) == mmu::PermissionResult::Allowed ||
                            mmu::check_permission(d, arch::Access::Store, true) != mmu::PermissionResult::Fault ||
                            mmu::check_permission(d, arch::Access::Ifetch, true) == mmu::PermissionResult::Allowed;
    if (!f.read && !f.write && !f.exec) {
        if (el0_access) why = "an accessible entry in a PROT_NONE VMA";
    }
    else if (!f.write && mmu::check_permission(d, arch::Access::Store, true) != mmu::PermissionResult::Fault)
        why = "a writable entry in a VMA without write permission";
    else if (!f.exec && mmu::check_permission(d, arch::Access::Ifetch, true) == mmu::PermissionResult::Allowed)
        why = "an EL0-executable entry in a VMA without exec permission";
    if (why != nullptr) fail(op, &mm, va, std::string(why) + " (" + vma->name + "); entry " + hex(d));
}

// ---- TLBs -------------------------------------------------------------------------------------

InvariantChecker::Leaf InvariantChecker::walk(std::uint64_t pgd, std::uint64_t va) const {
    Leaf leaf;
    std::uint64_t table = pgd;
    for (unsigned level = m_geo.start_level; level <= 3; ++level) {
        const std::uint64_t pa = table + m_geo.index(va, level) * 8;
        const Desc d = m_mem.peek(pa);
        leaf.level = level;
        if (!arch::desc_valid(d)) return leaf;
        if (level < 3 && arch::desc_is_table_or_page(d)) {
            table = arch::desc_oa(d, m_geo.page_shift);
            continue;
        }
        if (level == 3 && !arch::desc_is_table_or_page(d)) return leaf;  // reserved encoding
        if (level < 3 && !m_geo.block_allowed(level)) return leaf;
        leaf.desc = d;
        leaf.desc_pa = pa;
        leaf.found = true;
        return leaf;
    }
    return leaf;
}

void InvariantChecker::check_tlbs(const std::string& op) const { check_tlbs(op, nullptr); }

void InvariantChecker::check_tlbs(const std::string& op, const std::vector<Changed>* changed) const {
    std::map<std::uint16_t, const kernel::Mm*> by_asid;
    for (const auto& [id, mm] : m_kernel.processes()) by_asid[mm->asid] = mm.get();
    for (unsigned core = 0; core < m_mmus.size(); ++core) {
        const mmu::Mmu& mmu = *m_mmus[core];
        for (const mmu::Tlb* tlb : {&mmu.l1i(), &mmu.l1d(), &mmu.l2()}) check_tlb(core, *tlb, op, changed, by_asid);
        check_walk_cache(core, mmu.walk_cache(), op, by_asid);
    }
}

void InvariantChecker::check_walk_cache(unsigned core, const mmu::WalkCache& cache, const std::string& op,
                                        const AsidMap& by_asid) const {
    // A cached table descriptor must still be the one in memory: Linux frees or moves a
    // table only with an all-level TLBI (freed_tables, move_normal_pmd, pmdp_collapse_flush),
    // which removes it. The few entries are all read whenever the TLBs are looked at.
    for (const mmu::WalkCache::Entry& e : cache.entries()) {
        if (!e.valid) continue;
        const auto it = by_asid.find(e.asid);
        if (it == by_asid.end()) continue;  // an ASID no address space uses any more
        std::uint64_t table = it->second->pgd_pa;
        Desc d = 0;
        for (unsigned level = m_geo.start_level; level <= e.level; ++level) {
            d = m_mem.peek(table + m_geo.index(e.base, level) * 8);
            if (!arch::desc_valid(d) || !arch::desc_is_table_or_page(d)) break;
            table = arch::desc_oa(d, m_geo.page_shift);
        }
        if (!arch::desc_valid(d) || !arch::desc_is_table_or_page(d) || arch::desc_oa(d, m_geo.page_shift) != e.table) {
            std::ostringstream os;
            os << "core " << core << "'s walk cache holds a level-" << unsigned{e.level} << " table descriptor for VA "
               << hex(e.base) << " (ASID " << e.asid << ") pointing at the table at PA " << hex(e.table)
               << ", but the descriptor in memory is " << hex(d);
            fail(op, it->second, e.base, os.str());
        }
    }
}

void InvariantChecker::check_tlb(unsigned core, const mmu::Tlb& tlb, const std::string& op,
                                 const std::vector<Changed>* changed, const AsidMap& by_asid) const {
    const bool hafdbs = m_kernel.config().hafdbs;
    for (std::uint32_t s = 0; s < tlb.sets(); ++s) {
        const mmu::TlbEntry* set = tlb.set_entries(s);
        for (std::uint32_t w = 0; w < tlb.config().ways; ++w) {
            const mmu::TlbEntry& e = set[w];
            if (!e.valid()) continue;
            if (changed != nullptr) {
                // Only an entry over a changed descriptor can have gone stale. (Its source
                // translation is no larger than a changed upper-level entry's span.)
                bool touched = false;
                for (const Changed& c : *changed)
                    touched |= (c.global ? e.global() : (!e.global() && e.asid() == c.asid)) &&
                               c.va < e.source_region() + e.source_size() && e.source_region() < c.va + c.size;
                if (!touched) continue;
            }
            const kernel::Mm* mm = nullptr;
            if (e.global()) {
                mm = m_kernel.init_mm();
            } else {
                const auto it = by_asid.find(e.asid());
                if (it != by_asid.end()) mm = it->second;
            }
            if (mm == nullptr) continue;  // an ASID no address space uses any more
            const auto describe = [&](const std::string& what, const Leaf& leaf) {
                std::ostringstream os;
                os << "core " << core << "'s " << tlb.config().name << " holds a " << arch::size_name(e.size())
                   << " entry at VA " << hex(e.region()) << " -> PA " << hex(e.pa) << " (descriptor " << hex(e.desc)
                   << ", ASID " << e.asid() << ") " << what << "; the descriptor in memory is ";
                if (leaf.found) os << hex(leaf.desc) << " at PA " << hex(leaf.desc_pa) << " (level " << leaf.level << ")";
                else os << "not a valid leaf (the walk stops at level " << leaf.level << ")";
                return os.str();
            };
            for (std::uint64_t va = e.region(), end = e.region() + e.size(); va < end;) {
                const Leaf leaf = walk(mm->pgd_pa, va);
                if (!leaf.found) fail(op, mm, va, describe("although the page is not mapped", leaf));
                const std::uint64_t size = m_geo.level_size(leaf.level);
                const std::uint64_t base = va & ~(size - 1);
                const std::uint64_t pa = arch::desc_oa(leaf.desc, m_geo.page_shift) + (va - base);
                if (pa != e.pa + (va - e.region()))
                    fail(op, mm, va, describe("translating to another page than the descriptor", leaf));
                for (const arch::Access a : kAccesses) {
                    if (mmu::check_permission(e.desc, a, hafdbs) == mmu::PermissionResult::Allowed &&
                        mmu::check_permission(leaf.desc, a, hafdbs) == mmu::PermissionResult::Fault)
                        fail(op, mm, va, describe("allowing a " + std::string(arch::access_name(a)) + " that the descriptor forbids", leaf));
                }
                va = base + size;
            }
        }
    }
}

}  // namespace mmusim::check
