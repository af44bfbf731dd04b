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

// pgtable_supports_uffd_wp(): arm64 selects HAVE_ARCH_USERFAULTFD_WP (PTE_UFFD_WP) from v6.10
// ("arm64/mm: Add uffd write-protect support"); before, UFFDIO_REGISTER_MODE_WP is EINVAL.
inline bool pgtable_supports_uffd_wp(const KernelVersion& v) { return v.at_least(6, 10); }

}  // namespace mmusim::kernel
