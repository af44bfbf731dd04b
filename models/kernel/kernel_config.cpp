#include "models/kernel/kernel_config.h"

namespace mmusim::kernel {

namespace {
constexpr struct {
    FoldPolicy policy;
    const char* name;
} kFoldPolicies[] = {
    {FoldPolicy::Linux, "linux"},     {FoldPolicy::AnyEntry, "any-entry"}, {FoldPolicy::AfterBatch, "after-batch"},
    {FoldPolicy::Scanner, "scanner"}, {FoldPolicy::Never, "never"},
};
}  // namespace

const char* fold_policy_name(FoldPolicy p) {
    for (const auto& e : kFoldPolicies)
        if (e.policy == p) return e.name;
    return "?";
}

bool parse_fold_policy(const std::string& name, FoldPolicy& out) {
    for (const auto& e : kFoldPolicies) {
        if (name == e.name) {
            out = e.policy;
            return true;
        }
    }
    return false;
}

}  // namespace mmusim::kernel
