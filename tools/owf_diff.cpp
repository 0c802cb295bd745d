// owf-diff A B: what differs between two weights files of any formats:
// identical bytes by default, values within a tolerance with --atol/--rtol
// (across dtypes, quantized ones dequantized).
// Exit status: 0 weights identical (within tolerance), 1 weights differ or a
// file is invalid, 2 usage or I/O error.
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

// How tensors are compared: identical bytes (the default), or values
// within a tolerance (--atol, --rtol).
struct Mode {
  std::optional<Tolerance> tolerance;
  std::size_t worst = 5;  // worst elements reported per tensor
};

struct TensorDiff {
  nlohmann::json only_a = nlohmann::json::array(), only_b = nlohmann::json::array(), changed = nlohmann::json::array();
  std::vector<std::string> only_a_lines, only_b_lines, changed_lines, close_lines;
  std::size_t identical = 0, close = 0;
  bool weights_identical() const { return only_a.empty() && only_b.empty() && changed.empty(); }
  bool within_tolerance() const { return only_a.empty() && only_b.empty() && changed.size() == close; }
};

// "(2, 17)": the position of a row-major element index in `shape`.
std::string position(std::uint64_t index, std::span<const std::uint64_t> shape) {
  std::vector<std::uint64_t> at(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    at[k] = shape[k] == 0 ? 0 : index % shape[k];
    index = shape[k] == 0 ? 0 : index / shape[k];
  }
  std::string out = "(";
  for (std::size_t k = 0; k < at.size(); ++k) out += (k ? ", " : "") + std::to_string(at[k]);
  return out + ")";
}

// Values of two tensors of the same shape, compared; false when they are
// beyond the tolerance (or, without one, differ).
Result<bool> compare_values(const Opened& a, std::size_t ia, const Opened& b, std::size_t ib, const Mode& mode,
                            nlohmann::json& c, std::vector<std::string>& what, std::vector<std::string>& worst_lines) {
  const TensorInfo ta = a.source->tensor(ia);
  OWF_ASSIGN_OR_RETURN(ValueDiff f,
                       value_diff(*a.source, ia, *b.source, ib, mode.tolerance.value_or(Tolerance{}), mode.worst));
  what.push_back(fmt::format("{} of {} elements differ, max abs diff {:.6g}, max rel diff {:.6g}", grouped(f.differing),
                             grouped(ta.element_count), f.max_abs, f.max_rel));
  if (f.nan_mismatch) what.push_back(fmt::format("{} NaN only on one side", grouped(f.nan_mismatch)));
  c["differing_elements"] = f.differing;
  c["max_abs_diff"] = double_json(f.max_abs);
  c["max_rel_diff"] = double_json(f.max_rel);
  c["nan_mismatch"] = f.nan_mismatch;
  auto worst = nlohmann::json::array();
  for (const ElementPair& e : f.worst) {
    worst.push_back({{"index", e.index}, {"a", double_json(e.a)}, {"b", double_json(e.b)}});
    worst_lines.push_back(
        fmt::format("      {} {}: A {:.9g}, B {:.9g}", e.index, position(e.index, ta.shape), e.a, e.b));
  }
  c["worst"] = worst;
  for (const DType d : {ta.dtype, b.source->tensor(ib).dtype})
    if (const std::string note = value_note(d); !note.empty()) c["values"].push_back(note);
  if (!mode.tolerance) return f.differing == 0;
  what.push_back(f.exceeding == 0 ? "within tolerance" : fmt::format("{} beyond tolerance", grouped(f.exceeding)));
  c["beyond_tolerance"] = f.exceeding;
  return f.exceeding == 0;
}

// What differs between two tensors of the same name; nothing when their
// bytes are identical.
Status compare(const Opened& a, std::size_t ia, const Opened& b, std::size_t ib, const Mode& mode, TensorDiff& d) {
  const TensorInfo ta = a.source->tensor(ia), tb = b.source->tensor(ib);
  const bool same_dtype = ta.dtype == tb.dtype;
  const bool same_shape = std::equal(ta.shape.begin(), ta.shape.end(), tb.shape.begin(), tb.shape.end());
  if (same_dtype && same_shape && a.digests.tensors[ia] == b.digests.tensors[ib]) {
    ++d.identical;
    return {};
  }
  nlohmann::json c{{"name", std::string(ta.name)}};
  std::vector<std::string> what, worst_lines;
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
  bool close = false;
  if (same_shape && can_decode(ta.dtype) && can_decode(tb.dtype)) {
    OWF_ASSIGN_OR_RETURN(close, compare_values(a, ia, b, ib, mode, c, what, worst_lines));
  } else if (same_shape && mode.tolerance) {
    what.push_back(
        fmt::format("values of {} cannot be compared", dtype_name(can_decode(ta.dtype) ? tb.dtype : ta.dtype)));
  }
  if (mode.tolerance) c["within_tolerance"] = close;
  std::string joined;
  for (const auto& w : what) joined += (joined.empty() ? "" : "; ") + w;
  auto& lines = mode.tolerance && close ? d.close_lines : d.changed_lines;
  lines.push_back(fmt::format("  {}: {}", printable(ta.name), joined));
  if (mode.tolerance && !close)
    for (auto& l : worst_lines) lines.push_back(std::move(l));
  if (mode.tolerance && close) ++d.close;
  d.changed.push_back(c);
  return {};
}

Result<TensorDiff> diff_tensors(const Opened& a, const Opened& b, const Mode& mode) {
  TensorDiff d;
  for (const auto& [name, ia] : a.by_name) {
    auto it = b.by_name.find(name);
    if (it != b.by_name.end()) {
      OWF_RETURN_IF_ERROR(compare(a, ia, b, it->second, mode, d));
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

void print_text(const Opened& a, const Opened& b, const TensorDiff& d, const std::optional<InfoDiff>& info,
                const Mode& mode) {
  for (const auto* o : {&a, &b})
    fmt::print("{}: {} ({}), weights digest {}\n", o == &a ? "A" : "B", printable(o->path),
               format_name(o->source->format()), to_hex(o->digests.weights));
  if (mode.tolerance)
    fmt::print("tolerance: |a - b| <= {:g} + {:g} * |b| (B is the reference; NaN equals only NaN)\n",
               mode.tolerance->atol, mode.tolerance->rtol);
  auto section = [](std::string_view title, const std::vector<std::string>& ls, std::size_t count) {
    if (ls.empty()) return;
    fmt::print("\n{} ({})\n", title, count);
    for (const auto& l : ls) fmt::print("{}\n", l);
  };
  section("only in A", d.only_a_lines, d.only_a.size());
  section("only in B", d.only_b_lines, d.only_b.size());
  if (mode.tolerance) {
    section("within tolerance", d.close_lines, d.close);
    section("beyond tolerance", d.changed_lines, d.changed.size() - d.close);
  } else {
    section("changed", d.changed_lines, d.changed.size());
  }
  if (info) {
    if (info->lines.empty())
      fmt::print("\nlicense, provenance, hyperparameters and metadata: identical\n");
    else
      section("license, provenance, hyperparameters and metadata: differences", info->lines, info->lines.size());
  }
  if (mode.tolerance)
    fmt::print("\n{}: {} tensors identical, {} within tolerance, {} beyond, {} only in A, {} only in B\n",
               d.within_tolerance() ? "weights within tolerance" : "weights differ beyond tolerance", d.identical,
               d.close, d.changed.size() - d.close, d.only_a.size(), d.only_b.size());
  else
    fmt::print("\n{}: {} tensors identical, {} changed, {} only in A, {} only in B\n",
               d.weights_identical() ? "weights identical" : "weights differ", d.identical, d.changed.size(),
               d.only_a.size(), d.only_b.size());
}

Status check_tolerance(double value, std::string_view option) {
  if (!(value >= 0) || std::isinf(value))
    return Error(ErrorCode::kInvalidArgument, std::string(option) + " must be a finite number >= 0");
  return {};
}

int run(int argc, char** argv) {
  CLI::App app{
      "Compare two weights files of any supported formats: tensors, then model information.\n"
      "By default tensors must have identical bytes; with --atol/--rtol, tensors of the same name and shape\n"
      "are compared by value across dtypes (numpy.isclose with B the reference, NaN equal to NaN).\n"
      "Exit status: 0 weights identical (or within tolerance), 1 weights differ or a file is invalid,\n"
      "2 usage or I/O error.",
      std::string(kTool)};
  std::string path_a, path_b;
  bool json = false, weights_only = false;
  double atol = 0, rtol = 0;
  Mode mode;
  app.add_option("A", path_a, "first file")->required();
  app.add_option("B", path_b, "second file (the reference for --rtol)")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_flag("--weights-only", weights_only, "do not compare license, provenance, hyperparameters, metadata");
  app.add_option("--atol", atol,
                 "compare values across dtypes (quantized ones dequantized): tensors pass when every element has "
                 "|a - b| <= ATOL + RTOL * |b|");
  app.add_option("--rtol", rtol, "relative tolerance (see --atol; either one selects comparison by value)");
  app.add_option("--worst", mode.worst, "elements shown per tensor beyond tolerance")->capture_default_str();
  add_remote_options(app);
  if (auto code = parse_command_line(app, argc, argv)) return *code;
  if (app.count("--atol") + app.count("--rtol") > 0) {
    for (auto [value, option] : {std::pair{atol, "--atol"}, std::pair{rtol, "--rtol"}})
      if (auto s = check_tolerance(value, option); !s.ok()) return fail(kTool, s.error(), kExitUsage);
    mode.tolerance = Tolerance{atol, rtol};
  }

  auto a = open_one(path_a);
  if (!a.ok()) return fail(kTool, a.error());
  auto b = open_one(path_b);
  if (!b.ok()) return fail(kTool, b.error());
  auto d = diff_tensors(*a, *b, mode);
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
    if (mode.tolerance) {
      j["tolerance"] = {{"atol", mode.tolerance->atol}, {"rtol", mode.tolerance->rtol}};
      j["within_tolerance"] = d->within_tolerance();
    }
    if (info) {
      j["info"] = info->json;
      j["info_identical"] = info->lines.empty();
    }
    fmt::print("{}\n", dump_json(j));
  } else {
    print_text(*a, *b, *d, info, mode);
  }
  const bool pass = mode.tolerance ? d->within_tolerance() : d->weights_identical();
  return pass ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-diff", owf::tools::run, argc, argv); }
