// The config schema: every key a config may hold, its type, its default and what it allows.
// validate() checks a JSON document against it, fills in the defaults and normalises sizes,
// so that the resolved config is complete and diffable.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmusim::sim {

// Json: any JSON value, passed through by validate(); the code that reads the key checks it
// (workload.script). A dotted path below a Json field names that field (see field_at).
// IntegerList: a list of whole numbers, each within [min, max].
enum class FieldKind { Object, Bool, Integer, Number, String, Enum, Size, Address, SizeList, IntegerList, Json };

struct Field {
    std::string name;
    FieldKind kind = FieldKind::Object;
    std::string help;                  // what the key means and allows (errors, docs)
    nlohmann::json def;                // default; null = no default (required unless optional)
    bool optional = false;             // may be absent without a default
    std::vector<Field> fields;         // Object
    std::vector<std::string> choices;  // Enum
    std::int64_t min = std::numeric_limits<std::int64_t>::min();
    std::int64_t max = std::numeric_limits<std::int64_t>::max();

    const Field* child(const std::string& key) const;
};

// The schema of a run config (spec/config.md).
const Field& config_schema();
// The schema of a platform object (presets and inline platforms).
const Field& platform_schema();

// Where a document came from, for error messages: "configs/x.json" or "--set a.b=1".
struct Origin {
    std::string where;
};

// Validates `value` against `field` at `path`, filling defaults in place. Throws ConfigError.
void validate(nlohmann::json& value, const Field& field, const std::string& path, const Origin& origin);

// The schema field at a dotted key path ("platform.tlb.l2.ways"), or throws ConfigError
// naming the unknown part and the nearest known key. Keys below a Json field (e.g.
// "workload.script.allow_errors") give the Json field: its reader checks them.
const Field& field_at(const std::string& dotted, const Origin& origin);

}  // namespace mmusim::sim
