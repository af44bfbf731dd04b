// One level of a data cache, as far as page-table traffic needs it: which lines it holds.
// Set-associative, LRU, tags only (the data stays in PhysMem). A line is named by its line
// number (physical address >> log2(line size)); its set is `line % sets`.
//
// Each set keeps its lines in recency order, most recently used first, so a way costs 8
// bytes and no clock. The tag array is mapped once, at construction, as anonymous zero pages
// (an empty way is 0), so only the pages of sets in use become resident: a 32 MiB LLC model
// costs memory in proportion to the page-table lines a run touches, not 4 MiB up front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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
    struct UnmapTags {
        std::size_t bytes;
        void operator()(std::uint64_t* p) const;
    };
    static constexpr std::uint64_t kEmpty = 0;
    static std::uint64_t tag_of(std::uint64_t line) { return line + 1; }

    std::uint64_t* set_of(std::uint64_t line) const { return &m_tags[(line % m_sets) * m_config.ways]; }
    // Index of the line's way in `set`, or ways if absent.
    std::uint32_t find(const std::uint64_t* set, std::uint64_t line) const;

    LineCacheConfig m_config;
    std::uint64_t m_sets = 0;
    // sets * ways tags, set-major; in each set the valid tags come first, most recently used
    // first, then the empty ways.
    std::unique_ptr<std::uint64_t[], UnmapTags> m_tags;
};

}  // namespace mmusim::memory
