// Helpers for tests that run the mmusim executable itself: a scratch folder per test, a runner
// that captures the exit status, stdout and stderr, and checks of the error contract.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmusim::cli_test {

namespace fs = std::filesystem;

// What one invocation of mmusim did.
struct CliResult {
    std::string command;  // the command line, for failure messages
    int exit_code = -1;   // the exit status, or 128 + signal number if a signal ended it
    std::string out;      // everything written to stdout
    std::string err;      // everything written to stderr
};

// A fresh folder under testing::TempDir(), removed with everything in it at destruction.
class ScratchDir {
public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const fs::path& path() const { return m_path; }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

// The argument vector of MMUSIM_BINARY with `args`, as execv takes it: built before fork(), so
// that the child only reads it. Not copyable (the pointers point into the strings).
class ExecArgs {
public:
    explicit ExecArgs(const std::vector<std::string>& args);
    ExecArgs(const ExecArgs&) = delete;
    ExecArgs& operator=(const ExecArgs&) = delete;

    const char* program() const { return m_strings.front().c_str(); }
    char* const* argv() { return m_pointers.data(); }

private:
    std::vector<std::string> m_strings;
    std::vector<char*> m_pointers;  // into m_strings, then a null
};

// Runs MMUSIM_BINARY with `args` in the folder `cwd`; stdin is /dev/null.
CliResult run_mmusim(const std::vector<std::string>& args, const fs::path& cwd);

// `args` followed by one "--set KEY=VALUE" per entry of `sets`.
std::vector<std::string> with_sets(std::vector<std::string> args, const std::vector<std::string>& sets);
// Runs mmusim with `args` (which should include --json) and parses its statistics; a failed run
// fails the test and gives an empty object.
nlohmann::json run_stats(const std::vector<std::string>& args, const fs::path& cwd);

// Writes `content` to `path` (creating parent folders); fails the test if it cannot.
void write_text(const fs::path& path, const std::string& content);
void write_json(const fs::path& path, const nlohmann::json& doc);
std::string read_text(const fs::path& path);

// Writes `content` gzip-compressed to `path` with zlib.
void write_gzip(const fs::path& path, const std::string& content);

// A lackey trace of `records` instruction fetches, each followed by a load, store or modify,
// framed by valgrind header lines as the tool writes them.
std::string lackey_trace(std::size_t records);

// A config running the sequential generator over `count` accesses on the default platform.
nlohmann::json generator_config(std::int64_t count);
// A config reading the lackey trace `path` (relative to the config file).
nlohmann::json trace_config(const std::string& path);

// Statistics files and temporaries left anywhere below `dir` (empty if `dir` does not exist).
std::vector<std::string> output_files(const fs::path& dir);

// The error contract: exit status 1, nothing on stdout, one paragraph on stderr starting
// "mmusim: error: " that contains every one of `needles`, and no statistics file (nor any
// temporary) below `out_dir`.
::testing::AssertionResult is_clean_error(const CliResult& r, const fs::path& out_dir,
                                          const std::vector<std::string>& needles);

}  // namespace mmusim::cli_test
