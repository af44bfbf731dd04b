#include "models/common/text.h"

#include <algorithm>

namespace mmusim {

std::string json_type_name(const nlohmann::json& v) {
    using nlohmann::json;
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "a list";
        case json::value_t::object: return "an object";
        case json::value_t::number_float: return "a number";
        default: return "an integer";
    }
}

std::string json_shown(const nlohmann::json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string nearest_name(const std::vector<std::string>& names, const std::string& key) {
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
    for (const std::string& n : names) {
        const std::size_t d = edit_distance(key, n);
        if (d < best_distance) {
            best_distance = d;
            best = n;
        }
    }
    return best;
}

std::string unknown_key_message(const std::string& path, const std::string& key, const std::vector<std::string>& allowed,
                                const std::string& what) {
    const auto below = [&path](const std::string& k) { return path.empty() ? k : path + "." + k; };
    const std::string near = nearest_name(allowed, key);
    std::string message = "unknown key \"" + below(key) + "\"";
    if (!near.empty()) message += "; did you mean \"" + below(near) + "\"?";
    message += std::string(near.empty() ? "; keys" : " Keys") + " allowed " +
               (path.empty() ? std::string("at the top level") : "in " + path) + (what.empty() ? "" : " (" + what + ")") + ": ";
    for (std::size_t i = 0; i < allowed.size(); ++i) message += (i == 0 ? "" : ", ") + allowed[i];
    return message + ".";
}

}  // namespace mmusim
