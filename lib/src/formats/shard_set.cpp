#include "formats/shard_set.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "io/byte_source.hpp"

namespace owf::internal {

namespace {

constexpr std::string_view kIndexSuffix = ".index.json";
// An index names every tensor once (about 100 bytes each): 64 MiB is half a
// million tensors, far beyond any published model, and bounds the memory
// of its parsed form.
constexpr std::uint64_t kMaxIndexBytes = 64ull << 20;
constexpr std::size_t kMaxShards = 100'000;

bool is_index_name(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return name.size() > kIndexSuffix.size() && name.ends_with(kIndexSuffix);
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s.substr(0, 200)) + "'"; }

// A shard is a plain file name in the index's directory: no directory part,
// no way up or out (ONNX external data showed what path traversal in a
// model's own references does).
std::optional<std::string> shard_name_problem(std::string_view name) {
  if (name.empty()) return "the name is empty";
  if (name.find('\0') != std::string_view::npos) return "the name holds a NUL byte";
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    return "a shard must be a plain file name in the index's directory, without '/' or '\\'";
  if (name == "." || name == "..") return "the name is a directory";
  if (name.ends_with(kIndexSuffix)) return "a shard cannot be another index";
  return std::nullopt;
}

struct Index {
  // tensor name -> shard file name, and the shards in order of first use.
  std::map<std::string, std::string> weight_map;
  std::vector<std::string> shards;
};

Result<Index> read_index(const std::filesystem::path& path) {
  OWF_ASSIGN_OR_RETURN(auto file, open_file_source(path));
  const std::string where = path.string();
  if (file->size() > kMaxIndexBytes)
    return Error(ErrorCode::kLimitExceeded, where + ": an index of " + std::to_string(file->size()) +
                                                " bytes, over the limit of " + std::to_string(kMaxIndexBytes));
  OWF_ASSIGN_OR_RETURN(const std::vector<std::byte> bytes, read_range_checked(*file, 0, file->size(), "the index"));
  const auto* text = reinterpret_cast<const char*>(bytes.data());

  // nlohmann::json keeps the last of duplicate keys silently; a tensor the
  // index lists twice (perhaps in two shards) must be an error instead.
  std::string section, duplicate;
  std::set<std::string> seen;
  const auto track = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && parsed.is_string()) {
      if (depth == 1) section = parsed.get<std::string>();
      if (depth == 2 && section == "weight_map" && !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text, text + bytes.size(), track);
  } catch (const nlohmann::json::parse_error& e) {
    return Error(ErrorCode::kForeignFormatInvalid,
                 where + ": not a JSON index (at byte " + std::to_string(e.byte) + "): " + e.what());
  }
  if (!duplicate.empty())
    return Error(ErrorCode::kForeignFormatInvalid,
                 where + ": weight_map lists tensor " + in_quotes(duplicate) + " more than once");
  if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object())
    return Error(ErrorCode::kForeignFormatInvalid, where +
                                                       ": an index must be a JSON object with a \"weight_map\" "
                                                       "object (tensor name -> shard file name)");
  Index index;
  std::set<std::string> shard_set;
  for (const auto& [tensor, shard] : json["weight_map"].items()) {
    if (!shard.is_string())
      return Error(ErrorCode::kForeignFormatInvalid,
                   where + ": weight_map[" + in_quotes(tensor) + "] is not a file name (a JSON string)");
    const std::string name = shard.get<std::string>();
    if (auto problem = shard_name_problem(name))
      return Error(ErrorCode::kForeignFormatInvalid, where + ": weight_map puts tensor " + in_quotes(tensor) +
                                                         " in shard " + in_quotes(name) + ": " + *problem);
    if (shard_set.insert(name).second) index.shards.push_back(name);
    index.weight_map.emplace(tensor, name);
  }
  if (index.shards.size() > kMaxShards)
    return Error(ErrorCode::kLimitExceeded, where + ": " + std::to_string(index.shards.size()) +
                                                " shards, over the limit of " + std::to_string(kMaxShards));
  if (index.weight_map.empty()) return Error(ErrorCode::kForeignFormatInvalid, where + ": weight_map names no tensor");
  return index;
}

class ShardSetSource final : public Source {
 public:
  ShardSetSource(Format format, std::vector<std::unique_ptr<Source>> shards,
                 std::vector<std::pair<std::uint32_t, std::uint32_t>> tensors, std::vector<std::string> notes,
                 std::vector<std::filesystem::path> files)
      : format_(format),
        shards_(std::move(shards)),
        tensors_(std::move(tensors)),
        notes_(std::move(notes)),
        files_(std::move(files)) {}

  Format format() const override { return format_; }
  std::size_t tensor_count() const override { return tensors_.size(); }
  TensorInfo tensor(std::size_t index) const override {
    const auto [shard, i] = tensors_.at(index);
    return shards_[shard]->tensor(i);
  }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    const auto [shard, i] = tensors_.at(index);
    return shards_[shard]->read(i, out);
  }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    const auto [shard, i] = tensors_.at(index);
    return shards_[shard]->read_range(i, offset, out);
  }
  bool ranged_reads() const override {
    return std::all_of(shards_.begin(), shards_.end(), [](const auto& s) { return s->ranged_reads(); });
  }
  // The set's information is the first shard's (Hugging Face shards carry
  // the same metadata each; a difference is a note).
  const ModelInfo& info() const override { return shards_.front()->info(); }
  std::uint64_t alignment() const override { return shards_.front()->alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override {
    const auto [shard, i] = tensors_.at(index);
    return shards_[shard]->tensor_sha256(i);
  }
  std::vector<std::string> notes() const override { return notes_; }
  std::vector<std::filesystem::path> files() const override { return files_; }

 private:
  Format format_;
  std::vector<std::unique_ptr<Source>> shards_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tensors_;  // (shard, index in shard), by name
  std::vector<std::string> notes_;
  std::vector<std::filesystem::path> files_;  // the index, then the shards
};

}  // namespace

Result<std::optional<std::filesystem::path>> find_shard_index(const std::filesystem::path& path) {
  std::error_code ec;
  if (is_index_name(path)) return std::optional(path);
  if (!std::filesystem::is_directory(path, ec)) return std::optional<std::filesystem::path>();
  std::vector<std::filesystem::path> found;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    if (is_index_name(it->path()) && it->is_regular_file(ec)) found.push_back(it->path());
  if (ec) return system_error(path.string(), "list", ec.value());
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    return Error(ErrorCode::kInvalidArgument, path.string() + " holds several shard indexes (" +
                                                  found[0].filename().string() + ", " + found[1].filename().string() +
                                                  ", ...): name the one to open");
  }
  if (found.empty()) return std::optional<std::filesystem::path>();
  return std::optional(found.front());
}

Result<Format> shard_set_format(const std::filesystem::path& index_path) {
  OWF_ASSIGN_OR_RETURN(Index index, read_index(index_path));
  return detect_format(index_path.parent_path() / index.shards.front());
}

Result<std::unique_ptr<Source>> open_shard_set(const std::filesystem::path& index_path, std::optional<Format> format,
                                               const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(Index index, read_index(index_path));
  const std::filesystem::path dir = index_path.parent_path();
  const std::string where = index_path.string();

  std::vector<std::unique_ptr<Source>> shards;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tensors;
  std::vector<std::string> notes;
  std::set<std::string> found;  // tensors found in the shard the index names
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < index.shards.size(); ++k) {
    const std::string& name = index.shards[k];
    auto shard = open_source(dir / name, format, limits);
    if (!shard.ok()) return Error(shard.code(), where + ": shard " + in_quotes(name) + ": " + shard.error().message());
    if (k == 0 && !format) format = (*shard)->format();
    if ((*shard)->format() != *format)
      return Error(ErrorCode::kForeignFormatInvalid,
                   where + ": shard " + in_quotes(name) + " is a " + std::string(format_name((*shard)->format())) +
                       " file; the set's shards are " + std::string(format_name(*format)) + " files");
    if (k > 0 && (*shard)->info() != shards.front()->info())
      notes.push_back("shard " + in_quotes(name) + " carries other model information than shard " +
                      in_quotes(index.shards.front()) + "; the set shows the first shard's");
    const Source& s = **shard;
    total += s.tensor_count();
    if (total > limits.max_tensors)
      return Error(ErrorCode::kLimitExceeded,
                   where + ": the shards hold more than " + std::to_string(limits.max_tensors) + " tensors");
    for (std::size_t i = 0; i < s.tensor_count(); ++i) {
      const std::string tensor(s.tensor(i).name);
      const auto it = index.weight_map.find(tensor);
      if (it == index.weight_map.end())
        return Error(ErrorCode::kForeignFormatInvalid, where + ": shard " + in_quotes(name) + " holds tensor " +
                                                           in_quotes(tensor) + ", which the index does not list");
      if (it->second != name)
        return Error(ErrorCode::kForeignFormatInvalid, where + ": shard " + in_quotes(name) + " holds tensor " +
                                                           in_quotes(tensor) + ", which the index places in shard " +
                                                           in_quotes(it->second));
      found.insert(tensor);
      tensors.emplace_back(static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(i));
    }
    shards.push_back(std::move(*shard));
  }
  for (const auto& [tensor, shard] : index.weight_map)
    if (found.count(tensor) == 0)
      return Error(ErrorCode::kForeignFormatInvalid, where + ": the index places tensor " + in_quotes(tensor) +
                                                         " in shard " + in_quotes(shard) + ", which does not hold it");
  // A shard holding a name twice is its own reader's error; across shards
  // the index rules it out (each tensor has one shard).
  std::sort(tensors.begin(), tensors.end(), [&](const auto& a, const auto& b) {
    return shards[a.first]->tensor(a.second).name < shards[b.first]->tensor(b.second).name;
  });
  std::vector<std::filesystem::path> files = {index_path};
  for (const auto& name : index.shards) files.push_back(dir / name);
  return std::unique_ptr<Source>(std::make_unique<ShardSetSource>(*format, std::move(shards), std::move(tensors),
                                                                  std::move(notes), std::move(files)));
}

}  // namespace owf::internal
