// owf-inspect FILE: what a weights file holds, in any supported format.
#include <fmt/core.h>

#include <cmath>

#include "cli.hpp"
#include "model_report.hpp"
#include "render.hpp"
#include "values.hpp"

namespace owf::tools {
namespace {

std::string hex_of(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  for (auto b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

constexpr std::string_view kTool = "owf-inspect";

int inspect_tensor(const Source& source, const std::string& name, std::size_t show, bool json) {
  const auto index = source.find(name);
  if (!index) return fail(kTool, Error(ErrorCode::kNotFound, "no tensor named '" + name + "'"));
  const TensorInfo t = source.tensor(*index);
  nlohmann::json j{{"name", name},
                   {"dtype", std::string(dtype_name(t.dtype))},
                   {"shape", shape_json(t.shape)},
                   {"role", std::string(role_name(t.role))},
                   {"element_count", t.element_count}};
  if (!can_decode(t.dtype)) {
    const auto info = dtype_info(t.dtype);
    const std::string why = fmt::format(
        "statistics are not supported for dtype {} ({})", dtype_name(t.dtype),
        info && info->kind == DTypeClass::kComplex ? "complex values" : "a ggml type this library does not decode");
    if (json) {
      j["stats"] = nullptr;
      j["note"] = why;
      fmt::print("{}\n", dump_json(j));
    } else {
      fmt::print("{}  {} {}  {} elements\n  {}\n", printable(name), dtype_name(t.dtype), shape_string(t.shape),
                 grouped(t.element_count), why);
    }
    return kExitOk;
  }
  auto st = tensor_stats(source, *index, show);
  if (!st.ok()) return fail(kTool, st.error());
  const std::string note = value_note(t.dtype);
  if (json) {
    if (!note.empty()) j["values"] = note;
    auto first = nlohmann::json::array();
    for (double v : st->first) first.push_back(double_json(v));
    j["stats"] = {
        {"count", st->count}, {"finite", st->finite}, {"nan", st->nan}, {"inf", st->inf}, {"zeros", st->zeros}};
    if (st->finite) {
      j["stats"]["min"] = st->min;
      j["stats"]["max"] = st->max;
      j["stats"]["mean"] = st->mean;
      j["stats"]["std"] = st->std_dev;
    }
    j["first"] = first;
    fmt::print("{}\n", dump_json(j));
    return kExitOk;
  }
  fmt::print("{}  {} {}  role {}{}\n", printable(name), dtype_name(t.dtype), shape_string(t.shape), role_name(t.role),
             note.empty() ? "" : "  (values " + note + ")");
  Table table({"statistic", "value"}, {false, true});
  table.add({"count", grouped(st->count)});
  if (st->finite) {
    table.add({"min", fmt::format("{:.9g}", st->min)});
    table.add({"max", fmt::format("{:.9g}", st->max)});
    table.add({"mean", fmt::format("{:.9g}", st->mean)});
    table.add({"std", fmt::format("{:.9g}", st->std_dev)});
  }
  table.add({"NaN", grouped(st->nan)});
  table.add({"Inf", grouped(st->inf)});
  table.add({"zeros", grouped(st->zeros)});
  fmt::print("{}", table.render());
  if (st->nan || st->inf) fmt::print("  (min, max, mean and std are over the finite values)\n");
  std::string first;
  for (std::size_t i = 0; i < st->first.size(); ++i) first += fmt::format("{}{:.6g}", i ? ", " : "", st->first[i]);
  fmt::print("  first {}: [{}{}]\n", st->first.size(), first, st->count > st->first.size() ? ", ..." : "");
  return kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Show what a weights file holds: format, digest, license, provenance, hyperparameters, tensors.\n"
      "Reads OWF, safetensors, GGUF, .npz, .npy and PyTorch checkpoints (without running their pickles).",
      std::string(kTool)};
  std::string path, tensor, from, select;
  bool json = false, full = false;
  std::size_t count = 16;
  app.add_option("FILE", path, "weights file")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_option("--tensor", tensor, "print statistics and the first values of this tensor");
  app.add_option("--count", count, "values shown with --tensor")->capture_default_str();
  app.add_flag("--full", full, "do not shorten long hyperparameter and metadata values");
  app.add_option("--from", from, "format, instead of detecting it");
  app.add_option("--select", select, "PyTorch checkpoints: only the tensors under this key (e.g. model_state_dict)");
  add_remote_options(app);
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  auto source = open_input(path, from, select);
  if (!source.ok()) return fail(kTool, source.error());
  if (!tensor.empty()) return inspect_tensor(**source, tensor, count, json);

  auto digests = compute_digests(**source);
  if (!digests.ok()) return fail(kTool, digests.error());
  std::optional<std::uint64_t> size;
  if (const File* f = (*source)->owf_file()) {
    size = f->file_size();
  } else if (const auto files = (*source)->files(); !files.empty() && !is_url(path)) {
    std::error_code ec;  // a shard set: its index and every shard (or a GGUF split set: its splits)
    size = 0;
    for (const auto& file : files) *size += std::filesystem::file_size(file, ec);
  } else if (!is_url(path)) {
    std::error_code ec;
    size = std::filesystem::file_size(path, ec);
  }
  const FileReport report{path, size, source->get(), &*digests};
  // Embedded signatures are listed, not checked (owf-verify --trusted-key does).
  std::vector<Signature> signatures;
  if (const File* f = (*source)->owf_file()) signatures = embedded_signatures(*f);
  if (json) {
    nlohmann::json j = report_json(report);
    auto sigs = nlohmann::json::array();
    for (const auto& s : signatures)
      sigs.push_back(
          {{"algorithm", s.algorithm}, {"key_id", s.key_id}, {"covers", s.covers}, {"signature", hex_of(s.bytes)}});
    j["signatures"] = sigs;
    j["info_digest"] = to_hex(info_digest(**source));
    fmt::print("{}\n", dump_json(j));
  } else {
    print_report(report, full);
    if (!signatures.empty()) {
      fmt::print("signatures ({}, not checked here: owf-verify --trusted-key):\n", signatures.size());
      for (const auto& s : signatures)
        fmt::print("  {} key {} covers {}\n", printable(s.algorithm), printable(s.key_id), printable(s.covers));
    }
  }
  return kExitOk;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-inspect", owf::tools::run, argc, argv); }
