// Kernel behaviour era (spec/kernel.md §0). A version is "MAJOR.MINOR" (6.9 or later) or
// "current" (the 2026 mm tree); behaviour switches compare against the release where a rule
// changed, so one code base models every version.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mmusim::kernel {

class KernelVersion {
public:
    static constexpr int kCurrent = 9999;

    KernelVersion() = default;
    static std::optional<KernelVersion> parse(std::string_view text);

    // True when this kernel has the behaviour introduced in `major.minor`.
    bool at_least(int major, int minor) const { return m_code >= major * 100 + minor; }
    bool is_current() const { return m_code == kCurrent; }
    std::string name() const;

private:
    explicit KernelVersion(int code) : m_code(code) {}
    int m_code = 617;
};

}  // namespace mmusim::kernel
