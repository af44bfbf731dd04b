// Helpers for tests that run whole configs: a temporary folder, files written into it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "sim/run.h"

namespace mmusim::sim::testing {

class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = std::filesystem::temp_directory_path() /
                 ("mmusim-test-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(m_path);
        std::filesystem::create_directories(m_path);
    }
    ~TempDir() { std::filesystem::remove_all(m_path); }
    std::string file(const std::string& name, const std::string& content) const {
        const auto p = m_path / name;
        std::ofstream(p, std::ios::binary) << content;
        return p.string();
    }
    std::string path(const std::string& name) const { return (m_path / name).string(); }

private:
    std::filesystem::path m_path;
};

// Runs `config` (a JSON object; the trace path is relative to the temp folder).
inline nlohmann::json run_json(const TempDir& dir, const nlohmann::json& config,
                               const std::vector<Override>& overrides = {}) {
    const std::string path = dir.file("config.json", config.dump(2));
    RunConfig rc = load_config(path, overrides);
    rc.check_invariants = true;  // every test run checks the model's invariants
    return run_simulation(rc);
}

}  // namespace mmusim::sim::testing
