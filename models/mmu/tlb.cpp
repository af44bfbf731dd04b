#include "models/mmu/tlb.h"

#include <bit>
#include <stdexcept>

#include "models/arch/sizes.h"

namespace mmusim::mmu {

Tlb::Tlb(const TlbConfig& config) : m_config(config) {
    if (config.entries == 0 || config.ways == 0 || config.entries % config.ways != 0 || config.sizes.empty())
        throw std::invalid_argument("TLB " + config.name + ": invalid geometry");
    m_sets = config.entries / config.ways;
    for (std::uint64_t size : config.sizes) m_shifts.push_back(static_cast<std::uint8_t>(arch::log2_exact(size)));
    m_entries.resize(config.entries);
    // Load factor at most 1/2 keeps linear probes short.
    const unsigned bits = static_cast<unsigned>(std::bit_width(std::uint64_t{config.entries} * 2 - 1));
    m_index.assign(std::size_t{1} << bits, -1);
    m_hash_shift = 64 - bits;
}

std::uint32_t Tlb::set_of(std::uint64_t va, unsigned shift) const {
    return static_cast<std::uint32_t>((va >> shift) % m_sets);
}

std::int32_t Tlb::find(std::uint64_t key) const {
    const std::uint64_t mask = m_index.size() - 1;
    for (std::uint64_t slot = hash_slot(key);; slot = (slot + 1) & mask) {
        const std::int32_t e = m_index[slot];
        if (e < 0) return -1;
        if (m_entries[static_cast<std::size_t>(e)].key == key) return e;
    }
}

void Tlb::index_insert(std::uint64_t key, std::int32_t entry) {
    const std::uint64_t mask = m_index.size() - 1;
    std::uint64_t slot = hash_slot(key);
    while (m_index[slot] >= 0) slot = (slot + 1) & mask;
    m_index[slot] = entry;
}

// Linear-probing deletion with backward shift, so that no tombstones accumulate.
void Tlb::index_erase(std::uint64_t key) {
    const std::uint64_t mask = m_index.size() - 1;
    std::uint64_t slot = hash_slot(key);
    while (m_entries[static_cast<std::size_t>(m_index[slot])].key != key) slot = (slot + 1) & mask;
    std::uint64_t hole = slot;
    for (std::uint64_t next = (hole + 1) & mask; m_index[next] >= 0; next = (next + 1) & mask) {
        const std::uint64_t home = hash_slot(m_entries[static_cast<std::size_t>(m_index[next])].key);
        // Move `next` into the hole unless its home lies cyclically in (hole, next].
        const bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!stays) {
            m_index[hole] = m_index[next];
            hole = next;
        }
    }
    m_index[hole] = -1;
}

void Tlb::evict(TlbEntry& e) {
    index_erase(e.key);
    --m_size_count[e.shift];
    if (e.global()) --m_global_count;
    if (e.src_shift > e.shift) --m_fractured_count;
    e.key = TlbEntry::kInvalid;
}

void Tlb::erase_key(std::uint64_t key) {
    const std::int32_t e = find(key);
    if (e >= 0) evict(m_entries[static_cast<std::size_t>(e)]);
}

TlbLookup Tlb::lookup(std::uint64_t va, std::uint16_t asid, bool prefer_smallest) {
    TlbLookup result;
    for (std::uint8_t shift : m_shifts) {
        if (m_size_count[shift] == 0) continue;
        const std::uint64_t vpn = va >> shift;
        for (int g = 0; g < (m_global_count != 0 ? 2 : 1); ++g) {
            const std::int32_t e = find(make_key(vpn, shift, asid, g == 1));
            if (e < 0) continue;
            TlbEntry* entry = &m_entries[static_cast<std::size_t>(e)];
            ++result.matches;
            if (result.entry == nullptr || (prefer_smallest && entry->shift < result.entry->shift))
                result.entry = entry;
        }
    }
    if (result.entry != nullptr) result.entry->lru = ++m_clock;
    return result;
}

bool Tlb::fill(std::uint64_t va, std::uint16_t asid, bool global, std::uint64_t source_size,
               std::uint64_t source_va, std::uint64_t source_pa, std::uint64_t desc, std::uint64_t desc_pa,
               unsigned level) {
    int best = -1;
    for (std::size_t i = 0; i < m_shifts.size(); ++i) {
        const std::uint64_t size = std::uint64_t{1} << m_shifts[i];
        if (size <= source_size && (best < 0 || m_shifts[i] > m_shifts[static_cast<std::size_t>(best)]))
            best = static_cast<int>(i);
    }
    if (best < 0) return false;
    const unsigned shift = m_shifts[static_cast<std::size_t>(best)];
    const std::uint64_t region = va & ~((std::uint64_t{1} << shift) - 1);
    const std::uint64_t key = make_key(va >> shift, shift, asid, global);

    TlbEntry* slot = nullptr;
    if (const std::int32_t existing = find(key); existing >= 0) {
        slot = &m_entries[static_cast<std::size_t>(existing)];
        if (slot->src_shift > slot->shift) --m_fractured_count;
    } else {
        TlbEntry* set = &m_entries[std::size_t{set_of(va, shift)} * m_config.ways];
        for (std::uint32_t w = 0; w < m_config.ways && slot == nullptr; ++w)
            if (!set[w].valid()) slot = &set[w];
        if (slot == nullptr) {
            slot = &set[0];
            for (std::uint32_t w = 1; w < m_config.ways; ++w)
                if (set[w].lru < slot->lru) slot = &set[w];
            evict(*slot);
        }
        slot->key = key;
        slot->shift = static_cast<std::uint8_t>(shift);
        index_insert(key, static_cast<std::int32_t>(slot - m_entries.data()));
        ++m_size_count[shift];
        if (global) ++m_global_count;
    }
    slot->pa = source_pa + (region - source_va);
    slot->desc = desc;
    slot->desc_pa = desc_pa;
    slot->level = static_cast<std::uint8_t>(level);
    slot->src_shift = static_cast<std::uint8_t>(arch::log2_exact(source_size));
    if (slot->src_shift > slot->shift) ++m_fractured_count;
    slot->lru = ++m_clock;
    return true;
}

void Tlb::invalidate_va(std::uint64_t va, std::uint16_t asid, bool asid_match) {
    if (!asid_match || m_fractured_count != 0) {
        invalidate_range(va, va + 1, asid, false);
        return;
    }
    for (std::uint8_t shift : m_shifts) {
        if (m_size_count[shift] == 0) continue;
        erase_key(make_key(va >> shift, shift, asid, false));
        if (m_global_count != 0) erase_key(make_key(va >> shift, shift, asid, true));
    }
}

void Tlb::invalidate_range(std::uint64_t start, std::uint64_t end, std::uint16_t asid, bool asid_match) {
    if (end <= start) return;
    // Probe region by region when that is cheaper than looking at every entry.
    std::uint64_t probes = 0;
    for (std::uint8_t shift : m_shifts)
        if (m_size_count[shift] != 0) probes += ((end - 1) >> shift) - (start >> shift) + 1;
    if (asid_match && m_fractured_count == 0 && probes <= m_config.entries) {
        for (std::uint8_t shift : m_shifts) {
            if (m_size_count[shift] == 0) continue;
            for (std::uint64_t vpn = start >> shift; vpn <= (end - 1) >> shift; ++vpn) {
                erase_key(make_key(vpn, shift, asid, false));
                if (m_global_count != 0) erase_key(make_key(vpn, shift, asid, true));
            }
        }
        return;
    }
    for (TlbEntry& e : m_entries) {
        if (!e.valid()) continue;
        const bool overlaps = e.source_region() < end && e.source_region() + e.source_size() > start;
        if (overlaps && (!asid_match || e.global() || e.asid() == asid)) evict(e);
    }
}

void Tlb::invalidate_asid(std::uint16_t asid) {
    for (TlbEntry& e : m_entries)
        if (e.valid() && !e.global() && e.asid() == asid) evict(e);
}

void Tlb::invalidate_all() {
    for (TlbEntry& e : m_entries)
        if (e.valid()) evict(e);
}

std::uint32_t Tlb::valid_entries() const {
    std::uint32_t n = 0;
    for (const TlbEntry& e : m_entries) n += e.valid() ? 1 : 0;
    return n;
}

}  // namespace mmusim::mmu
