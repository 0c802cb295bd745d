// owf-diff A B: what differs between two weights files of any formats.
// Exit status: 0 weights identical, 1 weights differ, 2 error.
#include <fmt/core.h>

#include <cmath>

#include "common.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-diff";

struct Opened {
  std::string path;
  std::unique_ptr<Source> source;
  Digests digests;
  std::map<std::string, std::size_t, std::less<>> by_name;
};

Result<Opened> open_one(const std::string& path) {
  Opened o;
  o.path = path;
  OWF_ASSIGN_OR_RETURN(o.source, open_source(path));
  OWF_ASSIGN_OR_RETURN(o.digests, compute_digests(*o.source, 0, /*check_stored=*/true));
  for (std::size_t i = 0; i < o.source->tensor_count(); ++i) o.by_name[std::string(o.source->tensor(i).name)] = i;
  return o;
}

struct FloatDiff {
  std::uint64_t differing = 0;  // elements not equal (NaN equals NaN here)
  std::uint64_t nan_mismatch = 0;
  double max_abs = 0, max_rel = 0;
};

// Element-wise comparison of two tensors with the same shape and float dtypes.
Result<FloatDiff> float_diff(const Opened& a, std::size_t ia, const Opened& b, std::size_t ib) {
  const TensorInfo ta = a.source->tensor(ia), tb = b.source->tensor(ib);
  std::vector<std::byte> ra(static_cast<std::size_t>(ta.logical_bytes)), rb(static_cast<std::size_t>(tb.logical_bytes));
  OWF_RETURN_IF_ERROR(a.source->read(ia, ra));
  OWF_RETURN_IF_ERROR(b.source->read(ib, rb));
  const std::size_t ea = dtype_info(ta.dtype)->block_bytes, eb = dtype_info(tb.dtype)->block_bytes;
  constexpr std::size_t kPiece = 1u << 20;
  FloatDiff d;
  std::vector<double> va, vb;
  for (std::uint64_t at = 0; at < ta.element_count; at += kPiece) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, ta.element_count - at));
    decode_as_double(ta.dtype, std::span(ra).subspan(static_cast<std::size_t>(at) * ea, n * ea), va);
    decode_as_double(tb.dtype, std::span(rb).subspan(static_cast<std::size_t>(at) * eb, n * eb), vb);
    for (std::size_t i = 0; i < n; ++i) {
      const double x = va[i], y = vb[i];
      if (x == y || (std::isnan(x) && std::isnan(y))) continue;
      ++d.differing;
      if (std::isnan(x) || std::isnan(y)) {
        ++d.nan_mismatch;
        continue;
      }
      const double abs = std::fabs(x - y);
      const double rel = abs / std::max(std::fabs(x), std::fabs(y));
      if (std::isfinite(abs))
        d.max_abs = std::max(d.max_abs, abs);
      else
        d.max_abs = INFINITY;
      if (!std::isnan(rel)) d.max_rel = std::max(d.max_rel, rel);
    }
  }
  return d;
}

struct Report {
  std::vector<std::string> lines;
  nlohmann::json json = nlohmann::json::object();
};

template <class Map, class Render>
void diff_maps(const std::string& what, const Map& a, const Map& b, Render render, Report& r) {
  auto arr = nlohmann::json::array();
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      r.lines.push_back(fmt::format("  {} - {} = {}", what, k, render(v)));
      arr.push_back({{"key", k}, {"change", "only in A"}, {"a", render(v)}});
    } else if (!(it->second == v)) {
      r.lines.push_back(fmt::format("  {} ~ {}: {} -> {}", what, k, render(v), render(it->second)));
      arr.push_back({{"key", k}, {"change", "changed"}, {"a", render(v)}, {"b", render(it->second)}});
    }
  }
  for (const auto& [k, v] : b)
    if (a.find(k) == a.end()) {
      r.lines.push_back(fmt::format("  {} + {} = {}", what, k, render(v)));
      arr.push_back({{"key", k}, {"change", "only in B"}, {"b", render(v)}});
    }
  r.json[what] = arr;
}

std::map<std::string, std::string> fields_of(const std::optional<License>& l) {
  std::map<std::string, std::string> m;
  if (!l) return m;
  auto j = to_json(*l);
  for (const auto& [k, v] : j.items()) m[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return m;
}

std::map<std::string, std::string> fields_of(const Provenance& p) {
  std::map<std::string, std::string> m;
  auto j = to_json(p);
  for (const auto& [k, v] : j.items()) m[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return m;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Compare two weights files of any supported formats: tensors, then model information.\n"
      "Exit status: 0 weights identical, 1 weights differ, 2 error.",
      std::string(kTool)};
  std::string path_a, path_b;
  bool json = false, weights_only = false;
  app.add_option("A", path_a, "first file")->required();
  app.add_option("B", path_b, "second file")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("--weights-only", weights_only, "do not compare license, provenance, hyperparameters, metadata");
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  auto a = open_one(path_a);
  if (!a.ok()) {
    print_error(kTool, a.error());
    return kExitUsage;
  }
  auto b = open_one(path_b);
  if (!b.ok()) {
    print_error(kTool, b.error());
    return kExitUsage;
  }

  std::vector<std::string> lines;
  nlohmann::json j;
  j["a"] = {{"file", path_a},
            {"format", std::string(format_name(a->source->format()))},
            {"weights_digest", to_hex(a->digests.weights)}};
  j["b"] = {{"file", path_b},
            {"format", std::string(format_name(b->source->format()))},
            {"weights_digest", to_hex(b->digests.weights)}};
  auto only_a = nlohmann::json::array(), only_b = nlohmann::json::array(), changed = nlohmann::json::array();
  std::size_t identical = 0;
  std::vector<std::string> only_a_lines, only_b_lines, changed_lines;
  for (const auto& [name, ia] : a->by_name) {
    const TensorInfo ta = a->source->tensor(ia);
    auto it = b->by_name.find(name);
    if (it == b->by_name.end()) {
      only_a.push_back(name);
      only_a_lines.push_back(fmt::format("  {}  {} {}", name, dtype_name(ta.dtype), shape_string(ta.shape)));
      continue;
    }
    const std::size_t ib = it->second;
    const TensorInfo tb = b->source->tensor(ib);
    const bool same_dtype = ta.dtype == tb.dtype;
    const bool same_shape = std::equal(ta.shape.begin(), ta.shape.end(), tb.shape.begin(), tb.shape.end());
    const bool same_bytes = same_dtype && same_shape && a->digests.tensors[ia] == b->digests.tensors[ib];
    if (same_bytes) {
      ++identical;
      continue;
    }
    nlohmann::json c{{"name", name}};
    std::vector<std::string> what;
    if (!same_dtype) {
      what.push_back(fmt::format("dtype {} -> {}", dtype_name(ta.dtype), dtype_name(tb.dtype)));
      c["dtype"] = {std::string(dtype_name(ta.dtype)), std::string(dtype_name(tb.dtype))};
    }
    if (!same_shape) {
      what.push_back(fmt::format("shape {} -> {}", shape_string(ta.shape), shape_string(tb.shape)));
      c["shape"] = {shape_json(ta.shape), shape_json(tb.shape)};
    }
    if (same_dtype && same_shape) {
      what.push_back("bytes differ");
      c["bytes"] = "differ";
    }
    if (same_shape && is_float_for_diff(ta.dtype) && is_float_for_diff(tb.dtype)) {
      auto d = float_diff(*a, ia, *b, ib);
      if (!d.ok()) {
        print_error(kTool, d.error());
        return kExitUsage;
      }
      what.push_back(fmt::format("{} of {} elements differ, max abs diff {:.6g}, max rel diff {:.6g}",
                                 grouped(d->differing), grouped(ta.element_count), d->max_abs, d->max_rel));
      if (d->nan_mismatch) what.push_back(fmt::format("{} NaN only on one side", grouped(d->nan_mismatch)));
      c["differing_elements"] = d->differing;
      c["max_abs_diff"] = std::isfinite(d->max_abs) ? nlohmann::json(d->max_abs) : nlohmann::json("Infinity");
      c["max_rel_diff"] = d->max_rel;
      c["nan_mismatch"] = d->nan_mismatch;
    }
    std::string joined;
    for (const auto& w : what) joined += (joined.empty() ? "" : "; ") + w;
    changed_lines.push_back(fmt::format("  {}: {}", name, joined));
    changed.push_back(c);
  }
  for (const auto& [name, ib] : b->by_name)
    if (a->by_name.find(name) == a->by_name.end()) {
      const TensorInfo tb = b->source->tensor(ib);
      only_b.push_back(name);
      only_b_lines.push_back(fmt::format("  {}  {} {}", name, dtype_name(tb.dtype), shape_string(tb.shape)));
    }
  const bool weights_identical = only_a.empty() && only_b.empty() && changed.empty();
  j["tensors"] = {{"only_in_a", only_a}, {"only_in_b", only_b}, {"changed", changed}, {"identical", identical}};
  j["weights_identical"] = weights_identical;

  Report info;
  if (!weights_only) {
    const ModelInfo& ia = a->source->info();
    const ModelInfo& ib = b->source->info();
    auto same = [](const std::string& s) { return s; };
    diff_maps("license", fields_of(ia.license), fields_of(ib.license), same, info);
    diff_maps("provenance", fields_of(ia.provenance), fields_of(ib.provenance), same, info);
    diff_maps(
        "hyperparameter", ia.hyperparameters, ib.hyperparameters, [](const Value& v) { return value_summary(v); },
        info);
    diff_maps(
        "metadata", ia.metadata, ib.metadata, [](const std::string& s) { return value_summary(Value(s)); }, info);
    j["info"] = info.json;
    j["info_identical"] = info.lines.empty();
  }

  if (json) {
    fmt::print("{}\n", dump_json(j));
  } else {
    fmt::print("A: {} ({}), weights digest {}\n", path_a, format_name(a->source->format()), to_hex(a->digests.weights));
    fmt::print("B: {} ({}), weights digest {}\n", path_b, format_name(b->source->format()), to_hex(b->digests.weights));
    auto section = [](std::string_view title, const std::vector<std::string>& ls) {
      if (ls.empty()) return;
      fmt::print("\n{} ({})\n", title, ls.size());
      for (const auto& l : ls) fmt::print("{}\n", l);
    };
    section("only in A", only_a_lines);
    section("only in B", only_b_lines);
    section("changed", changed_lines);
    if (!weights_only) {
      if (info.lines.empty())
        fmt::print("\nlicense, provenance, hyperparameters and metadata: identical\n");
      else
        section("license, provenance, hyperparameters and metadata: differences", info.lines);
    }
    fmt::print("\n{}: {} tensors identical, {} changed, {} only in A, {} only in B\n",
               weights_identical ? "weights identical" : "weights differ", identical, changed.size(), only_a.size(),
               only_b.size());
  }
  return weights_identical ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run(argc, argv); }
