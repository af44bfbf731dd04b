#include "models/arch/granule.h"

namespace mmusim::arch {

namespace {
// CONT shifts and exec folio orders are the Linux arm64 values (kernel.md §1).
constexpr Geometry kGeometries[] = {
    {Granule::K4, 12, 9, 0, 4, 4, 4},
    {Granule::K16, 14, 11, 0, 7, 5, 2},
    {Granule::K64, 16, 13, 1, 5, 5, 0},
};
}  // namespace

bool Geometry::block_allowed(unsigned level) const {
    // 4K: 1G blocks at level 1 and 2M at level 2; 16K and 64K (without LPA2/52-bit) only
    // have level 2 blocks (32M, 512M).
    if (level == 2) return true;
    return level == 1 && granule == Granule::K4;
}

std::uint64_t Geometry::start_table_entries() const {
    const unsigned resolved = kVaBits - level_shift(start_level);
    return std::uint64_t{1} << resolved;
}

const Geometry& geometry(Granule g) { return kGeometries[static_cast<unsigned>(g)]; }

bool parse_granule(std::string_view text, Granule& out) {
    if (text == "4K") out = Granule::K4;
    else if (text == "16K") out = Granule::K16;
    else if (text == "64K") out = Granule::K64;
    else return false;
    return true;
}

std::string granule_name(Granule g) {
    switch (g) {
        case Granule::K4: return "4K";
        case Granule::K16: return "16K";
        case Granule::K64: return "64K";
    }
    return "?";
}

}  // namespace mmusim::arch
