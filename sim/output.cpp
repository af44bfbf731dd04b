#include "sim/output.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sim/config_error.h"
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

std::string text_table(const std::vector<std::vector<std::string>>& rows, bool numbers) {
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        if (width.size() < row.size()) width.resize(row.size(), 0);
        for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        for (std::size_t c = 0; c < rows[r].size(); ++c) {
            const std::string& cell = rows[r][c];
            const std::string pad(width[c] - cell.size(), ' ');
            if (c != 0) out += "  ";
            if (c != 0 && numbers) out += pad + cell;
            else out += c + 1 < rows[r].size() || numbers ? cell + pad : cell;
        }
        out += '\n';
        if (r == 0) {
            std::size_t total = 0;
            for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c == 0 ? 0 : 2);
            out += std::string(total, '-') + '\n';
        }
    }
    return out;
}

void check_output_file(const std::string& option, const std::string& path, const std::string& example) {
    const std::string where = option + " " + path + ": ";
    if (path.empty()) throw ConfigError(option + ": the path is empty; give the file to write, e.g. " + option + " " + example);
    const fs::path target(path);
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::exists(folder, ec))
        throw ConfigError(where + "the folder " + folder.string() + " does not exist; the file is written into an existing folder "
                          "(create it first)");
    if (!fs::is_directory(folder, ec)) throw ConfigError(where + folder.string() + " is not a folder");
    if (fs::is_directory(target, ec))
        throw ConfigError(where + "this is a folder; give the path of a file to write, e.g. " + (target / example).string());
    // The file is written aside and renamed into place: try that side file now.
    const fs::path tmp = target.string() + ".tmp";
    {
        std::ofstream probe(tmp, std::ios::binary | std::ios::trunc);
        if (!probe)
            throw ConfigError(where + "cannot write into the folder " + folder.string() + " (" + std::strerror(errno) + ")");
    }
    fs::remove(tmp, ec);
}

}  // namespace mmusim::sim
