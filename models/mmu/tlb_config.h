// Parameters of one TLB level (spec/mmu.md §2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mmusim::mmu {

struct TlbConfig {
    std::string name;                 // l1i, l1d, l2
    std::uint32_t entries = 0;
    std::uint32_t ways = 0;           // ways == entries: fully associative
    std::vector<std::uint64_t> sizes; // entry sizes in lookup order, bytes, powers of two
    std::uint32_t latency = 0;        // cycles per lookup, hit or miss
};

}  // namespace mmusim::mmu
