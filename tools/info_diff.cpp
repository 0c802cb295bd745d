#include "info_diff.hpp"

#include <fmt/core.h>

#include <map>

#include "render.hpp"

namespace owf::tools {
namespace {

// `text` renders a value for a terminal (escaped), `json` exactly.
template <class Map, class Text, class Json>
void diff_maps(const std::string& what, const Map& a, const Map& b, Text text, Json json, InfoDiff& r) {
  auto arr = nlohmann::json::array();
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      r.lines.push_back(fmt::format("  {} - {} = {}", what, printable(k), text(v)));
      arr.push_back({{"key", k}, {"change", "only in A"}, {"a", json(v)}});
    } else if (!(it->second == v)) {
      r.lines.push_back(fmt::format("  {} ~ {}: {} -> {}", what, printable(k), text(v), text(it->second)));
      arr.push_back({{"key", k}, {"change", "changed"}, {"a", json(v)}, {"b", json(it->second)}});
    }
  }
  for (const auto& [k, v] : b)
    if (a.find(k) == a.end()) {
      r.lines.push_back(fmt::format("  {} + {} = {}", what, printable(k), text(v)));
      arr.push_back({{"key", k}, {"change", "only in B"}, {"b", json(v)}});
    }
  r.json[what] = arr;
}

std::map<std::string, std::string> fields_of(const nlohmann::json& j) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : j.items()) m[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return m;
}

std::map<std::string, std::string> fields_of(const std::optional<License>& l) {
  return l ? fields_of(to_json(*l)) : std::map<std::string, std::string>{};
}

}  // namespace

InfoDiff diff_info(const ModelInfo& a, const ModelInfo& b) {
  InfoDiff d;
  auto text = [](const std::string& s) { return printable(s); };
  auto exact = [](const std::string& s) { return nlohmann::json(s); };
  diff_maps("license", fields_of(a.license), fields_of(b.license), text, exact, d);
  diff_maps("provenance", fields_of(to_json(a.provenance)), fields_of(to_json(b.provenance)), text, exact, d);
  diff_maps(
      "hyperparameter", a.hyperparameters, b.hyperparameters, [](const Value& v) { return value_summary(v); },
      [](const Value& v) { return to_json(v); }, d);
  diff_maps(
      "metadata", a.metadata, b.metadata, [](const std::string& s) { return value_summary(Value(s)); }, exact, d);
  return d;
}

}  // namespace owf::tools
