#include "sim/child_process.h"

#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "sim/run.h"

extern char** environ;

namespace mmusim::sim {

std::string self_executable() {
    std::string path(4096, '\0');
    const ssize_t n = readlink("/proc/self/exe", path.data(), path.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= path.size())
        throw RunError(std::string("cannot find the running executable (/proc/self/exe: ") + std::strerror(errno) + ")");
    path.resize(static_cast<std::size_t>(n));
    return path;
}

std::string ChildEnd::text() const {
    if (exited) return "exited with status " + std::to_string(code);
    return "was killed by signal " + std::to_string(code) + " (" + strsignal(code) + ")";
}

Children::Children() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &block, &m_old_mask);
}

Children::~Children() {
    for (const pid_t pid : m_running) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
}

pid_t Children::spawn(const std::string& program, const std::vector<std::string>& args, const std::string& stderr_path) {
    std::vector<std::string> storage = args;
    std::vector<char*> argv;
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // The child starts with no signal blocked (SIGCHLD is blocked here).
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw RunError(program + ": cannot be started (" + std::strerror(rc) + ")");
    m_running.insert(pid);
    return pid;
}

std::vector<ChildEnd> Children::wait(int timeout_ms) {
    std::vector<ChildEnd> ended;
    for (int round = 0; round < 2; ++round) {
        for (auto it = m_running.begin(); it != m_running.end();) {
            int status = 0;
            const pid_t r = waitpid(*it, &status, WNOHANG);
            if (r == *it) {
                ChildEnd end;
                end.pid = r;
                end.exited = WIFEXITED(status);
                end.code = end.exited ? WEXITSTATUS(status) : WTERMSIG(status);
                ended.push_back(end);
                it = m_running.erase(it);
            } else {
                ++it;
            }
        }
        if (!ended.empty() || m_running.empty() || round == 1) break;
        // Nothing ended yet: sleep until a SIGCHLD (it stays pending while blocked, so one that
        // came after the waitpid calls above still wakes this) or the timeout.
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        timespec timeout{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
        sigtimedwait(&chld, nullptr, &timeout);
    }
    return ended;
}

}  // namespace mmusim::sim
