#include "models/memory/cache_hierarchy.h"

#include <stdexcept>

#include "models/arch/sizes.h"

namespace mmusim::memory {

namespace {

unsigned line_shift_of(std::uint32_t line) {
    if (line < 8 || !arch::is_pow2(line)) throw std::invalid_argument("cache line size must be a power of two of at least 8");
    return arch::log2_exact(line);
}

}  // namespace

CacheHierarchy::CacheHierarchy(const CacheHierarchyConfig& config)
    : m_config(config), m_line_shift(line_shift_of(config.line)), m_llc("llc", config.llc, m_line_shift) {
    if (config.cores == 0) throw std::invalid_argument("cache hierarchy: no cores");
    m_l1d.reserve(config.cores);
    m_l2.reserve(config.cores);
    for (unsigned c = 0; c < config.cores; ++c) {
        m_l1d.emplace_back("l1d", config.l1d, m_line_shift);
        m_l2.emplace_back("l2", config.l2, m_line_shift);
    }
}

CacheLevel CacheHierarchy::walker_access(unsigned core, std::uint64_t pa, bool write) {
    if (core >= m_config.cores) throw std::out_of_range("cache hierarchy: an access of a core it does not have");
    const std::uint64_t line = pa >> m_line_shift;
    LineCache& l1d = m_l1d[core];
    LineCache& l2 = m_l2[core];
    CacheLevel served = CacheLevel::Dram;
    if (l1d.lookup(line)) {
        served = CacheLevel::L1d;
    } else if (l2.lookup(line)) {
        served = CacheLevel::L2;
        l1d.fill(line);
    } else if (m_llc.lookup(line)) {
        served = CacheLevel::Llc;
        l2.fill(line);
        l1d.fill(line);
    } else {
        m_llc.fill(line);
        l2.fill(line);
        l1d.fill(line);
    }
    if (write) drop_private(line, core);
    return served;
}

void CacheHierarchy::kernel_store(std::uint64_t pa, std::uint64_t bytes) {
    if (bytes == 0) return;
    const std::uint64_t last = (pa + bytes - 1) >> m_line_shift;
    for (std::uint64_t line = pa >> m_line_shift; line <= last; ++line) {
        drop_private(line, m_config.cores);
        m_llc.fill(line);
    }
}

void CacheHierarchy::drop_private(std::uint64_t line, unsigned except_core) {
    for (unsigned c = 0; c < m_config.cores; ++c) {
        if (c == except_core) continue;
        m_l1d[c].invalidate(line);
        m_l2[c].invalidate(line);
    }
}

std::uint32_t CacheHierarchy::latency(CacheLevel level) const {
    switch (level) {
        case CacheLevel::None: return 0;
        case CacheLevel::L1d: return m_config.l1d.latency;
        case CacheLevel::L2: return m_config.l2.latency;
        case CacheLevel::Llc: return m_config.llc.latency;
        case CacheLevel::Dram: return m_config.dram_latency;
    }
    return 0;
}

}  // namespace mmusim::memory
