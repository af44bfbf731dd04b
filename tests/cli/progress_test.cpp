// The progress line: on a terminal it shows on stderr; with CI set, with --json, or on a file
// or pipe, stderr stays empty.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

struct TerminalRun {
    int exit_code = -1;
    std::string terminal;  // what reached the terminal: stderr only
    std::string out;       // stdout, sent to a file
};

// Runs mmusim with stderr on a pseudo-terminal and stdout into a file. `ci` is the value of
// the environment variable CI, or nullptr to unset it.
TerminalRun run_on_terminal(const std::vector<std::string>& args, const fs::path& cwd, const char* ci) {
    TerminalRun r;
    ExecArgs exec(args);
    const std::string where = cwd.string();
    const std::string out_file = (cwd.parent_path() / (cwd.filename().string() + ".stdout")).string();

    int master = -1;
    const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid < 0) {
        ADD_FAILURE() << "forkpty failed";
        return r;
    }
    if (pid == 0) {
        if (ci == nullptr) unsetenv("CI");
        else setenv("CI", ci, 1);
        const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || chdir(where.c_str()) != 0 || dup2(out, 1) < 0) _exit(126);
        execv(exec.program(), exec.argv());
        _exit(127);
    }
    char buffer[4096];
    for (;;) {
        const ssize_t n = read(master, buffer, sizeof buffer);
        if (n > 0) r.terminal.append(buffer, static_cast<std::size_t>(n));
        else if (n < 0 && errno == EINTR) continue;
        else break;  // EIO once the child has closed the terminal
    }
    close(master);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(out_file);
    fs::remove(out_file);
    return r;
}

class ProgressLine : public ::testing::Test {
protected:
    void SetUp() override { write_json(dir / "gen.json", generator_config(2000000)); }
    ScratchDir dir;
};

TEST_F(ProgressLine, RunShowsRecordsOnATerminal) {
    const TerminalRun r = run_on_terminal({"run", "gen.json", "--out", "out"}, dir.path(), nullptr);
    ASSERT_EQ(r.exit_code, 0) << r.terminal;
    EXPECT_NE(r.terminal.find("\rmmusim: "), std::string::npos) << r.terminal;
    EXPECT_NE(r.terminal.find("/2.0M records ("), std::string::npos) << r.terminal;  // the total of the generator
    EXPECT_NE(r.terminal.find(" records/s"), std::string::npos) << r.terminal;
    // The line is cleared at the end: nothing of it stays before the summary on stdout.
    EXPECT_GE(r.terminal.size(), 4u);
    EXPECT_EQ(r.terminal.substr(r.terminal.size() - 4), "\r\033[K");
    EXPECT_EQ(r.terminal.find('\n'), std::string::npos);
    EXPECT_NE(r.out.find("records 2000000"), std::string::npos) << r.out;
}

TEST_F(ProgressLine, SweepShowsPointsOnATerminal) {
    const TerminalRun r =
        run_on_terminal({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "-j", "1", "--out", "sw"}, dir.path(), "");
    ASSERT_EQ(r.exit_code, 0) << r.terminal;
    EXPECT_NE(r.terminal.find("\rmmusim sweep: 0/2 points, 1 running"), std::string::npos) << r.terminal;
    EXPECT_EQ(r.terminal.substr(r.terminal.size() - 4), "\r\033[K");
    EXPECT_EQ(r.out, "2 points: 2 run, 0 reused; results: sw/results.csv, sw/results.json\n");
}

TEST_F(ProgressLine, NothingWhenCiIsSet) {
    const TerminalRun r = run_on_terminal({"run", "gen.json", "--out", "out"}, dir.path(), "true");
    ASSERT_EQ(r.exit_code, 0) << r.terminal;
    EXPECT_EQ(r.terminal, "");
    const TerminalRun s = run_on_terminal({"sweep", "gen.json", "--grid", "seed=1,2", "--out", "sw"}, dir.path(), "true");
    ASSERT_EQ(s.exit_code, 0) << s.terminal;
    EXPECT_EQ(s.terminal, "");
}

TEST_F(ProgressLine, NothingWithJson) {
    const TerminalRun r = run_on_terminal({"run", "gen.json", "--out", "out", "--json"}, dir.path(), nullptr);
    ASSERT_EQ(r.exit_code, 0) << r.terminal;
    EXPECT_EQ(r.terminal, "");
    EXPECT_EQ(r.out, read_text(dir / "out/stats.json"));
    const TerminalRun s = run_on_terminal({"sweep", "gen.json", "--grid", "seed=1,2", "--out", "sw", "--json"}, dir.path(), nullptr);
    ASSERT_EQ(s.exit_code, 0) << s.terminal;
    EXPECT_EQ(s.terminal, "");
}

TEST_F(ProgressLine, NothingOnAFile) {
    // run_mmusim sends stderr to a file, as a pipe or a redirect would.
    const CliResult r = run_mmusim({"run", "gen.json", "--out", "out"}, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const CliResult s = run_mmusim({"sweep", "gen.json", "--grid", "seed=1,2", "--out", "sw"}, dir.path());
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_EQ(s.err, "");
}

}  // namespace
}  // namespace mmusim::cli_test
