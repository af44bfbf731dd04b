#include "models/arch/sizes.h"

#include <bit>

namespace mmusim::arch {

std::optional<std::uint64_t> parse_address(std::string_view text) {
    if (text.size() < 3 || text.size() > 18 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text.substr(2)) {
        unsigned digit = 0;
        if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
        else return std::nullopt;
        value = value << 4 | digit;
    }
    return value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    if (i == 0) return std::nullopt;
    unsigned shift = 0;
    if (i < text.size()) {
        switch (text[i]) {
            case 'K': case 'k': shift = 10; break;
            case 'M': case 'm': shift = 20; break;
            case 'G': case 'g': shift = 30; break;
            case 'T': case 't': shift = 40; break;
            default: return std::nullopt;
        }
        ++i;
        if (i < text.size() && (text[i] == 'B' || text[i] == 'b')) ++i;  // "64KB" is fine too
    }
    if (i != text.size()) return std::nullopt;
    if (shift != 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
    return value << shift;
}

std::string size_name(std::uint64_t bytes) {
    static constexpr struct { unsigned shift; char suffix; } kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
    for (const auto& unit : kUnits) {
        const std::uint64_t scale = std::uint64_t{1} << unit.shift;
        if (bytes >= scale && bytes % scale == 0) return std::to_string(bytes / scale) + unit.suffix;
    }
    return std::to_string(bytes);
}

unsigned log2_exact(std::uint64_t pow2) { return static_cast<unsigned>(std::countr_zero(pow2)); }

}  // namespace mmusim::arch
