#include "sim/checkpoints_output.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "models/arch/granule.h"
#include "models/kernel/kernel_error.h"
#include "sim/config_error.h"

namespace mmusim::sim {

using nlohmann::json;

namespace {

using kernel::hex;

json size_map(const std::map<std::uint64_t, std::uint64_t>& by_size) {
    json out = json::object();
    for (const auto& [size, n] : by_size) out[std::to_string(size)] = n;
    return out;
}

json page_json(const kernel::PageState& p, const kernel::CheckpointLog& log) {
    json j = {{"va", hex(p.va)}, {"region", log.regions()[p.region].name}, {"pte", hex(p.pte)},
              {"entry", kernel::entry_kind_name(p.entry)}};
    if (p.entry != kernel::EntryKind::Page) return j;
    j["level"] = p.level;
    j["prot_none"] = p.prot_none;
    j["write"] = kernel::write_state_name(p.write);
    j["af"] = p.af;
    j["exec"] = p.exec;
    j["special"] = p.special;
    j["uffd_wp"] = p.uffd_wp;
    j["cont"] = p.cont;
    j["zero"] = p.zero;
    j["folio"] = p.folio_size == 0 ? json(nullptr) : json{{"size", p.folio_size}, {"index", p.folio_index}};
    return j;
}

}  // namespace

std::unique_ptr<kernel::CheckpointLog> make_checkpoint_log(const RunConfig& config) {
    if (!config.workload.is_script)
        throw ConfigError(config.source + ": --checkpoints records the checkpoint ops of a workload script, and this config's "
                          "workload is a " + std::string(config.workload.is_trace ? "trace" : "generator") +
                          "; give a config with workload.script");
    std::vector<kernel::CheckpointRegion> regions;
    for (const workloads::ScriptRegion& r : config.workload.script->regions) regions.push_back({r.name, r.addr, r.size});
    return std::make_unique<kernel::CheckpointLog>(std::move(regions));
}

std::string checkpoints_text(const RunConfig& config, const kernel::CheckpointLog& log) {
    const workloads::Script& script = *config.workload.script;
    std::ostringstream os;
    os << "{\n";
    os << "  \"schema\": \"mmusim-checkpoints/1\",\n";
    os << "  \"kernel_version\": " << json(config.kernel.version.name()).dump() << ",\n";
    os << "  \"page_size\": " << arch::geometry(config.kernel.granule).page_size() << ",\n";
    json regions = json::array();
    for (const kernel::CheckpointRegion& r : log.regions()) regions.push_back({{"name", r.name}, {"addr", hex(r.addr)}, {"size", r.size}});
    os << "  \"regions\": " << regions.dump() << ",\n";
    os << "  \"checkpoints\": [";
    for (std::size_t i = 0; i < log.taken().size(); ++i) {
        const kernel::Checkpoint& c = log.taken()[i];
        const workloads::ScriptCheckpoint& op = script.checkpoints.at(c.op);
        const json counters = {{"faults", c.counters.faults},
                               {"anon_fault_alloc", size_map(c.counters.anon_fault_alloc)},
                               {"anon_fault_fallback", size_map(c.counters.anon_fault_fallback)},
                               {"split", c.counters.split}};
        os << (i == 0 ? "\n" : ",\n") << "    {\"index\": " << i << ", \"name\": " << json(op.name).dump()
           << ", \"origin\": " << json(op.origin).dump() << ",\n      \"counters\": " << counters.dump() << ",\n      \"processes\": [";
        for (std::size_t p = 0; p < c.processes.size(); ++p) {
            const kernel::CheckpointProcess& proc = c.processes[p];
            os << (p == 0 ? "\n" : ",\n") << "        {\"id\": " << proc.id << ", \"name\": " << json(script.processes.at(proc.id)).dump()
               << ", \"pages\": [";
            for (std::size_t k = 0; k < proc.pages.size(); ++k)
                os << (k == 0 ? "\n" : ",\n") << "          " << page_json(proc.pages[k], log).dump();
            os << "\n        ]}";
        }
        os << "\n      ]}";
    }
    os << (log.taken().empty() ? "]\n" : "\n  ]\n") << "}\n";
    return os.str();
}

}  // namespace mmusim::sim
