#include "sim/stats.h"

#include <array>

#include "models/arch/granule.h"
#include "models/arch/sizes.h"

namespace mmusim::sim {

using nlohmann::json;

namespace {

json pmu_json(const mmu::PmuCounters& p) {
    return json{{"L1D_TLB", p.L1D_TLB},           {"L1D_TLB_REFILL", p.L1D_TLB_REFILL}, {"L1I_TLB", p.L1I_TLB},
                {"L1I_TLB_REFILL", p.L1I_TLB_REFILL}, {"L2D_TLB", p.L2D_TLB},         {"L2D_TLB_REFILL", p.L2D_TLB_REFILL},
                {"DTLB_WALK", p.DTLB_WALK},       {"ITLB_WALK", p.ITLB_WALK},           {"INST_RETIRED", p.INST_RETIRED}};
}

json mmu_json(const mmu::MmuStats& s) {
    return json{{"tlb_conflicts", s.tlb_conflicts},
                {"walk_descriptor_reads", s.walk_descriptor_reads},
                {"walk_cycles", s.walk_cycles},
                {"hw_access_flag_updates", s.hw_access_flag_updates},
                {"hw_dirty_updates", s.hw_dirty_updates},
                {"faults", s.faults},
                {"tlbi_received", s.tlbi_received},
                {"stale_tlb_hits", s.stale_tlb_hits},
                {"stale_tlb_writes", s.stale_tlb_writes},
                {"walk_cache_lookups", s.walk_cache_lookups},
                {"walk_cache_hits", s.walk_cache_hits},
                {"walk_cache_invalidated", s.walk_cache_invalidated},
                {"walk_reads_l1d", s.walk_reads_l1d},
                {"walk_reads_l2", s.walk_reads_l2},
                {"walk_reads_llc", s.walk_reads_llc},
                {"walk_reads_dram", s.walk_reads_dram}};
}

json ratio(std::uint64_t num, std::uint64_t den) { return den == 0 ? json(nullptr) : json(static_cast<double>(num) / static_cast<double>(den)); }

// TLBIs by form and barriers by kind, by name; `all` false leaves out the zeros.
json tlbi_json(const std::array<std::uint64_t, arch::kTlbiOpCount>& counts, bool all) {
    json j = json::object();
    for (unsigned i = 0; i < arch::kTlbiOpCount; ++i)
        if (all || counts[i] != 0) j[std::string(arch::tlbi_name(static_cast<arch::TlbiOp>(i)))] = counts[i];
    return j;
}

json barriers_json(const std::array<std::uint64_t, static_cast<std::size_t>(kernel::Barrier::Count)>& counts, bool all) {
    json j = json::object();
    for (unsigned i = 0; i < static_cast<unsigned>(kernel::Barrier::Count); ++i)
        if (all || counts[i] != 0) j[kernel::barrier_name(static_cast<kernel::Barrier>(i))] = counts[i];
    return j;
}

json op_json(const kernel::OpStats& o) {
    const json tlbi = tlbi_json(o.tlbi, false);
    const json barriers = barriers_json(o.barriers, false);
    json j = {{"calls", o.calls},
              {"pte_ops", {{"R", o.R}, {"W", o.W}, {"X", o.X}, {"C", o.C}}},
              {"contpte", {{"converts", o.converts}, {"folds", o.folds}, {"unfolds", o.unfolds}}},
              {"tlbi", tlbi},
              {"tlbi_scope", {{"local", o.tlbi_local}, {"broadcast", o.tlbi_broadcast}}},
              {"barriers", barriers},
              {"lazy_mmu_deferred", o.lazy_deferred},
              {"cycles", o.cycles}};
    if (!o.results.empty()) j["results"] = o.results;
    return j;
}

// mmu.by_vma: every kind of mapping, zeros included (keys are stable).
json mmu_by_vma_json(const std::array<mmu::VmaTlbEvents, kernel::kVmaClassCount>& by_vma) {
    json j = json::object();
    for (std::size_t c = 0; c < kernel::kVmaClassCount; ++c) {
        const mmu::VmaTlbEvents& e = by_vma[c];
        j[kernel::vma_class_name(static_cast<kernel::VmaClass>(c))] =
            json{{"L1D_TLB_REFILL", e.L1D_TLB_REFILL}, {"L1I_TLB_REFILL", e.L1I_TLB_REFILL},
                 {"DTLB_WALK", e.DTLB_WALK}, {"ITLB_WALK", e.ITLB_WALK}};
    }
    return j;
}

// kernel.by_vma: every kind of mapping, and in each every folio size of the granule.
json kernel_by_vma_json(const arch::Geometry& geo, const kernel::KernelStats& k,
                        const std::array<kernel::MappedPages, kernel::kVmaClassCount>& mapped) {
    json j = json::object();
    for (std::size_t c = 0; c < kernel::kVmaClassCount; ++c) {
        json folios = json::object();
        for (unsigned order = 0; order <= geo.pmd_order(); ++order) folios[arch::size_name(geo.page_size() << order)] = 0;
        for (const auto& [size, n] : k.by_vma[c].folios_by_size) folios[arch::size_name(size)] = n;
        j[kernel::vma_class_name(static_cast<kernel::VmaClass>(c))] =
            json{{"faults", k.by_vma[c].faults}, {"pages", mapped[c].pages}, {"cont_pages", mapped[c].cont_pages},
                 {"folios", folios}};
    }
    return j;
}

json kernel_json(const RunConfig& config, const kernel::KernelStats& k, const kernel::LazyMmuStats& lazy,
                 const std::array<kernel::MappedPages, kernel::kVmaClassCount>& mapped) {
    json faults = {{"total", k.faults_total}, {"translation", 0}, {"permission", 0}, {"access_flag", 0}, {"by_handler", json::object()}};
    for (const auto& [kind, n] : k.faults_by_kind) faults[kind] = n;
    for (const auto& [path, n] : k.faults_by_handler) faults["by_handler"][path] = n;

    // Folios by size: every folio size of the granule, from the base page to the PMD size,
    // always appears (0 when none was allocated), so that the keys are the same whatever the
    // config enables (spec/mmu.md §5: keys are stable).
    const arch::Geometry& geo = arch::geometry(config.kernel.granule);
    json folios = json::object();
    for (unsigned order = 0; order <= geo.pmd_order(); ++order) folios[arch::size_name(geo.page_size() << order)] = 0;
    for (const auto& [size, n] : k.folios_by_size) folios[arch::size_name(size)] = n;

    // Large allocations that failed (kernel.fragmentation), by the size asked for: every
    // large folio size appears.
    json fallbacks = json::object();
    for (unsigned order = 1; order <= geo.pmd_order(); ++order) fallbacks[arch::size_name(geo.page_size() << order)] = 0;
    for (const auto& [size, n] : k.alloc_fallbacks_by_size) fallbacks[arch::size_name(size)] = n;

    // Swap traffic by folio size: every folio size appears, as for folios.
    json swap_out = json::object(), swap_in = json::object();
    for (unsigned order = 0; order <= geo.pmd_order(); ++order) {
        swap_out[arch::size_name(geo.page_size() << order)] = 0;
        swap_in[arch::size_name(geo.page_size() << order)] = 0;
    }
    for (const auto& [size, n] : k.swap_out_by_size) swap_out[arch::size_name(size)] = n;
    for (const auto& [size, n] : k.swap_in_by_size) swap_in[arch::size_name(size)] = n;

    const json tlbi = tlbi_json(k.tlbi, true);
    const json barriers = barriers_json(k.barriers, true);

    json by_op = json::object();
    for (const auto& [name, o] : k.by_op) by_op[name] = op_json(o);
    return json{{"faults", faults},
                {"by_vma", kernel_by_vma_json(geo, k, mapped)},
                {"folios", folios},
                {"folio_fallbacks", fallbacks},
                {"contpte", {{"fold_policy", kernel::fold_policy_name(config.kernel.fold_policy)},
                             {"folds", k.folds}, {"unfolds", k.unfolds}, {"fold_attempts", k.fold_attempts},
                             {"converts", k.converts}, {"blocks_mapped_cont", k.blocks_mapped_cont},
                             {"scanner", {{"passes", k.scan_passes}, {"blocks", k.scan_blocks},
                                          {"entries", k.scan_entries}, {"folds", k.scan_folds},
                                          {"cycles", k.scan_cycles}}}}},
                {"pte_ops", {{"R", k.pte_R}, {"W", k.pte_W}, {"X", k.pte_X}, {"C", k.pte_C}}},
                {"tlbi", tlbi},
                {"tlbi_scope", {{"local", k.tlbi_local}, {"broadcast", k.tlbi_broadcast}}},
                {"barriers", barriers},
                {"pgtables", {{"tables_allocated", k.tables_allocated}, {"tables_freed", k.tables_freed},
                              {"table_reads", k.table_reads}, {"table_writes", k.table_writes}}},
                {"lazy_mmu", {{"variant", kernel::lazy_mmu_variant_name(config.kernel.lazy_mmu)},
                              {"sections", lazy.sections}, {"nested_sections", lazy.nested_sections},
                              {"requests", lazy.requests}, {"deferred", lazy.deferred}, {"emitted", lazy.emitted},
                              {"warnings", lazy.warnings}}},
                {"by_op", by_op},
                {"swap", {{"pages_out", k.swap_pages_out}, {"pages_in", k.swap_pages_in},
                          {"out_by_size", swap_out}, {"in_by_size", swap_in},
                          {"out_fallback", k.swap_out_fallback}, {"full", k.swap_full},
                          {"lazyfreed", k.lazyfreed}, {"lazyfree_kept", k.lazyfree_kept}}},
                {"smp", {{"sync_points", k.sync_points}, {"lock_waits", k.lock_waits}, {"lock_wait_cycles", k.lock_wait_cycles},
                         {"lockless_none", k.lockless_none}, {"lockless_retries", k.lockless_retries},
                         {"migration_waits", k.migration_waits},
                         {"threads_spawned", k.threads_spawned}}},
                {"events", {{"context_switches", k.context_switches}, {"uffd_events", k.uffd_events},
                            {"uffd_wp_async_resolved", k.uffd_wp_async_resolved},
                            {"uffd_markers_installed", k.uffd_markers_installed},
                            {"huge_pmd_mapped", k.huge_pmd_mapped}, {"huge_pmd_splits", k.huge_pmd_splits},
                            {"mremap_pmds_moved", k.mremap_pmds_moved},
                            {"thp_collapse_alloc", k.thp_collapse_alloc},
                            {"thp_fault_alloc", k.thp_fault_alloc}, {"thp_fault_fallback", k.thp_fault_fallback},
                            {"thp_zero_page_mapped", k.thp_zero_page_mapped},
                            {"pagecache_reads", k.pagecache_reads}, {"reclaim_aged", k.reclaim_aged},
                            {"madvise_free_skipped", k.madvise_free_skipped}, {"folio_splits", k.folio_splits},
                            {"gather_batch_pages", k.gather_batch_pages},
                            {"gather_forced_flushes", k.gather_forced_flushes},
                            {"folios_migrated", k.folios_migrated}, {"pages_migrated", k.pages_migrated},
                            {"migrate_skipped", k.migrate_skipped},
                            {"debug_pagealloc_updates", k.debug_pagealloc_updates},
                            {"set_pte_on_cont_warnings", k.set_pte_on_cont_warnings}}},
                {"cycles", k.cycles}};
}

}  // namespace

json derived_figures(const json& pmu) {
    const auto get = [&](const char* k) { return pmu.at(k).get<std::uint64_t>(); };
    const std::uint64_t inst = get("INST_RETIRED");
    json mpki = json::object();
    for (const char* k : {"L1D_TLB_REFILL", "L1I_TLB_REFILL", "L2D_TLB_REFILL", "DTLB_WALK", "ITLB_WALK"})
        mpki[k] = inst == 0 ? json(nullptr) : json(1000.0 * static_cast<double>(get(k)) / static_cast<double>(inst));
    return json{{"l1d_miss_ratio", ratio(get("L1D_TLB_REFILL"), get("L1D_TLB"))},
                {"l1i_miss_ratio", ratio(get("L1I_TLB_REFILL"), get("L1I_TLB"))},
                {"l2_miss_ratio", ratio(get("L2D_TLB_REFILL"), get("L2D_TLB"))},
                {"walk_ratio", ratio(get("DTLB_WALK"), get("L1D_TLB"))},
                {"mpki", mpki}};
}

json collect_stats(const RunConfig& config, platforms::Platform& platform) {
    mmu::PmuCounters total;
    mmu::MmuStats mmu_total;
    std::array<mmu::VmaTlbEvents, kernel::kVmaClassCount> by_vma{};
    json cores = json::array();
    std::uint64_t cycles = 0, records = 0, requests = 0, attempts = 0, syscalls = 0, syscall_errors = 0;
    std::uint64_t kernel_user_accesses = 0, segv = 0;
    for (unsigned i = 0; i < platform.cores(); ++i) {
        mmu::PmuCounters p = platform.mmu(i).pmu();
        const core::CoreStats& cs = platform.core(i).stats();
        p.INST_RETIRED = cs.inst_retired;
        total += p;
        const mmu::MmuStats& ms = platform.mmu(i).stats();
        mmu_total += ms;
        for (std::size_t c = 0; c < by_vma.size(); ++c) by_vma[c] += cs.by_vma[c];
        cycles = std::max(cycles, cs.cycles);
        records += cs.records;
        requests += cs.requests;
        attempts += cs.attempts;
        syscalls += cs.syscalls;
        syscall_errors += cs.syscall_errors;
        kernel_user_accesses += cs.kernel_user_accesses;
        segv += cs.segv;
        json core_mmu = mmu_json(ms);
        core_mmu["by_vma"] = mmu_by_vma_json(cs.by_vma);
        cores.push_back(json{{"id", i}, {"pmu", pmu_json(p)}, {"mmu", core_mmu}, {"cycles", cs.cycles},
                             {"kernel_cycles", cs.kernel_cycles}, {"records", cs.records}, {"requests", cs.requests},
                             {"attempts", cs.attempts}});
    }
    const json pmu = pmu_json(total);
    json mmu = mmu_json(mmu_total);
    mmu["by_vma"] = mmu_by_vma_json(by_vma);
    // The pages mapped at the end of the run, by kind of mapping: one uncounted walk.
    const auto mapped = platform.kernel().mapped_pages_by_vma();
    return json{{"schema", kStatsSchema},
                {"config", config.resolved},
                {"pmu", pmu},
                {"derived", derived_figures(pmu)},
                {"mmu", mmu},
                {"cores", cores},
                {"kernel", kernel_json(config, platform.kernel().stats(), platform.kernel().lazy_stats(), mapped)},
                {"workload", {{"records", records}, {"requests", requests}, {"attempts", attempts}, {"syscalls", syscalls},
                              {"syscall_errors", syscall_errors}, {"kernel_user_accesses", kernel_user_accesses},
                              {"segv", segv}}},
                {"cycles", cycles}};
}

}  // namespace mmusim::sim
