#include "models/kernel/timeline.h"

#include <algorithm>
#include <cstdio>

#include "models/arch/fault.h"
#include "models/kernel/kernel_call_ext.h"
#include "models/kernel/kernel_context.h"

namespace mmusim::kernel {

namespace {

std::uint64_t to_ps(const sc_core::sc_time& t) { return t.value(); }  // default resolution: 1 ps

// The JSON text of a string, quotes included.
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char esc[8];
                    std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += esc;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

bool tlbi_has_va(arch::TlbiOp op) {
    return op != arch::TlbiOp::ASIDE1IS && op != arch::TlbiOp::ASIDE1 && op != arch::TlbiOp::VMALLE1IS;
}

bool tlbi_has_asid(arch::TlbiOp op) {
    return op != arch::TlbiOp::VAALE1IS && op != arch::TlbiOp::RVAALE1IS && op != arch::TlbiOp::VMALLE1IS;
}

}  // namespace

Timeline::Timeline(std::uint64_t cap) : m_cap(cap) {
    m_events.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(cap, 4096)));
    intern("");  // id 0: the name of a call's span until its end names it
    for (unsigned i = 0; i < arch::kTlbiOpCount; ++i)
        m_tlbi_names.push_back(intern("TLBI " + std::string(arch::tlbi_name(static_cast<arch::TlbiOp>(i)))));
    for (unsigned i = 0; i < static_cast<unsigned>(Barrier::Count); ++i)
        m_barrier_names.push_back(intern(barrier_name(static_cast<Barrier>(i))));
}

void Timeline::attach(const sc_core::sc_time* kernel_delay, const sc_core::sc_time* synced, unsigned cores) {
    m_kernel_delay = kernel_delay;
    m_synced = synced;
    m_cores = cores;
}

std::uint64_t Timeline::now_ps() const {
    sc_core::sc_time t = sc_core::sc_time_stamp();
    if (m_call_delay != nullptr) t += *m_call_delay;
    if (m_kernel_delay != nullptr) t += *m_kernel_delay - *m_synced;
    return to_ps(t);
}

std::uint16_t Timeline::tid() const {
    return static_cast<std::uint16_t>(m_call_delay != nullptr ? m_call_core : m_cores);
}

std::uint32_t Timeline::intern(std::string_view text) {
    const auto it = m_ids.find(text);
    if (it != m_ids.end()) return it->second;
    const auto id = static_cast<std::uint32_t>(m_strings.size());
    m_strings.emplace_back(text);
    m_ids.emplace(m_strings.back(), id);
    return id;
}

Timeline::StoredArg Timeline::store(const TimelineArg& arg) {
    StoredArg s;
    s.key = intern(arg.key);
    s.kind = arg.kind;
    s.value = arg.kind == TimelineArg::Kind::String ? intern(arg.text) : arg.number;
    return s;
}

void Timeline::add_args(Event& e, const StoredArg* first, std::size_t count) {
    if (count == 0) return;
    if (e.nargs == 0) {
        e.args = static_cast<std::uint32_t>(m_args.size());
    } else if (e.args + e.nargs != m_args.size()) {
        // Other events' arguments came after this one's: move its own to the end first.
        const std::uint32_t from = e.args;
        e.args = static_cast<std::uint32_t>(m_args.size());
        for (unsigned i = 0; i < e.nargs; ++i) {
            const StoredArg a = m_args[from + i];
            m_args.push_back(a);
        }
    }
    m_args.insert(m_args.end(), first, first + count);
    e.nargs = static_cast<std::uint8_t>(e.nargs + count);
}

bool Timeline::record(char ph, std::uint64_t ts, std::uint32_t name, Args args) {
    if (m_events.size() >= m_cap) {
        ++m_dropped;
        return false;
    }
    Event e;
    e.ts = ts;
    e.name = name;
    e.tid = tid();
    e.ph = ph;
    if (e.tid == m_cores) m_background_used = true;
    StoredArg stored[8];
    std::size_t n = 0;
    for (const TimelineArg& a : args)
        if (n < 8) stored[n++] = store(a);
    add_args(e, stored, n);
    m_events.push_back(e);
    return true;
}

void Timeline::call_arrive(unsigned core, const sc_core::sc_time& delay) {
    if (m_arrival.size() <= core) m_arrival.resize(core + 1);
    m_arrival[core] = Arrival{to_ps(sc_core::sc_time_stamp() + delay), m_call_delay != nullptr ? m_call_core : core};
}

void Timeline::call_begin(unsigned core, const sc_core::sc_time& delay) {
    m_call_delay = &delay;
    m_call_core = core;
    m_call_args.clear();
    const std::uint64_t now = now_ps();
    if (core < m_arrival.size() && m_arrival[core].ts < now) {
        // The call waited for another core's call to leave the kernel.
        const Arrival& a = m_arrival[core];
        if (record('X', a.ts, intern("lock_wait"), {TimelineArg::num("holder", a.holder)})) m_events.back().dur = now - a.ts;
    }
    m_call = record('X', now, 0, {}) ? static_cast<Span>(m_events.size() - 1) : kNoSpan;
}

void Timeline::call_arg(const TimelineArg& arg) {
    if (m_call != kNoSpan) m_call_args.push_back(store(arg));
}

void Timeline::call_end(const KernelCallExt& call) {
    // Sections left open by an error that unwound the call end with it.
    while (!m_stack.empty()) pop();
    if (m_call != kNoSpan) {
        Event& e = m_events[m_call];
        e.dur = now_ps() - e.ts;
        std::vector<StoredArg> args;
        args.push_back(store(TimelineArg::num("process", call.process)));
        switch (call.kind) {
            case KernelCallExt::Kind::PageFault:
                e.name = intern("fault");
                args.push_back(store(TimelineArg::hex("va", call.va)));
                args.push_back(store(TimelineArg::str("access", arch::access_name(call.access))));
                args.push_back(store(TimelineArg::str("kind", arch::fault_kind_name(call.fault))));
                args.push_back(store(TimelineArg::num("level", call.level)));
                break;
            case KernelCallExt::Kind::Syscall: {
                const Syscall& s = *call.syscall;
                e.name = intern(op_name(s));  // the operation kind of kernel.by_op
                if (s.op == SyscallOp::Fork || s.op == SyscallOp::Spawn) {
                    args.push_back(store(TimelineArg::num("child", s.child)));
                } else if (s.op == SyscallOp::KernelMap) {
                    args.push_back(store(TimelineArg::num("pages", s.pages)));
                } else if (s.op != SyscallOp::Exit) {
                    args.push_back(store(TimelineArg::hex("addr", s.addr)));
                    args.push_back(store(TimelineArg::hex("len", s.len)));
                }
                if (call.error.empty()) args.push_back(store(TimelineArg::str("result", err::name(call.result))));
                break;
            }
            case KernelCallExt::Kind::ContextSwitch: e.name = intern("context_switch"); break;
            case KernelCallExt::Kind::FoldScan: e.name = intern("fold_scan"); break;
        }
        args.insert(args.end(), m_call_args.begin(), m_call_args.end());
        if (!call.error.empty()) args.push_back(store(TimelineArg::str("error", call.error)));
        add_args(m_events[m_call], args.data(), args.size());
    }
    m_call = kNoSpan;
    m_call_delay = nullptr;
    m_call_args.clear();
}

Timeline::Span Timeline::begin(std::string_view name, Args args) {
    return record('X', now_ps(), intern(name), args) ? static_cast<Span>(m_events.size() - 1) : kNoSpan;
}

void Timeline::end(Span span) {
    if (span == kNoSpan) return;
    Event& e = m_events[span];
    e.dur = now_ps() - e.ts;
}

void Timeline::push(std::string_view name, Args args) { m_stack.push_back(begin(name, args)); }

void Timeline::pop() {
    if (m_stack.empty()) return;
    end(m_stack.back());
    m_stack.pop_back();
}

void Timeline::instant(std::string_view name, Args args) { record('i', now_ps(), intern(name), args); }

void Timeline::tlbi(arch::TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl) {
    TimelineArg args[4];
    std::size_t n = 0;
    if (tlbi_has_va(op)) args[n++] = TimelineArg::hex("va", va);
    if (arch::tlbi_is_range(op)) args[n++] = TimelineArg::hex("len", bytes);
    if (tlbi_has_asid(op)) args[n++] = TimelineArg::num("asid", asid);
    if (ttl != 0) args[n++] = TimelineArg::num("level", ttl);
    const std::uint32_t name = m_tlbi_names[static_cast<std::size_t>(op)];
    switch (n) {
        case 0: record('i', now_ps(), name, {}); break;
        case 1: record('i', now_ps(), name, {args[0]}); break;
        case 2: record('i', now_ps(), name, {args[0], args[1]}); break;
        case 3: record('i', now_ps(), name, {args[0], args[1], args[2]}); break;
        default: record('i', now_ps(), name, {args[0], args[1], args[2], args[3]}); break;
    }
}

void Timeline::barrier(Barrier b) { record('i', now_ps(), m_barrier_names[static_cast<std::size_t>(b)], {}); }

std::string Timeline::microseconds(std::uint64_t ps) {
    std::string text = std::to_string(ps / 1000000);
    std::uint64_t frac = ps % 1000000;
    if (frac == 0) return text;
    char digits[8];
    std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(frac));
    std::string f = digits;
    while (f.back() == '0') f.pop_back();
    return text + "." + f;
}

void Timeline::write_args(std::ostream& out, const Event& e) const {
    if (e.nargs == 0) return;
    out << ",\"args\":{";
    for (unsigned i = 0; i < e.nargs; ++i) {
        const StoredArg& a = m_args[e.args + i];
        if (i != 0) out << ',';
        out << json_string(m_strings[a.key]) << ':';
        switch (a.kind) {
            case TimelineArg::Kind::Unsigned: out << a.value; break;
            case TimelineArg::Kind::Hex: {
                char hex[24];
                std::snprintf(hex, sizeof hex, "\"0x%llx\"", static_cast<unsigned long long>(a.value));
                out << hex;
                break;
            }
            case TimelineArg::Kind::String: out << json_string(m_strings[a.value]); break;
        }
    }
    out << '}';
}

void Timeline::write(std::ostream& out, const std::string& other) const {
    std::vector<std::uint32_t> order(m_events.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [this](std::uint32_t a, std::uint32_t b) {
        const Event& x = m_events[a];
        const Event& y = m_events[b];
        if (x.ts != y.ts) return x.ts < y.ts;
        if (x.tid != y.tid) return x.tid < y.tid;
        return a < b;  // the order they happened in: a span before what it holds
    });
    std::vector<std::string> names;
    names.reserve(m_strings.size());
    for (const std::string& s : m_strings) names.push_back(json_string(s));

    out << "{\"traceEvents\":[\n";
    const auto metadata = [&](const char* what, unsigned tid, const std::string& name) {
        out << "{\"name\":\"" << what << "\",\"ph\":\"M\",\"ts\":0,\"pid\":1,\"tid\":" << tid
            << ",\"args\":{\"name\":" << json_string(name) << "}}";
    };
    metadata("process_name", 0, m_process_name);
    for (unsigned c = 0; c < m_cores; ++c) {
        out << ",\n";
        metadata("thread_name", c, "core " + std::to_string(c));
    }
    if (m_background_used) {
        out << ",\n";
        metadata("thread_name", m_cores, "kernel");
    }
    for (const std::uint32_t i : order) {
        const Event& e = m_events[i];
        out << ",\n{\"name\":" << names[e.name] << ",\"ph\":\"" << e.ph << '"';
        if (e.ph == 'i') out << ",\"s\":\"t\"";
        out << ",\"ts\":" << microseconds(e.ts);
        if (e.ph == 'X') out << ",\"dur\":" << microseconds(e.dur);
        out << ",\"pid\":1,\"tid\":" << e.tid;
        write_args(out, e);
        out << '}';
    }
    out << "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{";
    if (!other.empty()) out << other << ',';
    out << "\"events\":" << m_events.size() << ",\"truncated\":" << (m_dropped != 0 ? "true" : "false")
        << ",\"events_dropped\":" << m_dropped << ",\"cap\":" << m_cap << "}}\n";
}

}  // namespace mmusim::kernel
