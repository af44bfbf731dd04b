#include "models/kernel/swap.h"

namespace mmusim::kernel {

SwapInfo::SwapInfo(std::uint64_t slots, std::uint64_t cluster_slots) : m_cluster_slots(cluster_slots) {
    // Whole clusters only (setup_clusters ignores a partial last one).
    const std::uint64_t clusters = cluster_slots == 0 ? 0 : slots / cluster_slots;
    m_slots = clusters * cluster_slots;
    m_clusters.assign(clusters, Cluster{});
    for (std::uint64_t c = 0; c < clusters; ++c) m_free_clusters.insert(c);
    if (clusters != 0) {
        // Slot 0 holds the swap header and is never handed out (a swap entry of offset 0
        // and type 0 would read as pte_none).
        m_cache_flag.insert(0);
        m_clusters[0].order = 0;
        m_clusters[0].used = 1;
        m_free_clusters.erase(0);
        m_current[0] = 0;
        ++m_used;
    }
}

bool SwapInfo::run_free(std::uint64_t offset, std::uint64_t nr) const {
    for (std::uint64_t i = 0; i < nr; ++i)
        if (count(offset + i) != 0 || m_cache_flag.count(offset + i) != 0) return false;
    return true;
}

std::optional<std::uint64_t> SwapInfo::alloc_in_cluster(std::uint64_t cluster, std::uint64_t nr) {
    const std::uint64_t base = cluster * m_cluster_slots;
    for (std::uint64_t off = base; off + nr <= base + m_cluster_slots; off += nr) {
        if (run_free(off, nr)) {
            take(off, nr);
            return off;
        }
    }
    return std::nullopt;
}

void SwapInfo::take(std::uint64_t offset, std::uint64_t nr) {
    for (std::uint64_t i = 0; i < nr; ++i) m_cache_flag.insert(offset + i);
    m_clusters[offset / m_cluster_slots].used += nr;
    m_used += nr;
}

std::optional<std::uint64_t> SwapInfo::alloc(unsigned order) {
    const std::uint64_t nr = std::uint64_t{1} << order;
    if (nr > m_cluster_slots || m_clusters.empty()) return std::nullopt;
    // The order's current cluster, then its other partly used clusters (lowest first).
    if (auto it = m_current.find(order); it != m_current.end() && m_clusters[it->second].order == static_cast<int>(order))
        if (auto off = alloc_in_cluster(it->second, nr)) return off;
    for (std::uint64_t c = 0; c < m_clusters.size(); ++c) {
        if (m_clusters[c].order != static_cast<int>(order) || m_clusters[c].used + nr > m_cluster_slots) continue;
        if (auto off = alloc_in_cluster(c, nr)) {
            m_current[order] = c;
            return off;
        }
    }
    // A free cluster becomes this order's.
    if (!m_free_clusters.empty()) {
        const std::uint64_t c = *m_free_clusters.begin();
        m_free_clusters.erase(m_free_clusters.begin());
        m_clusters[c].order = static_cast<int>(order);
        m_current[order] = c;
        return alloc_in_cluster(c, nr);
    }
    // Order 0 falls back to any free slot (the fragmented clusters of other orders).
    if (order == 0)
        for (std::uint64_t c = 0; c < m_clusters.size(); ++c)
            if (m_clusters[c].used < m_cluster_slots)
                if (auto off = alloc_in_cluster(c, 1)) return off;
    return std::nullopt;
}

void SwapInfo::release(std::uint64_t offset) {
    Cluster& c = m_clusters[offset / m_cluster_slots];
    --c.used;
    --m_used;
    if (c.used == 0) {
        c.order = -1;
        m_free_clusters.insert(offset / m_cluster_slots);
    }
}

std::vector<std::uint64_t> SwapInfo::put(std::uint64_t offset, std::uint64_t nr) {
    std::vector<std::uint64_t> uncache;
    for (std::uint64_t i = 0; i < nr; ++i) {
        const std::uint64_t off = offset + i;
        const auto it = m_count.find(off);
        if (it == m_count.end()) continue;
        if (--it->second != 0) continue;
        m_count.erase(it);
        if (m_cache_flag.count(off) == 0) {
            release(off);
            continue;
        }
        const auto cached = m_cache.find(off);
        if (cached != m_cache.end()) uncache.push_back(cached->second);
    }
    return uncache;
}

std::optional<std::uint64_t> SwapInfo::cache_lookup(std::uint64_t offset) const {
    const auto it = m_cache.find(offset);
    if (it == m_cache.end()) return std::nullopt;
    return it->second;
}

void SwapInfo::cache_add(std::uint64_t offset, std::uint64_t pfn) {
    m_cache_flag.insert(offset);
    m_cache[offset] = pfn;
}

void SwapInfo::cache_remove(std::uint64_t offset, std::uint64_t nr) {
    for (std::uint64_t i = 0; i < nr; ++i) {
        const std::uint64_t off = offset + i;
        m_cache.erase(off);
        if (m_cache_flag.erase(off) == 0) continue;
        if (count(off) == 0) release(off);
    }
}

}  // namespace mmusim::kernel
