#include "model_report.hpp"

#include <fmt/core.h>

#include <limits>
#include <map>

#include "render.hpp"

namespace owf::tools {
namespace {

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
  if (const FileSet* s = source.owf_file_set()) return fmt::format("OWF shard set of {} files", s->shard_count());
  return std::string(format_name(source.format()));
}

// Each shard's own numbers (spec/shards.md): the set's files are open by now.
struct ShardRow {
  std::string file;
  std::uint64_t file_size = 0;
  std::uint64_t tensor_count = 0;
  std::string first_tensor;
  std::string weights_digest;
};

std::vector<ShardRow> shard_rows(const FileSet& set) {
  std::vector<ShardRow> rows;
  for (std::size_t k = 0; k < set.shard_count(); ++k) {
    const ShardEntry& e = set.shard(k);
    auto file = set.shard_file(k);
    rows.push_back(
        {e.file_name, file.ok() ? (*file)->file_size() : 0, e.tensor_count, e.first_tensor, to_hex(e.weights_digest)});
  }
  return rows;
}

void print_shards(const FileSet& set) {
  fmt::print("\nshards ({})\n", set.shard_count());
  Table t({"file", "size", "tensors", "first tensor", "weights digest"}, {false, true, true, false, false});
  for (const ShardRow& r : shard_rows(set))
    t.add({printable(r.file), human_bytes(r.file_size), grouped(r.tensor_count), printable(r.first_tensor),
           r.weights_digest});
  fmt::print("{}", t.render());
}

void print_license(const std::optional<License>& license) {
  fmt::print("\nlicense\n");
  if (!license) {
    fmt::print("  (none declared)\n");
    return;
  }
  const License& l = *license;
  print_field("spdx", l.spdx);
  print_field("concluded", l.concluded);
  print_field("name", l.name);
  print_field("url", l.url);
  for (const auto& c : l.copyright) print_field("copyright", c);
  print_field("attribution", l.attribution);
  print_field("restrictions", l.restrictions);
  if (!l.text.empty()) print_field("text", fmt::format("({} bytes)", l.text.size()));
}

void print_provenance(const Provenance& p) {
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
}

void print_totals(const Totals& totals) {
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

}  // namespace

nlohmann::json report_json(const FileReport& r) {
  const Source& source = *r.source;
  const ModelInfo& info = source.info();
  nlohmann::json j;
  j["file"] = r.path;
  j["format"] = std::string(format_name(source.format()));
  if (const File* f = source.owf_file())
    j["format_version"] = fmt::format("{}.{}", f->version().major, f->version().minor);
  j["file_size"] = r.size ? nlohmann::json(*r.size) : nlohmann::json(nullptr);
  if (const auto files = source.files(); !files.empty()) {
    j["files"] = nlohmann::json::array();
    for (const auto& f : files) j["files"].push_back(f.string());
  }
  if (const FileSet* set = source.owf_file_set()) {
    auto shards = nlohmann::json::array();
    for (const ShardRow& r : shard_rows(*set))
      shards.push_back({{"file", r.file},
                        {"file_size", r.file_size},
                        {"tensor_count", r.tensor_count},
                        {"first_tensor", r.first_tensor},
                        {"weights_digest", r.weights_digest}});
    j["shard_set"] = {{"weights_digest", to_hex(set->weights_digest())}, {"shards", shards}};
  }
  j["alignment"] = source.alignment();
  j["weights_digest"] = to_hex(r.digests->weights);
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
                       {"sha256", to_hex(r.digests->tensors[i])}});
  }
  j["tensors"] = tensors;
  const Totals totals = totals_of(source);
  nlohmann::json by_dtype = nlohmann::json::object(), by_role = nlohmann::json::object();
  for (const auto& [d, eb] : totals.by_dtype) by_dtype[d] = {{"elements", eb.first}, {"stored_bytes", eb.second}};
  for (const auto& [role, n] : totals.by_role) by_role[role] = n;
  j["totals"] = {{"tensors", source.tensor_count()},
                 {"parameters", totals.parameters},
                 {"stored_bytes", totals.stored_bytes},
                 {"by_dtype", by_dtype},
                 {"by_role", by_role}};
  return j;
}

void print_report(const FileReport& r, bool full) {
  const Source& source = *r.source;
  const ModelInfo& info = source.info();
  fmt::print("{}\n", printable(r.path));
  print_field("format", format_title(source));
  print_field("file size", !r.size          ? std::string("unknown (remote file)")
                           : *r.size < 1024 ? human_bytes(*r.size)
                                            : fmt::format("{} bytes ({})", grouped(*r.size), human_bytes(*r.size)));
  if (source.owf_file_set() != nullptr) {
    // The shards are listed below.
  } else if (const auto files = source.files(); !files.empty()) {
    // A Hugging Face index and its shards, or the splits of a GGUF split set.
    const bool index = files.front().filename().string().ends_with(".index.json");
    print_field("files", fmt::format("{} ({}{} {}: {} ... {})", files.size(), index ? "an index and " : "",
                                     files.size() - (index ? 1 : 0), index ? "shards" : "GGUF splits",
                                     printable(files[index ? 1 : 0].filename().string()),
                                     printable(files.back().filename().string())));
  }
  print_field("alignment", source.alignment() ? std::to_string(source.alignment()) : std::string("-"));
  print_field("weights digest", to_hex(r.digests->weights));
  if (const FileSet* set = source.owf_file_set()) print_shards(*set);
  print_license(info.license);
  print_provenance(info.provenance);

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
  print_totals(totals_of(source));
}

}  // namespace owf::tools
