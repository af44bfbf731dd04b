// What the cores, their MMUs and the kernel of a multi-core run share about each other's
// progress in simulated time. Owned by the Platform; single-core runs have none.
//
// Cores run loosely timed, each up to a quantum ahead of SystemC time. When a core inside the
// kernel reaches a point where other cores could observe its page tables half-way through an
// operation (a DSB of inner-shareable maintenance), it waits until its own local time; the
// others then run up to that time and see the tables as they are at that point. While such a
// "window" is open, a core that reaches the window's end stops and synchronises, so it sees
// the transient state only for the accesses that fall inside the window, and its MMU checks
// each TLB hit against the descriptor in memory to count stale entries.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <systemc>

namespace mmusim {

struct SmpState {
    explicit SmpState(unsigned thread_count) {
        for (unsigned i = 0; i < thread_count; ++i) {
            started.push_back(i == 0);
            start_events.push_back(std::make_unique<sc_core::sc_event>());
        }
    }

    // The kernel window: open while a core inside the kernel waits at a synchronisation point.
    bool window_open = false;
    sc_core::sc_time window_end;  // absolute simulated time at which the waiting core resumes
    unsigned window_core = 0;     // the core that opened it

    // Threads created by a `spawn` of the script (thread 0 runs from the start).
    std::vector<bool> started;
    std::vector<std::unique_ptr<sc_core::sc_event>> start_events;

    // Starts `thread` `after` the current SystemC time (the spawning core's local offset).
    void start_thread(unsigned thread, const sc_core::sc_time& after) {
        if (thread >= started.size() || started[thread]) return;
        started[thread] = true;
        start_events[thread]->notify(after);
    }
};

}  // namespace mmusim
