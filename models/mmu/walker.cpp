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

std::uint64_t Walker::update(std::uint64_t desc_pa, std::uint64_t desc, std::uint64_t set, std::uint64_t clear,
                             sc_core::sc_time& delay) {
    // The hardware update is an atomic read-modify-write of the one descriptor it used.
    for (;;) {
        const std::uint64_t wanted = (desc | set) & ~clear;
        const std::uint64_t found = m_port.cas_descriptor(desc_pa, desc, wanted, delay);
        if (found == desc) return wanted;
        desc = found;
    }
}

std::uint64_t Walker::set_dirty(std::uint64_t desc_pa, sc_core::sc_time& delay) {
    const std::uint64_t desc = m_port.read_descriptor(desc_pa, delay);
    return update(desc_pa, desc, 0, arch::bits::kRdonly, delay);
}

WalkResult Walker::walk(std::uint64_t va, std::uint64_t ttbr, std::uint16_t asid, arch::Access access,
                        sc_core::sc_time& delay) {
    WalkResult r;
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

    // Size of the translation: the level's block size, or the contiguous block when the hint
    // is honoured (PTE_CONT at level 3, contiguous PMD blocks at level 2).
    r.size = m_geo.level_size(r.level);
    if (m_config.honour_cont && arch::desc_cont(r.desc)) {
        if (r.level == 3) r.size <<= m_geo.cont_pte_shift;
        else if (r.level == 2) r.size <<= m_geo.cont_pmd_shift;
    }
    r.region_va = va & ~(r.size - 1);
    // The output address of the first entry of a contiguous block is the descriptor's OA
    // aligned down to the block size (the entries map consecutive, aligned PFNs).
    const std::uint64_t level_mask = m_geo.level_size(r.level) - 1;
    const std::uint64_t pa_of_va = arch::desc_oa(r.desc, m_geo.page_shift) + (va & level_mask);
    r.region_pa = pa_of_va & ~(r.size - 1);

    const PermissionResult perm = check_permission(r.desc, access, m_config.hafdbs);
    if (!arch::desc_young(r.desc)) {
        if (!m_config.hafdbs) {
            r.fault = FaultKind::AccessFlag;
            return r;
        }
    }
    if (perm == PermissionResult::Fault) {
        r.fault = FaultKind::Permission;
        return r;
    }
    std::uint64_t set = 0, clear = 0;
    if (!arch::desc_young(r.desc)) set |= arch::bits::kAf;
    if (perm == PermissionResult::NeedsDirtyUpdate) clear |= arch::bits::kRdonly;
    if ((set | clear) != 0) {
        r.desc = update(r.desc_pa, r.desc, set, clear, delay);
        r.af_updated = set != 0;
        r.dirty_updated = clear != 0;
    }
    return r;
}

}  // namespace mmusim::mmu
