// Files the program carries inside it, turned into byte arrays at build time by
// cmake/embed_file.cmake (see CMakeLists.txt): the report's chart library, script and style.
#pragma once

#include <cstddef>
#include <string_view>

namespace mmusim::embedded {

extern const unsigned char chart_js[];  // third_party/chart.js/chart.umd.js
extern const std::size_t chart_js_size;
extern const unsigned char report_js[];  // sim/report_assets/report.js
extern const std::size_t report_js_size;
extern const unsigned char report_css[];  // sim/report_assets/report.css
extern const std::size_t report_css_size;

inline std::string_view text(const unsigned char* bytes, std::size_t size) {
    return {reinterpret_cast<const char*>(bytes), size};
}

}  // namespace mmusim::embedded
