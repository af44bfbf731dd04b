#include "tests/cli/cli_helpers.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

namespace mmusim::cli_test {

ScratchDir::ScratchDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "mmusim-cli-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
        return;
    }
    m_path = pattern;
}

ScratchDir::~ScratchDir() {
    std::error_code ec;
    if (!m_path.empty()) fs::remove_all(m_path, ec);
}

ExecArgs::ExecArgs(const std::vector<std::string>& args) {
    m_strings.push_back(MMUSIM_BINARY);
    m_strings.insert(m_strings.end(), args.begin(), args.end());
    for (std::string& s : m_strings) m_pointers.push_back(s.data());
    m_pointers.push_back(nullptr);
}

CliResult run_mmusim(const std::vector<std::string>& args, const fs::path& cwd) {
    CliResult r;
    r.command = "mmusim";
    for (const std::string& a : args) r.command += " " + a;

    // Captured output goes next to the working folder, not into it, so that it never looks
    // like something the program wrote.
    const std::string out_file = (cwd.parent_path() / (cwd.filename().string() + ".stdout")).string();
    const std::string err_file = (cwd.parent_path() / (cwd.filename().string() + ".stderr")).string();
    const std::string dir = cwd.string();
    ExecArgs exec(args);

    const pid_t pid = fork();
    if (pid < 0) {
        ADD_FAILURE() << "fork failed for " << r.command;
        return r;
    }
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec.
        const int in = open("/dev/null", O_RDONLY);
        const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || chdir(dir.c_str()) != 0) _exit(126);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
        execv(exec.program(), exec.argv());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
    r.out = read_text(out_file);
    r.err = read_text(err_file);
    std::error_code ec;
    fs::remove(out_file, ec);
    fs::remove(err_file, ec);
    return r;
}

void write_text(const fs::path& path, const std::string& content) {
    std::error_code ec;
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
    f.flush();
    if (!f) ADD_FAILURE() << "cannot write " << path;
}

void write_json(const fs::path& path, const nlohmann::json& doc) { write_text(path, doc.dump(2) + "\n"); }

std::vector<std::string> with_sets(std::vector<std::string> args, const std::vector<std::string>& sets) {
    for (const std::string& set : sets) {
        args.push_back("--set");
        args.push_back(set);
    }
    return args;
}

nlohmann::json run_stats(const std::vector<std::string>& args, const fs::path& cwd) {
    const CliResult r = run_mmusim(args, cwd);
    EXPECT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

std::string read_text(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void write_gzip(const fs::path& path, const std::string& content) {
    gzFile f = gzopen(path.c_str(), "wb9");
    if (f == nullptr) {
        ADD_FAILURE() << "gzopen(" << path << ") failed";
        return;
    }
    const int written = gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
    if (written != static_cast<int>(content.size())) ADD_FAILURE() << "gzwrite(" << path << ") wrote " << written;
    if (gzclose(f) != Z_OK) ADD_FAILURE() << "gzclose(" << path << ") failed";
}

std::string lackey_trace(std::size_t records) {
    std::string s =
        "==4242== Lackey, an example Valgrind tool\n"
        "==4242== Command: ./a.out\n"
        "==4242== \n";
    char line[64];
    for (std::size_t i = 0; i < records; ++i) {
        const unsigned long long code = 0x400000ULL + (i % 3000) * 4;
        std::snprintf(line, sizeof line, "I  %08llx,4\n", code);
        s += line;
        // Strides of a page and a little more over 8 MiB, so that the TLBs miss now and then.
        const unsigned long long data = 0x1ffe000000ULL + (i * 4168ULL) % (8ULL << 20);
        std::snprintf(line, sizeof line, " %c %llx,8\n", "LSML"[i % 4], data);
        s += line;
    }
    s += "==4242== \n==4242== Counted 1 call to main()\n";
    return s;
}

nlohmann::json generator_config(std::int64_t count) {
    return {{"platform", "neoverse-n1"},
            {"kernel", {{"version", "6.17"}, {"granule", "4K"}, {"contpte", true}, {"mthp", {"64K"}}}},
            {"workload",
             {{"generator",
               {{"pattern", "sequential"},
                {"base", "0x10000000"},
                {"length", "1M"},
                {"count", count},
                {"access_size", 8},
                {"store_fraction", 0.3}}}}},
            {"seed", 1}};
}

nlohmann::json trace_config(const std::string& path) {
    return {{"platform", "neoverse-n1"},
            {"kernel", {{"version", "6.17"}, {"granule", "4K"}, {"contpte", true}, {"mthp", {"64K"}}}},
            {"workload", {{"trace", {{"path", path}, {"format", "lackey"}}}}},
            {"seed", 1}};
}

std::vector<std::string> output_files(const fs::path& dir) {
    std::vector<std::string> found;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return found;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.filename() == "stats.json" || p.filename() == "compare.json" || p.extension() == ".tmp")
            found.push_back(p.string());
    }
    return found;
}

::testing::AssertionResult is_clean_error(const CliResult& r, const fs::path& out_dir,
                                          const std::vector<std::string>& needles) {
    const auto failure = [&r]() {
        return ::testing::AssertionFailure() << r.command << "\n  exit status " << r.exit_code << "\n  stdout: [" << r.out
                                             << "]\n  stderr: [" << r.err << "]\n  ";
    };
    const std::string prefix = "mmusim: error: ";
    if (r.exit_code != 1) return failure() << "the exit status should be 1";
    if (!r.out.empty()) return failure() << "stdout should be empty";
    if (r.err.rfind(prefix, 0) != 0) return failure() << "stderr should start with \"" << prefix << "\"";
    if (r.err.back() != '\n') return failure() << "stderr should end with a newline";
    if (r.err.find("\n\n") != std::string::npos) return failure() << "stderr should be one paragraph";
    if (r.err.find(prefix, 1) != std::string::npos) return failure() << "stderr should hold one error";
    if (r.err.find("internal error") != std::string::npos)
        return failure() << "the error should be a deliberate message, not an internal error";
    for (const std::string& n : needles)
        if (r.err.find(n) == std::string::npos) return failure() << "stderr should contain \"" << n << "\"";
    const std::vector<std::string> left = output_files(out_dir);
    if (!left.empty()) return failure() << "nothing should be written, but " << left.front() << " exists";
    return ::testing::AssertionSuccess();
}

}  // namespace mmusim::cli_test
