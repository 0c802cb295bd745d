// owf-diff A B: what differs between two weights files of any formats.
// Exit status: 0 weights identical, 1 weights differ or a file is invalid,
// 2 usage or I/O error.
#include <fmt/core.h>

#include <cmath>
#include <map>

#include "cli.hpp"
#include "info_diff.hpp"
#include "render.hpp"
#include "values.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-diff";

struct Opened {
  std::string path;
  std::unique_ptr<Source> source;
  Digests digests;
  std::map<std::string, std::size_t, std::less<>> by_name;
};

// Opens a file and takes every tensor's digest; stored digests are checked
// first, so that a corrupt file is an error rather than a silent match.
Result<Opened> open_one(const std::string& path) {
  Opened o;
  o.path = path;
  OWF_ASSIGN_OR_RETURN(o.source, open_input(path));
  DigestOptions options;
  options.check_stored = true;
  OWF_ASSIGN_OR_RETURN(o.digests, compute_digests(*o.source, options));
  for (std::size_t i = 0; i < o.source->tensor_count(); ++i) o.by_name[std::string(o.source->tensor(i).name)] = i;
  return o;
}

struct TensorDiff {
  nlohmann::json only_a = nlohmann::json::array(), only_b = nlohmann::json::array(), changed = nlohmann::json::array();
  std::vector<std::string> only_a_lines, only_b_lines, changed_lines;
  std::size_t identical = 0;
  bool weights_identical() const { return only_a.empty() && only_b.empty() && changed.empty(); }
};

// What differs between two tensors of the same name; empty when identical.
Status compare(const Opened& a, std::size_t ia, const Opened& b, std::size_t ib, TensorDiff& d) {
  const TensorInfo ta = a.source->tensor(ia), tb = b.source->tensor(ib);
  const bool same_dtype = ta.dtype == tb.dtype;
  const bool same_shape = std::equal(ta.shape.begin(), ta.shape.end(), tb.shape.begin(), tb.shape.end());
  if (same_dtype && same_shape && a.digests.tensors[ia] == b.digests.tensors[ib]) {
    ++d.identical;
    return {};
  }
  nlohmann::json c{{"name", std::string(ta.name)}};
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
    OWF_ASSIGN_OR_RETURN(FloatDiff f, float_diff(*a.source, ia, *b.source, ib));
    what.push_back(fmt::format("{} of {} elements differ, max abs diff {:.6g}, max rel diff {:.6g}",
                               grouped(f.differing), grouped(ta.element_count), f.max_abs, f.max_rel));
    if (f.nan_mismatch) what.push_back(fmt::format("{} NaN only on one side", grouped(f.nan_mismatch)));
    c["differing_elements"] = f.differing;
    c["max_abs_diff"] = double_json(f.max_abs);
    c["max_rel_diff"] = f.max_rel;
    c["nan_mismatch"] = f.nan_mismatch;
  }
  std::string joined;
  for (const auto& w : what) joined += (joined.empty() ? "" : "; ") + w;
  d.changed_lines.push_back(fmt::format("  {}: {}", printable(ta.name), joined));
  d.changed.push_back(c);
  return {};
}

Result<TensorDiff> diff_tensors(const Opened& a, const Opened& b) {
  TensorDiff d;
  for (const auto& [name, ia] : a.by_name) {
    auto it = b.by_name.find(name);
    if (it != b.by_name.end()) {
      OWF_RETURN_IF_ERROR(compare(a, ia, b, it->second, d));
      continue;
    }
    const TensorInfo t = a.source->tensor(ia);
    d.only_a.push_back(name);
    d.only_a_lines.push_back(fmt::format("  {}  {} {}", printable(name), dtype_name(t.dtype), shape_string(t.shape)));
  }
  for (const auto& [name, ib] : b.by_name)
    if (a.by_name.find(name) == a.by_name.end()) {
      const TensorInfo t = b.source->tensor(ib);
      d.only_b.push_back(name);
      d.only_b_lines.push_back(fmt::format("  {}  {} {}", printable(name), dtype_name(t.dtype), shape_string(t.shape)));
    }
  return d;
}

void print_text(const Opened& a, const Opened& b, const TensorDiff& d, const std::optional<InfoDiff>& info) {
  for (const auto* o : {&a, &b})
    fmt::print("{}: {} ({}), weights digest {}\n", o == &a ? "A" : "B", printable(o->path),
               format_name(o->source->format()), to_hex(o->digests.weights));
  auto section = [](std::string_view title, const std::vector<std::string>& ls) {
    if (ls.empty()) return;
    fmt::print("\n{} ({})\n", title, ls.size());
    for (const auto& l : ls) fmt::print("{}\n", l);
  };
  section("only in A", d.only_a_lines);
  section("only in B", d.only_b_lines);
  section("changed", d.changed_lines);
  if (info) {
    if (info->lines.empty())
      fmt::print("\nlicense, provenance, hyperparameters and metadata: identical\n");
    else
      section("license, provenance, hyperparameters and metadata: differences", info->lines);
  }
  fmt::print("\n{}: {} tensors identical, {} changed, {} only in A, {} only in B\n",
             d.weights_identical() ? "weights identical" : "weights differ", d.identical, d.changed.size(),
             d.only_a.size(), d.only_b.size());
}

int run(int argc, char** argv) {
  CLI::App app{
      "Compare two weights files of any supported formats: tensors, then model information.\n"
      "Exit status: 0 weights identical, 1 weights differ or a file is invalid, 2 usage or I/O error.",
      std::string(kTool)};
  std::string path_a, path_b;
  bool json = false, weights_only = false;
  app.add_option("A", path_a, "first file")->required();
  app.add_option("B", path_b, "second file")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("--weights-only", weights_only, "do not compare license, provenance, hyperparameters, metadata");
  add_remote_options(app);
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  auto a = open_one(path_a);
  if (!a.ok()) return fail(kTool, a.error());
  auto b = open_one(path_b);
  if (!b.ok()) return fail(kTool, b.error());
  auto d = diff_tensors(*a, *b);
  if (!d.ok()) return fail(kTool, d.error());
  std::optional<InfoDiff> info;
  if (!weights_only) info = diff_info(a->source->info(), b->source->info());

  if (json) {
    nlohmann::json j;
    for (const auto* o : {&*a, &*b})
      j[o == &*a ? "a" : "b"] = {{"file", o->path},
                                 {"format", std::string(format_name(o->source->format()))},
                                 {"weights_digest", to_hex(o->digests.weights)}};
    j["tensors"] = {
        {"only_in_a", d->only_a}, {"only_in_b", d->only_b}, {"changed", d->changed}, {"identical", d->identical}};
    j["weights_identical"] = d->weights_identical();
    if (info) {
      j["info"] = info->json;
      j["info_identical"] = info->lines.empty();
    }
    fmt::print("{}\n", dump_json(j));
  } else {
    print_text(*a, *b, *d, info);
  }
  return d->weights_identical() ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-diff", owf::tools::run, argc, argv); }
