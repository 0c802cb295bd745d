// owf-inspect FILE: what a weights file holds, in any supported format.
#include <fmt/core.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "common.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-inspect";

struct Totals {
  std::uint64_t parameters = 0;
  std::uint64_t stored_bytes = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_dtype;  // elements, bytes
  std::map<std::string, std::uint64_t> by_role;                             // elements
};

Totals totals_of(const Source& source) {
  Totals t;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo info = source.tensor(i);
    t.parameters += info.element_count;
    t.stored_bytes += info.stored_bytes;
    auto& d = t.by_dtype[std::string(dtype_name(info.dtype))];
    d.first += info.element_count;
    d.second += info.stored_bytes;
    t.by_role[std::string(role_name(info.role))] += info.element_count;
  }
  return t;
}

std::string format_title(const Source& source) {
  if (const File* f = source.owf_file()) return fmt::format("OWF {}.{}", f->version().major, f->version().minor);
  return std::string(format_name(source.format()));
}

nlohmann::json inspect_json(const std::string& path, std::uint64_t size, const Source& source, const Digests& digests) {
  const ModelInfo& info = source.info();
  nlohmann::json j;
  j["file"] = path;
  j["format"] = std::string(format_name(source.format()));
  if (const File* f = source.owf_file())
    j["format_version"] = fmt::format("{}.{}", f->version().major, f->version().minor);
  j["file_size"] = size;
  j["alignment"] = source.alignment();
  j["weights_digest"] = to_hex(digests.weights);
  // Always an object, so that license.spdx can be read without a check;
  // null when the file declares no license.
  j["license"] = info.license ? to_json(*info.license) : nlohmann::json{{"spdx", nullptr}};
  j["provenance"] = to_json(info.provenance);
  j["hyperparameters"] = nlohmann::json::object();
  for (const auto& [k, v] : info.hyperparameters) j["hyperparameters"][k] = to_json(v);
  j["metadata"] = nlohmann::json::object();
  for (const auto& [k, v] : info.metadata) j["metadata"][k] = v;
  auto tensors = nlohmann::json::array();
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    tensors.push_back({{"name", std::string(t.name)},
                       {"dtype", std::string(dtype_name(t.dtype))},
                       {"shape", shape_json(t.shape)},
                       {"role", std::string(role_name(t.role))},
                       {"codec", std::string(codec_name(t.codec))},
                       {"element_count", t.element_count},
                       {"logical_bytes", t.logical_bytes},
                       {"stored_bytes", t.stored_bytes},
                       {"offset", t.offset},
                       {"sha256", to_hex(digests.tensors[i])}});
  }
  j["tensors"] = tensors;
  const Totals totals = totals_of(source);
  nlohmann::json by_dtype = nlohmann::json::object(), by_role = nlohmann::json::object();
  for (const auto& [d, eb] : totals.by_dtype) by_dtype[d] = {{"elements", eb.first}, {"stored_bytes", eb.second}};
  for (const auto& [r, n] : totals.by_role) by_role[r] = n;
  j["totals"] = {{"tensors", source.tensor_count()},
                 {"parameters", totals.parameters},
                 {"stored_bytes", totals.stored_bytes},
                 {"by_dtype", by_dtype},
                 {"by_role", by_role}};
  return j;
}

void print_field(std::string_view key, const std::string& value) {
  if (!value.empty()) fmt::print("  {:<14} {}\n", key, value);
}

void print_text(const std::string& path, std::uint64_t size, const Source& source, const Digests& digests, bool full) {
  const ModelInfo& info = source.info();
  fmt::print("{}\n", path);
  print_field("format", format_title(source));
  print_field("file size",
              size < 1024 ? human_bytes(size) : fmt::format("{} bytes ({})", grouped(size), human_bytes(size)));
  print_field("alignment", source.alignment() ? std::to_string(source.alignment()) : std::string("-"));
  print_field("weights digest", to_hex(digests.weights));

  fmt::print("\nlicense\n");
  if (!info.license) {
    fmt::print("  (none declared)\n");
  } else {
    const License& l = *info.license;
    print_field("spdx", l.spdx);
    print_field("concluded", l.concluded);
    print_field("name", l.name);
    print_field("url", l.url);
    for (const auto& c : l.copyright) print_field("copyright", c);
    print_field("attribution", l.attribution);
    print_field("restrictions", l.restrictions);
    if (!l.text.empty()) print_field("text", fmt::format("({} bytes)", l.text.size()));
  }

  const Provenance& p = info.provenance;
  fmt::print("\nprovenance\n");
  if (p == Provenance{}) fmt::print("  (none)\n");
  print_field("name", p.name);
  print_field("version", p.version);
  print_field("architecture", p.architecture);
  print_field("description", p.description);
  for (const auto& a : p.authors) print_field("author", a);
  print_field("source url", p.source_url);
  for (const auto& b : p.base_models) print_field("base model", b.name + " " + to_hex(b.weights_digest));
  print_field("training data", p.training_data);
  print_field("software", p.software);
  print_field("created", p.created);

  const std::size_t max_items = full ? std::numeric_limits<std::size_t>::max() : 8;
  const std::size_t max_chars = full ? std::numeric_limits<std::size_t>::max() : 100;
  fmt::print("\nhyperparameters ({})\n", info.hyperparameters.size());
  if (!info.hyperparameters.empty()) {
    Table t({"key", "value"});
    for (const auto& [k, v] : info.hyperparameters) t.add({k, value_summary(v, max_items, max_chars)});
    fmt::print("{}", t.render());
  }
  fmt::print("\nmetadata ({})\n", info.metadata.size());
  if (!info.metadata.empty()) {
    Table t({"key", "value"});
    for (const auto& [k, v] : info.metadata) t.add({k, value_summary(Value(v), max_items, max_chars)});
    fmt::print("{}", t.render());
  }

  fmt::print("\ntensors ({})\n", source.tensor_count());
  if (source.tensor_count() > 0) {
    Table t({"name", "role", "dtype", "shape", "elements", "stored bytes", "codec"},
            {false, false, false, false, true, true, false});
    for (std::size_t i = 0; i < source.tensor_count(); ++i) {
      const TensorInfo x = source.tensor(i);
      t.add({std::string(x.name), std::string(role_name(x.role)), std::string(dtype_name(x.dtype)),
             shape_string(x.shape), grouped(x.element_count), grouped(x.stored_bytes),
             std::string(codec_name(x.codec))});
    }
    fmt::print("{}", t.render());
  }

  const Totals totals = totals_of(source);
  fmt::print("\ntotals\n");
  print_field("parameters", grouped(totals.parameters));
  print_field("tensor bytes", fmt::format("{} ({})", grouped(totals.stored_bytes), human_bytes(totals.stored_bytes)));
  if (!totals.by_dtype.empty()) {
    Table t({"dtype", "elements", "stored bytes"}, {false, true, true});
    for (const auto& [d, eb] : totals.by_dtype) t.add({d, grouped(eb.first), grouped(eb.second)});
    fmt::print("\n{}", t.render());
  }
  if (!totals.by_role.empty()) {
    Table t({"role", "elements", "share"}, {false, true, true});
    for (const auto& [r, n] : totals.by_role)
      t.add({r, grouped(n),
             totals.parameters
                 ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(n) / static_cast<double>(totals.parameters))
                 : std::string("-")});
    fmt::print("\n{}", t.render());
  }
}

struct Stats {
  std::uint64_t count = 0, nan = 0, inf = 0, zeros = 0, finite = 0;
  double min = 0, max = 0;
  long double sum = 0, sum_sq = 0;
  std::vector<double> first;
};

int inspect_tensor(const Source& source, const std::string& name, std::size_t show, bool json) {
  const auto index = source.find(name);
  if (!index) {
    print_error(kTool, Error(ErrorCode::kNotFound, "no tensor named '" + name + "'"));
    return kExitUsage;
  }
  const TensorInfo t = source.tensor(*index);
  nlohmann::json j{{"name", name},
                   {"dtype", std::string(dtype_name(t.dtype))},
                   {"shape", shape_json(t.shape)},
                   {"role", std::string(role_name(t.role))},
                   {"element_count", t.element_count}};
  if (!decodable_as_double(t.dtype)) {
    const std::string why = fmt::format("statistics are not supported for dtype {}", dtype_name(t.dtype));
    if (json) {
      j["stats"] = nullptr;
      j["note"] = why;
      fmt::print("{}\n", dump_json(j));
    } else {
      fmt::print("{}  {} {}  {} elements\n  {}\n", name, dtype_name(t.dtype), shape_string(t.shape),
                 grouped(t.element_count), why);
    }
    return kExitOk;
  }
  if (t.logical_bytes > std::vector<std::byte>().max_size()) {
    print_error(kTool, Error(ErrorCode::kLimitExceeded, "tensor '" + name + "' is too large for memory"));
    return kExitFailed;
  }
  std::vector<std::byte> bytes(static_cast<std::size_t>(t.logical_bytes));
  if (auto s = source.read(*index, bytes); !s.ok()) {
    print_error(kTool, s.error());
    return exit_code_for(s.error());
  }
  const std::size_t element_bytes = dtype_info(t.dtype)->block_bytes;
  constexpr std::size_t kPiece = 1u << 20;  // elements decoded at a time
  Stats st;
  std::vector<double> values;
  for (std::size_t at = 0; at < bytes.size(); at += kPiece * element_bytes) {
    const std::size_t n = std::min(bytes.size() - at, kPiece * element_bytes);
    decode_as_double(t.dtype, std::span(bytes).subspan(at, n), values);
    for (double v : values) {
      if (st.first.size() < show) st.first.push_back(v);
      ++st.count;
      if (std::isnan(v)) {
        ++st.nan;
        continue;
      }
      if (std::isinf(v)) {
        ++st.inf;
        continue;
      }
      if (v == 0) ++st.zeros;
      if (st.finite == 0 || v < st.min) st.min = v;
      if (st.finite == 0 || v > st.max) st.max = v;
      ++st.finite;
      st.sum += v;
      st.sum_sq += static_cast<long double>(v) * v;
    }
  }
  const double mean = st.finite ? static_cast<double>(st.sum / st.finite) : 0.0;
  const double var = st.finite ? static_cast<double>(st.sum_sq / st.finite) - mean * mean : 0.0;
  const double std_dev = std::sqrt(std::max(0.0, var));
  if (json) {
    auto first = nlohmann::json::array();
    for (double v : st.first)
      first.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(fmt::format("{}", v)));
    j["stats"] = {{"count", st.count}, {"finite", st.finite}, {"nan", st.nan}, {"inf", st.inf}, {"zeros", st.zeros}};
    if (st.finite) {
      j["stats"]["min"] = st.min;
      j["stats"]["max"] = st.max;
      j["stats"]["mean"] = mean;
      j["stats"]["std"] = std_dev;
    }
    j["first"] = first;
    fmt::print("{}\n", dump_json(j));
    return kExitOk;
  }
  fmt::print("{}  {} {}  role {}\n", name, dtype_name(t.dtype), shape_string(t.shape), role_name(t.role));
  Table table({"statistic", "value"}, {false, true});
  table.add({"count", grouped(st.count)});
  if (st.finite) {
    table.add({"min", fmt::format("{:.9g}", st.min)});
    table.add({"max", fmt::format("{:.9g}", st.max)});
    table.add({"mean", fmt::format("{:.9g}", mean)});
    table.add({"std", fmt::format("{:.9g}", std_dev)});
  }
  table.add({"NaN", grouped(st.nan)});
  table.add({"Inf", grouped(st.inf)});
  table.add({"zeros", grouped(st.zeros)});
  fmt::print("{}", table.render());
  if (st.nan || st.inf) fmt::print("  (min, max, mean and std are over the finite values)\n");
  std::string first;
  for (std::size_t i = 0; i < st.first.size(); ++i) first += fmt::format("{}{:.6g}", i ? ", " : "", st.first[i]);
  fmt::print("  first {}: [{}{}]\n", st.first.size(), first, st.count > st.first.size() ? ", ..." : "");
  return kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Show what a weights file holds: format, digest, license, provenance, hyperparameters, tensors.\n"
      "Reads OWF, safetensors, GGUF, .npz, .npy (and PyTorch where supported).",
      std::string(kTool)};
  std::string path, tensor, from;
  bool json = false, full = false;
  std::size_t count = 16;
  app.add_option("FILE", path, "weights file")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_option("--tensor", tensor, "print statistics and the first values of this tensor");
  app.add_option("--count", count, "values shown with --tensor")->capture_default_str();
  app.add_flag("--full", full, "do not shorten long hyperparameter and metadata values");
  app.add_option("--from", from, "format, instead of detecting it");
  std::string select;
  app.add_option("--select", select, "PyTorch checkpoints: only the tensors under this key (e.g. model_state_dict)");
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  std::optional<Format> format;
  if (!from.empty()) {
    auto f = parse_format(from);
    if (!f.ok()) {
      print_error(kTool, f.error());
      return kExitUsage;
    }
    format = *f;
  }
  SourceOptions source_options;
  source_options.format = format;
  source_options.select = select;
  auto source = open_source(path, source_options);
  if (!source.ok()) {
    print_error(kTool, source.error());
    return exit_code_for(source.error());
  }
  if (!tensor.empty()) return inspect_tensor(**source, tensor, count, json);

  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  auto digests = compute_digests(**source);
  if (!digests.ok()) {
    print_error(kTool, digests.error());
    return exit_code_for(digests.error());
  }
  if (json)
    fmt::print("{}\n", dump_json(inspect_json(path, size, **source, *digests)));
  else
    print_text(path, size, **source, *digests, full);
  return kExitOk;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run(argc, argv); }
