#include "workloads/script_source.h"

#include <algorithm>

namespace mmusim::workloads {

ScriptSource::ScriptSource(std::shared_ptr<const Script> script, std::uint64_t seed, unsigned thread)
    : m_script(std::move(script)),
      m_name((thread == 0 ? std::string("script") : "script thread " + std::to_string(thread)) + " (seed " +
             std::to_string(seed) + ")"),
      m_address_rng(derived_seed(seed, 2 * static_cast<int>(thread))),
      m_kind_rng(derived_seed(seed, 2 * static_cast<int>(thread) + 1)) {
    m_stack.reserve(kScriptMaxLoopDepth + 1);
    m_stack.push_back(Frame{thread == 0 ? &m_script->ops : &m_script->threads.at(thread - 1).ops, 0, 1});
}

const kernel::Syscall* ScriptSource::syscall(std::uint64_t index) const {
    return index < m_script->syscalls.size() ? &m_script->syscalls[static_cast<std::size_t>(index)] : nullptr;
}

std::size_t ScriptSource::next(Record* out, std::size_t max) {
    std::size_t n = 0;
    while (n < max) {
        if (m_access != nullptr) {
            n += emit_accesses(out + n, max - n);
            continue;
        }
        if (m_stack.empty()) break;
        Frame& frame = m_stack.back();
        if (frame.pos == frame.ops->size()) {
            if (--frame.passes_left != 0) frame.pos = 0;
            else m_stack.pop_back();
            continue;
        }
        const ScriptOp& op = (*frame.ops)[frame.pos++];
        switch (op.kind) {
            case ScriptOp::Kind::Kernel: {
                const kernel::Syscall& sc = m_script->syscalls[op.index];
                out[n++] = Record{op.index, 0, AccessKind::Kernel, static_cast<std::uint8_t>(sc.process)};
                break;
            }
            case ScriptOp::Kind::Access: start(m_script->accesses[op.index]); break;
            case ScriptOp::Kind::Checkpoint: out[n++] = Record{op.index, 0, AccessKind::Checkpoint, 0}; break;
            case ScriptOp::Kind::Loop:
                // `frame` is not used past this point: the push may move it.
                if (op.yields) m_stack.push_back(Frame{&op.body, 0, op.count});
                break;
        }
    }
    return n;
}

void ScriptSource::start(const ScriptAccess& access) {
    m_access = &access;
    m_access_left = access.count;
    m_usable = access.size - access.size % access.access_size;
    m_step = access.stride % m_usable;
    m_cursor = 0;
}

std::size_t ScriptSource::emit_accesses(Record* out, std::size_t max) {
    const ScriptAccess& a = *m_access;
    const std::uint64_t size = a.access_size;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, m_access_left));
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t offset;
        if (a.pattern == ScriptPattern::Random) {
            offset = uniform_below(m_address_rng, m_usable / size) * size;
        } else {
            offset = m_cursor - m_cursor % size;
            // (m_cursor + m_step) mod m_usable, without overflowing near 2^64.
            m_cursor = m_cursor >= m_usable - m_step ? m_cursor - (m_usable - m_step) : m_cursor + m_step;
        }
        out[i] = Record{a.base + offset, a.access_size, a.kind_count == 1 ? a.kinds[0] : next_kind(), a.process};
    }
    m_access_left -= n;
    if (m_access_left == 0) m_access = nullptr;
    return n;
}

AccessKind ScriptSource::next_kind() {
    const ScriptAccess& a = *m_access;
    const double u = uniform01(m_kind_rng);
    for (unsigned i = 0; i + 1 < a.kind_count; ++i)
        if (u < a.bounds[i]) return a.kinds[i];
    return a.kinds[a.kind_count - 1];
}

}  // namespace mmusim::workloads
