// Child processes of this program (the points of a sweep): started with posix_spawn, stdout to
// /dev/null and stderr to a file, and waited for with a timeout so that a progress line can
// go on while they run.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace mmusim::sim {

// The path of the running executable (/proc/self/exe).
std::string self_executable();

// How a child ended.
struct ChildEnd {
    pid_t pid = 0;
    bool exited = false;  // true: exited with `code`; false: killed by signal `code`
    int code = 0;

    bool ok() const { return exited && code == 0; }
    std::string text() const;  // "exited with status 1", "was killed by signal 9 (Killed)"
};

class Children {
public:
    // SIGCHLD is blocked while a Children exists, so that wait() can sleep until one ends.
    Children();
    // Waits for the children still running.
    ~Children();
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;

    // Runs `program` with `args` (args[0] is the program's name), stdin and stdout on
    // /dev/null and stderr into `stderr_path`. Returns the pid, or throws RunError.
    pid_t spawn(const std::string& program, const std::vector<std::string>& args, const std::string& stderr_path);

    // The children that ended, waiting up to `timeout_ms` for one when none has.
    std::vector<ChildEnd> wait(int timeout_ms);

    std::size_t running() const { return m_running.size(); }

private:
    std::set<pid_t> m_running;
    sigset_t m_old_mask;
};

}  // namespace mmusim::sim
