// One level of a data cache, as far as page-table traffic needs it: which lines it holds.
// Set-associative, LRU, tags only (the data stays in PhysMem). A line is named by its line
// number (physical address >> log2(line size)); its set is `line % sets`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mmusim::memory {

struct LineCacheConfig {
    std::uint64_t size = 0;     // bytes; a multiple of line size * ways
    std::uint32_t ways = 0;     // ways == lines: fully associative
    std::uint32_t latency = 0;  // cycles of a read that hits here (load-to-use, not added to the levels above)
};

class LineCache {
public:
    // `line_shift`: log2 of the line size. Throws std::invalid_argument on a geometry that
    // does not divide into whole sets (the config checks it first, naming the key).
    LineCache(const std::string& name, const LineCacheConfig& config, unsigned line_shift);

    // Looks the line up; a hit makes it the most recently used of its set.
    bool lookup(std::uint64_t line);
    // Inserts the line as most recently used, evicting the least recently used of a full set;
    // a line already held is only made most recently used.
    void fill(std::uint64_t line);
    // Removes the line if held; returns whether it was.
    bool invalidate(std::uint64_t line);
    bool contains(std::uint64_t line) const;

    const LineCacheConfig& config() const { return m_config; }
    std::uint64_t sets() const { return m_sets; }
    std::uint64_t valid_lines() const;

private:
    struct Way {
        std::uint64_t line = kEmpty;
        std::uint64_t lru = 0;  // larger = more recently used
    };
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

    Way* set_of(std::uint64_t line) { return &m_ways[(line % m_sets) * m_config.ways]; }
    const Way* set_of(std::uint64_t line) const { return &m_ways[(line % m_sets) * m_config.ways]; }

    LineCacheConfig m_config;
    std::uint64_t m_sets = 0;
    std::vector<Way> m_ways;  // sets * ways, set-major, sized once
    std::uint64_t m_clock = 0;
};

}  // namespace mmusim::memory
