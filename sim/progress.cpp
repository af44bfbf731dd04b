#include "sim/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace mmusim::sim {

namespace {

// The wall clock. It is read only here, and what it gives only ever reaches the progress line
// on a terminal: never a file, stdout or anything a run computes.
std::int64_t wall_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

constexpr std::int64_t kNsPerSecond = 1000000000;
// The line is rewritten at most this often.
constexpr std::int64_t kInterval = kNsPerSecond / 4;

// 1234567 -> "1.2M".
std::string count_text(double n) {
    char text[32];
    if (n >= 1e9) std::snprintf(text, sizeof text, "%.1fG", n / 1e9);
    else if (n >= 1e6) std::snprintf(text, sizeof text, "%.1fM", n / 1e6);
    else if (n >= 1e4) std::snprintf(text, sizeof text, "%.1fK", n / 1e3);
    else std::snprintf(text, sizeof text, "%.0f", n);
    return text;
}

// Seconds as m:ss or h:mm:ss.
std::string time_text(double seconds) {
    const long long s = static_cast<long long>(std::max(0.0, seconds) + 0.5);
    char text[32];
    if (s >= 3600) std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
    return text;
}

class CountedSource : public workloads::Source {
public:
    CountedSource(std::unique_ptr<workloads::Source> inner, Progress& progress)
        : m_inner(std::move(inner)), m_progress(progress) {}

    std::size_t next(workloads::Record* out, std::size_t max) override {
        const std::size_t n = m_inner->next(out, max);
        m_progress.add_records(n);
        return n;
    }
    const kernel::Syscall* syscall(std::uint64_t index) const override { return m_inner->syscall(index); }
    const std::vector<workloads::TraceMapping>& initial_mappings() const override { return m_inner->initial_mappings(); }
    workloads::TraceArch arch() const override { return m_inner->arch(); }
    const std::string& name() const override { return m_inner->name(); }

private:
    std::unique_ptr<workloads::Source> m_inner;
    Progress& m_progress;
};

}  // namespace

bool Progress::wanted(bool json_out) {
    if (json_out) return false;
    const char* ci = std::getenv("CI");
    if (ci != nullptr && *ci != '\0') return false;
    return isatty(2) == 1;
}

Progress::Progress(bool enabled) : m_enabled(enabled) {
    if (m_enabled) m_start_ns = wall_ns();
}

Progress::~Progress() { clear(); }

void Progress::set_record_total(std::uint64_t total) { m_record_total = total; }

void Progress::add_records(std::uint64_t n) {
    if (!m_enabled) return;
    m_records += n;
    const std::int64_t now = wall_ns();
    if (m_shown && now - m_last_ns < kInterval) return;
    const double elapsed = static_cast<double>(now - m_start_ns) / kNsPerSecond;
    const double rate = elapsed > 0 ? static_cast<double>(m_records) / elapsed : 0.0;
    std::string line = "mmusim: ";
    line += count_text(static_cast<double>(m_records));
    if (m_record_total != 0) {
        const std::uint64_t done = std::min(m_records, m_record_total);
        line += "/";
        line += count_text(static_cast<double>(m_record_total));
        line += " records (";
        line += std::to_string(done * 100 / m_record_total);
        line += "%)";
    } else {
        line += " records";
    }
    if (rate > 0) {
        line += ", ";
        line += count_text(rate);
        line += " records/s";
    }
    if (m_record_total != 0 && rate > 0 && m_records <= m_record_total) {
        line += ", ETA ";
        line += time_text(static_cast<double>(m_record_total - m_records) / rate);
    } else {
        line += ", elapsed ";
        line += time_text(elapsed);
    }
    show(line);
}

void Progress::points(std::size_t done, std::size_t total, std::size_t ran, std::size_t running) {
    if (!m_enabled) return;
    const double elapsed = static_cast<double>(wall_ns() - m_start_ns) / kNsPerSecond;
    std::string line = "mmusim sweep: " + std::to_string(done) + "/" + std::to_string(total) + " points";
    if (done > ran) line += " (" + std::to_string(done - ran) + " reused)";
    line += ", " + std::to_string(running) + " running";
    if (ran > 0 && elapsed > 0) {
        const double rate = static_cast<double>(ran) / elapsed;
        char text[32];
        std::snprintf(text, sizeof text, "%.2f", rate);
        line += std::string(", ") + text + " points/s, ETA " + time_text(static_cast<double>(total - done) / rate);
    } else {
        line += ", elapsed " + time_text(elapsed);
    }
    show(line);
}

void Progress::show(const std::string& line) {
    const std::int64_t now = wall_ns();
    if (m_shown && now - m_last_ns < kInterval) return;
    m_last_ns = now;
    m_shown = true;
    // Back to the start of the line, the text, then erase what a longer line left behind.
    std::fputs(("\r" + line + "\033[K").c_str(), stderr);
    std::fflush(stderr);
}

void Progress::clear() {
    if (!m_enabled || !m_shown) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    m_shown = false;
}

std::uint64_t expected_records(const RunConfig& config) {
    const WorkloadConfig& w = config.workload;
    std::uint64_t per_thread = w.max_records;
    if (!w.is_trace && !w.is_script) {
        // A generator: each data access, preceded by an instruction fetch when there is code.
        const std::uint64_t generated = w.generator.count * (w.generator.code_length > 0 ? 2 : 1);
        per_thread = per_thread == 0 ? generated : std::min(per_thread, generated);
    }
    return per_thread * w.threads;
}

std::unique_ptr<workloads::Source> counted_source(std::unique_ptr<workloads::Source> inner, Progress& progress) {
    return std::make_unique<CountedSource>(std::move(inner), progress);
}

}  // namespace mmusim::sim
