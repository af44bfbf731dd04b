#include "models/kernel/kernel_version.h"

#include <charconv>

namespace mmusim::kernel {

std::optional<KernelVersion> KernelVersion::parse(std::string_view text) {
    if (text == "current") return KernelVersion(kCurrent);
    const std::size_t dot = text.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    int major = 0, minor = 0;
    const auto r1 = std::from_chars(text.data(), text.data() + dot, major);
    const auto r2 = std::from_chars(text.data() + dot + 1, text.data() + text.size(), minor);
    if (r1.ec != std::errc() || r1.ptr != text.data() + dot || r2.ec != std::errc() ||
        r2.ptr != text.data() + text.size() || minor < 0 || minor > 99)
        return std::nullopt;
    // The contpte engine for user mappings arrived in v6.9; nothing older is modelled. The
    // 6.x series ended with 6.19 (7.0 followed), and 7.x is "current" here.
    if (major != 6 || minor < 9 || minor > 19) return std::nullopt;
    return KernelVersion(major * 100 + minor);
}

std::string KernelVersion::name() const {
    if (m_code == kCurrent) return "current";
    return std::to_string(m_code / 100) + "." + std::to_string(m_code % 100);
}

}  // namespace mmusim::kernel
