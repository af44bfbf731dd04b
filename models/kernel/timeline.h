// A recorder of the kernel model's events in simulated time, written as a Chrome trace-event
// file (the "JSON Object Format" that ui.perfetto.dev and chrome://tracing open): each core's
// kernel calls as spans, the contpte converts and lazy MMU sections inside them as nested
// spans, and each TLBI and barrier as an instant.
//
// The run owns the recorder and hands it to the Kernel; every event site is one line that
// tests a pointer, so a run without a timeline pays nothing more. A new kind of span is one
// line too, e.g. `const TimelineSpan span(m_flush.timeline(), "fold_scan", {TimelineArg::hex("va", va)});`.
//
// Time: a point inside a core's kernel call is at the SystemC time + the core's local time
// offset + the call's time not yet synchronised (the expression the Kernel uses at its
// observable points). Work outside a core's call (set-up, a kernel thread) goes on a track of
// its own, "kernel", at the SystemC time + the kernel's pending delay.
//
// At most `cap` events are recorded (metadata aside), in the order they happen in the run;
// past it, events are only counted. Output is sorted by time, then track, then that order.
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <systemc>

#include "models/arch/tlbi.h"
#include "models/kernel/kernel_stats.h"

namespace mmusim::kernel {

struct KernelCallExt;

// One argument of an event: a key and a number (written as a decimal or as a hex string) or
// a string.
struct TimelineArg {
    enum class Kind : std::uint8_t { Unsigned, Hex, String };
    const char* key;
    std::uint64_t number = 0;
    std::string_view text{};
    Kind kind = Kind::Unsigned;

    static TimelineArg num(const char* key, std::uint64_t value) { return {key, value, {}, Kind::Unsigned}; }
    static TimelineArg hex(const char* key, std::uint64_t value) { return {key, value, {}, Kind::Hex}; }
    static TimelineArg str(const char* key, std::string_view value) { return {key, 0, value, Kind::String}; }
};

class Timeline {
public:
    using Args = std::initializer_list<TimelineArg>;
    using Span = std::uint32_t;  // a span being recorded, or kNoSpan when it was not recorded
    static constexpr Span kNoSpan = ~Span{0};

    explicit Timeline(std::uint64_t cap);
    Timeline(const Timeline&) = delete;
    Timeline& operator=(const Timeline&) = delete;

    // The metadata: the process name ("mmusim CONFIG") and the cores named "core N".
    void set_process_name(std::string name) { m_process_name = std::move(name); }
    // By the Kernel: the time of its current call, the part of it already synchronised, and
    // the number of cores (the track after the last core's is "kernel").
    void attach(const sc_core::sc_time* kernel_delay, const sc_core::sc_time* synced, unsigned cores);

    // A core's kernel call: `call_arrive` as it reaches the kernel (it may then wait for
    // another core's call: that wait is a "lock_wait" span naming the holder's core), and
    // `call_begin` once it holds the kernel, with the core's local time offset (watched until
    // `call_end`).
    void call_arrive(unsigned core, const sc_core::sc_time& delay);
    void call_begin(unsigned core, const sc_core::sc_time& delay);
    // An argument of the call known only inside it (the fault handler's path).
    void call_arg(const TimelineArg& arg);
    // Ends the call's span, named after its operation kind as kernel.by_op counts it.
    void call_end(const KernelCallExt& call);

    // Spans and instants at the current point of the kernel.
    Span begin(std::string_view name, Args args = {});
    void end(Span span);
    // A span closed by the matching pop (last in, first out): sections whose end is in
    // another function than their start.
    void push(std::string_view name, Args args = {});
    void pop();
    void instant(std::string_view name, Args args = {});
    void tlbi(arch::TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl);
    void barrier(Barrier b);

    std::uint64_t cap() const { return m_cap; }
    std::uint64_t recorded() const { return m_events.size(); }
    std::uint64_t dropped() const { return m_dropped; }

    // The whole file. `other` is written into "otherData" first (a JSON object's members,
    // e.g. "\"config\":\"x.json\""; empty for none), then the cap and truncation.
    void write(std::ostream& out, const std::string& other = {}) const;

    // Simulated time in picoseconds as microseconds, exactly: 1234567 -> "1.234567".
    static std::string microseconds(std::uint64_t ps);

private:
    struct Event {
        std::uint64_t ts = 0;   // ps
        std::uint64_t dur = 0;  // ps, spans
        std::uint32_t name = 0;
        std::uint32_t args = 0;  // first argument in m_args
        std::uint16_t tid = 0;
        std::uint8_t nargs = 0;
        char ph = 'i';
    };
    struct StoredArg {
        std::uint64_t value = 0;  // a number, or a string's id
        std::uint32_t key = 0;
        TimelineArg::Kind kind = TimelineArg::Kind::Unsigned;
    };

    std::uint64_t now_ps() const;
    std::uint16_t tid() const;
    std::uint32_t intern(std::string_view text);
    // Records an event now (false past the cap, counting it as dropped).
    bool record(char ph, std::uint64_t ts, std::uint32_t name, Args args);
    StoredArg store(const TimelineArg& arg);
    void add_args(Event& e, const StoredArg* first, std::size_t count);
    void write_args(std::ostream& out, const Event& e) const;

    std::uint64_t m_cap;
    std::uint64_t m_dropped = 0;
    std::vector<Event> m_events;
    std::vector<StoredArg> m_args;
    std::deque<std::string> m_strings;  // interned names, keys and string values (stable)
    std::unordered_map<std::string_view, std::uint32_t> m_ids;
    std::vector<std::uint32_t> m_tlbi_names;
    std::vector<std::uint32_t> m_barrier_names;
    std::string m_process_name = "mmusim";
    unsigned m_cores = 1;
    bool m_background_used = false;  // an event went on the "kernel" track

    // The clock.
    const sc_core::sc_time* m_kernel_delay = nullptr;
    const sc_core::sc_time* m_synced = nullptr;
    const sc_core::sc_time* m_call_delay = nullptr;  // during a core's call
    unsigned m_call_core = 0;
    Span m_call = kNoSpan;
    std::vector<StoredArg> m_call_args;  // from call_arg, added at call_end
    std::vector<Span> m_stack;
    struct Arrival {
        std::uint64_t ts = 0;  // when the core's current call reached the kernel
        unsigned holder = 0;   // the core whose call held the kernel then
    };
    std::vector<Arrival> m_arrival;  // per core
};

// A span from construction to destruction; nothing at all when the timeline is null.
class TimelineSpan {
public:
    TimelineSpan(Timeline* timeline, std::string_view name, Timeline::Args args = {}) : m_timeline(timeline) {
        if (timeline != nullptr) m_span = timeline->begin(name, args);
    }
    ~TimelineSpan() {
        if (m_timeline != nullptr) m_timeline->end(m_span);
    }
    TimelineSpan(const TimelineSpan&) = delete;
    TimelineSpan& operator=(const TimelineSpan&) = delete;

private:
    Timeline* m_timeline;
    Timeline::Span m_span = Timeline::kNoSpan;
};

}  // namespace mmusim::kernel
