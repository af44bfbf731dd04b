#include "models/memory/phys_mem.h"

#include <cstring>

#include "models/common/cycles.h"
#include "models/memory/atomic_ext.h"
#include "models/memory/walker_access_ext.h"

namespace mmusim::memory {

PhysMem::PhysMem(sc_core::sc_module_name name, std::uint64_t read_latency, const CacheHierarchyConfig& caches)
    : sc_core::sc_module(name), socket("socket"),
      m_latency(cycles_to_time(read_latency)) {
    socket.register_b_transport(this, &PhysMem::b_transport);
    socket.register_transport_dbg(this, &PhysMem::transport_dbg);
    if (caches.enabled) {
        m_caches = std::make_unique<CacheHierarchy>(caches);
        for (unsigned level = 0; level < kCacheLevelCount; ++level)
            m_level_latency[level] = cycles_to_time(m_caches->latency(static_cast<CacheLevel>(level)));
    }
}

unsigned PhysMem::transport_dbg(int /*initiator*/, tlm::tlm_generic_payload& trans) {
    const std::uint64_t pa = trans.get_address();
    const unsigned length = trans.get_data_length();
    if ((pa & 7) != 0 || (length & 7) != 0) return 0;
    if (m_caches != nullptr && trans.is_write()) m_caches->kernel_store(pa, length);
    for (unsigned off = 0; off < length; off += 8) {
        if (trans.is_read()) {
            const std::uint64_t value = peek(pa + off);
            std::memcpy(trans.get_data_ptr() + off, &value, 8);
        } else {
            std::uint64_t value = 0;
            std::memcpy(&value, trans.get_data_ptr() + off, 8);
            // Untouched memory reads as zero, so clearing need not create storage.
            if (value != 0 || m_pages.count((pa + off) >> kPageShift) != 0) poke(pa + off, value);
            else log_store(pa + off, 0, 0);
        }
    }
    return length;
}

std::uint64_t* PhysMem::word(std::uint64_t pa, bool create) {
    const std::uint64_t frame = pa >> kPageShift;
    auto it = m_pages.find(frame);
    if (it == m_pages.end()) {
        if (!create) return nullptr;
        it = m_pages.emplace(frame, std::make_unique<Page>()).first;
    }
    return &it->second->words[(pa >> 3) & (kWordsPerPage - 1)];
}

std::uint64_t PhysMem::peek(std::uint64_t pa) const {
    auto it = m_pages.find(pa >> kPageShift);
    return it == m_pages.end() ? 0 : it->second->words[(pa >> 3) & (kWordsPerPage - 1)];
}

void PhysMem::poke(std::uint64_t pa, std::uint64_t value) {
    std::uint64_t* w = word(pa, true);
    log_store(pa, *w, value);
    *w = value;
}

const std::uint64_t* PhysMem::page_words(std::uint64_t pa) const {
    const auto it = m_pages.find(pa >> kPageShift);
    return it == m_pages.end() ? nullptr : it->second->words;
}

void PhysMem::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    const std::uint64_t pa = trans.get_address();
    if (trans.get_data_length() != 8 || (pa & 7) != 0) {
        trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
        return;
    }
    AtomicExt* atomic = nullptr;
    trans.get_extension(atomic);
    WalkerAccessExt* walker = nullptr;
    trans.get_extension(walker);
    if (atomic != nullptr) {
        std::uint64_t* w = word(pa, true);
        atomic->old = *w;
        atomic->stored = atomic->op == AtomicExt::Op::Exchange || *w == atomic->expected;
        if (atomic->stored) {
            if (walker == nullptr) log_store(pa, *w, atomic->value);
            *w = atomic->value;
        }
    } else if (trans.is_read()) {
        const std::uint64_t* w = word(pa, false);
        const std::uint64_t value = w ? *w : 0;
        std::memcpy(trans.get_data_ptr(), &value, 8);
    } else if (trans.is_write()) {
        std::uint64_t* w = word(pa, true);
        if (walker == nullptr && m_log_on) {
            std::uint64_t value = 0;
            std::memcpy(&value, trans.get_data_ptr(), 8);
            log_store(pa, *w, value);
        }
        std::memcpy(w, trans.get_data_ptr(), 8);
    } else {
        trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
        return;
    }
    const bool store = atomic != nullptr || trans.is_write();
    if (m_caches == nullptr) {
        if (walker != nullptr) walker->served = CacheLevel::None;
        delay += m_latency;
    } else if (walker != nullptr) {
        walker->served = m_caches->walker_access(walker->core, pa, store);
        delay += m_level_latency[static_cast<unsigned>(walker->served)];
    } else {
        if (store) m_caches->kernel_store(pa, 8);
        delay += m_latency;
    }
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace mmusim::memory
