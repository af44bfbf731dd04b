#include "sim/output.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sim/run.h"

namespace mmusim::sim {

namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, const std::string& content) {
    write_file_atomic(path, [&content](std::ostream& out) { out << content; });
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
    const fs::path target(path);
    std::error_code ec;
    if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
    if (ec) throw RunError(target.parent_path().string() + ": cannot create the output folder (" + ec.message() + ")");
    const fs::path tmp = target.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw RunError(tmp.string() + ": cannot be written (" + std::strerror(errno) + ")");
        write(out);
        out.flush();
        if (!out) {
            fs::remove(tmp, ec);
            throw RunError(tmp.string() + ": writing failed (" + std::strerror(errno) + ")");
        }
    }
    fs::rename(tmp, target, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw RunError(target.string() + ": cannot be written (" + ec.message() + ")");
    }
}

std::string stats_text(const nlohmann::json& doc) { return doc.dump(2) + "\n"; }

}  // namespace mmusim::sim
