#include "models/mmu/walker.h"

#include "models/arch/descriptor.h"
#include "models/common/cycles.h"
#include "models/mmu/permissions.h"

namespace mmusim::mmu {

using arch::FaultKind;

Walker::Walker(const WalkerConfig& config, DescriptorPort& port, WalkCache* walk_cache)
    : m_config(config), m_geo(arch::geometry(config.granule)), m_port(port),
      m_walk_cache(walk_cache != nullptr && walk_cache->enabled() ? walk_cache : nullptr),
      m_walk_cache_latency(cycles_to_time(m_walk_cache != nullptr ? m_walk_cache->config().latency : 0)) {}

HwUpdate Walker::update(std::uint64_t desc_pa, std::uint64_t desc, unsigned level, arch::Access access,
                        sc_core::sc_time& delay) {
    HwUpdate u;
    for (;;) {
        // Still a leaf of this level? (A block or page descriptor; a concurrent change may
        // have made it invalid, or replaced a block by a table.)
        const bool leaf = arch::desc_valid(desc) && (arch::desc_is_table_or_page(desc) == (level == 3));
        if (!leaf) {
            u.fault = FaultKind::Translation;
            return u;
        }
        // Without hardware AF management an old entry is an access-flag fault, which comes
        // before the permission check.
        if (!arch::desc_young(desc) && !m_config.hafdbs) {
            u.fault = FaultKind::AccessFlag;
            return u;
        }
        const PermissionResult perm = check_permission(desc, access, m_config.hafdbs);
        if (perm == PermissionResult::Fault) {
            u.fault = FaultKind::Permission;
            return u;
        }
        const std::uint64_t set = arch::desc_young(desc) ? 0 : arch::bits::kAf;
        const std::uint64_t clear = perm == PermissionResult::NeedsDirtyUpdate ? arch::bits::kRdonly : 0;
        if ((set | clear) == 0) {
            u.desc = desc;
            return u;
        }
        // The hardware update is an atomic read-modify-write of the one descriptor used.
        const std::uint64_t wanted = (desc | set) & ~clear;
        const std::uint64_t found = m_port.cas_descriptor(desc_pa, desc, wanted, delay);
        if (found == desc) {
            u.desc = wanted;
            u.af_updated = set != 0;
            u.dirty_updated = clear != 0;
            return u;
        }
        desc = found;  // changed under us: decide again on what memory holds now
    }
}

HwUpdate Walker::set_dirty(std::uint64_t desc_pa, unsigned level, sc_core::sc_time& delay) {
    const std::uint64_t desc = m_port.read_descriptor(desc_pa, delay);
    return update(desc_pa, desc, level, arch::Access::Store, delay);
}

WalkResult Walker::walk(std::uint64_t va, std::uint64_t ttbr, std::uint16_t asid, arch::Access access,
                        sc_core::sc_time& delay) {
    WalkResult r;
    if (va >= arch::kUserVaEnd) {
        // Outside the 48-bit range of TTBR0 (T0SZ = 16): a translation fault at the first level, no
        // descriptor read (the upper VA bits would otherwise alias a lower address).
        r.level = m_geo.start_level;
        r.fault = FaultKind::Translation;
        return r;
    }
    std::uint64_t table = ttbr;
    unsigned first_level = m_geo.start_level;
    if (m_walk_cache != nullptr) {
        // One lookup per walk, hit or miss; the deepest cached table descriptor wins.
        delay += m_walk_cache_latency;
        r.walk_cache_lookup = true;
        const WalkCacheHit hit = m_walk_cache->lookup(va, asid);
        if (hit.hit()) {
            r.walk_cache_level = hit.level;
            table = hit.table;
            first_level = static_cast<unsigned>(hit.level) + 1;
        }
    }
    for (unsigned level = first_level;; ++level) {
        r.level = level;
        r.desc_pa = table + m_geo.index(va, level) * 8;
        const std::uint64_t d = m_port.read_descriptor(r.desc_pa, delay);
        ++r.reads;
        if (!arch::desc_valid(d)) {
            r.fault = FaultKind::Translation;  // an invalid descriptor is never cached
            return r;
        }
        const bool type_bit = arch::desc_is_table_or_page(d);
        if (level < 3 && type_bit) {
            table = arch::desc_oa(d, m_geo.page_shift);
            if (m_walk_cache != nullptr) m_walk_cache->fill(va, asid, level, table);
            continue;
        }
        // A block where the granule has none, or a level-3 descriptor with bit 1 clear, is
        // reserved: a translation fault.
        if ((level < 3 && !m_geo.block_allowed(level)) || (level == 3 && !type_bit)) {
            r.fault = FaultKind::Translation;
            return r;
        }
        r.desc = d;
        break;
    }

    // Access flag, permissions and the hardware updates; the descriptor they leave (which a
    // concurrent change may have replaced) is the translation used.
    const HwUpdate u = update(r.desc_pa, r.desc, r.level, access, delay);
    if (u.fault != FaultKind::None) {
        r.fault = u.fault;
        return r;
    }
    r.desc = u.desc;
    r.af_updated = u.af_updated;
    r.dirty_updated = u.dirty_updated;

    // Size of the translation: the level's block size, or the contiguous block when the hint
    // is honoured (PTE_CONT at level 3, contiguous PMD blocks at level 2).
    r.size = m_geo.level_size(r.level);
    if (m_config.honour_cont && arch::desc_cont(r.desc)) {
        if (r.level == 3) r.size = m_geo.cont_pte_size();
        else if (r.level == 2) r.size = m_geo.cont_pmd_size();
    }
    r.region_va = va & ~(r.size - 1);
    // The output address of the first entry of a contiguous block is the descriptor's OA
    // aligned down to the block size (the entries map consecutive, aligned PFNs).
    const std::uint64_t level_mask = m_geo.level_size(r.level) - 1;
    const std::uint64_t pa_of_va = arch::desc_oa(r.desc, m_geo.page_shift) + (va & level_mask);
    r.region_pa = pa_of_va & ~(r.size - 1);
    return r;
}

}  // namespace mmusim::mmu
