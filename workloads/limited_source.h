// A source that ends after a given number of records (workload.max_records).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "workloads/source.h"

namespace mmusim::workloads {

class LimitedSource : public Source {
public:
    LimitedSource(std::unique_ptr<Source> inner, std::uint64_t limit) : m_inner(std::move(inner)), m_left(limit) {}

    std::size_t next(Record* out, std::size_t max) override {
        if (m_left == 0) return 0;
        const std::size_t n = m_inner->next(out, static_cast<std::size_t>(std::min<std::uint64_t>(max, m_left)));
        m_left -= n;
        return n;
    }
    const std::string& name() const override { return m_inner->name(); }
    const kernel::Syscall* syscall(std::uint64_t index) const override { return m_inner->syscall(index); }
    const std::vector<TraceMapping>& initial_mappings() const override { return m_inner->initial_mappings(); }
    TraceArch arch() const override { return m_inner->arch(); }

private:
    std::unique_ptr<Source> m_inner;
    std::uint64_t m_left;
};

}  // namespace mmusim::workloads
