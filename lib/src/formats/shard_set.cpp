#include "formats/shard_set.hpp"

#include <algorithm>
#include <cassert>
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
  // tensor name -> shard (an index into `shards`), and the shards in order
  // of first mention.
  std::map<std::string, std::uint32_t, std::less<>> weight_map;
  std::vector<std::string> shards;
};

// Reads an index as a stream of JSON events, keeping only "weight_map":
// time linear in the index and memory proportional to what it keeps (a DOM
// of 64 MiB of JSON costs gigabytes; nlohmann's parse callbacks cost
// quadratic time). Also refuses what a DOM would silently merge: a tensor
// or "weight_map" listed twice.
class IndexReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  IndexReader(const Limits& limits) : limits_(limits) {}

  bool null() override { return value("null"); }
  bool boolean(bool) override { return value("a boolean"); }
  bool number_integer(number_integer_t) override { return value("a number"); }
  bool number_unsigned(number_unsigned_t) override { return value("a number"); }
  bool number_float(number_float_t, const string_t&) override { return value("a number"); }
  bool binary(binary_t&) override { return value("binary data"); }
  bool string(string_t& s) override {
    if (!in_weight_map_value()) return value("a string");
    if (auto problem = shard_name_problem(s))
      return fail("weight_map puts tensor " + in_quotes(tensor_) + " in shard " + in_quotes(s) + ": " + *problem);
    auto [it, added] = shard_numbers_.emplace(s, static_cast<std::uint32_t>(index_.shards.size()));
    if (added) {
      if (index_.shards.size() >= kMaxShards)
        return fail("more than " + std::to_string(kMaxShards) + " shards", ErrorCode::kLimitExceeded);
      index_.shards.push_back(s);
    }
    index_.weight_map.emplace(std::move(tensor_), it->second);
    return true;
  }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      top_key_ = k;
      if (k == "weight_map" && saw_weight_map_) return fail("\"weight_map\" appears twice");
      return true;
    }
    if (depth_ == 2 && top_key_ == "weight_map") {
      if (index_.weight_map.count(k) != 0) return fail("weight_map lists tensor " + in_quotes(k) + " more than once");
      if (index_.weight_map.size() >= limits_.max_tensors)
        return fail("weight_map lists more than " + std::to_string(limits_.max_tensors) + " tensors",
                    ErrorCode::kLimitExceeded);
      tensor_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    if (!error_) {
      std::string what = e.what();
      if (what.size() > 200) what = what.substr(0, 200) + "...";
      return fail("not a JSON index (at byte " + std::to_string(position) + "): " + what);
    }
    return false;
  }

  /// The index, or what is wrong with it.
  Result<Index> finish() {
    if (error_) return *error_;
    if (!saw_weight_map_)
      return Error(ErrorCode::kForeignFormatInvalid,
                   "an index must be a JSON object with a \"weight_map\" object (tensor name -> shard file name)");
    if (index_.weight_map.empty()) return Error(ErrorCode::kForeignFormatInvalid, "weight_map names no tensor");
    return std::move(index_);
  }

 private:
  // Index nesting is 2 levels deep; metadata may nest a little more.
  static constexpr int kMaxDepth = 64;

  bool in_weight_map_value() const { return depth_ == 2 && top_key_ == "weight_map"; }
  bool value(std::string_view what) {
    if (depth_ == 0) return fail("an index must be a JSON object, not " + std::string(what));
    if (depth_ == 1 && top_key_ == "weight_map")
      return fail("\"weight_map\" is " + std::string(what) + ", not an object");
    if (in_weight_map_value())
      return fail("weight_map[" + in_quotes(tensor_) + "] is " + std::string(what) +
                  ", not a file name (a JSON string)");
    return true;
  }
  bool open(bool object) {
    if (depth_ == 0 && !object) return fail("an index must be a JSON object, not an array");
    if (depth_ == 1 && top_key_ == "weight_map") {
      if (!object) return fail("\"weight_map\" is an array, not an object");
      saw_weight_map_ = true;
    } else if (in_weight_map_value()) {
      return value(object ? "an object" : "an array");
    }
    if (++depth_ > kMaxDepth) return fail("nested more than " + std::to_string(kMaxDepth) + " levels deep");
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool fail(std::string message, ErrorCode code = ErrorCode::kForeignFormatInvalid) {
    if (!error_) error_ = Error(code, std::move(message));
    return false;
  }

  const Limits& limits_;
  Index index_;
  std::map<std::string, std::uint32_t, std::less<>> shard_numbers_;
  int depth_ = 0;
  std::string top_key_, tensor_;
  bool saw_weight_map_ = false;
  std::optional<Error> error_;
};

Result<Index> read_index(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(auto file, open_file_source(path));
  const std::string where = path.string();
  if (file->size() > kMaxIndexBytes)
    return Error(ErrorCode::kLimitExceeded, where + ": an index of " + std::to_string(file->size()) +
                                                " bytes, over the limit of " + std::to_string(kMaxIndexBytes));
  OWF_ASSIGN_OR_RETURN(const std::vector<std::byte> bytes, read_range_checked(*file, 0, file->size(), "the index"));
  const auto* text = reinterpret_cast<const char*>(bytes.data());
  IndexReader reader(limits);
  try {
    nlohmann::json::sax_parse(text, text + bytes.size(), &reader);
  } catch (const std::exception& e) {  // the SAX parser reports errors to parse_error; this is a safety net
    return Error(ErrorCode::kForeignFormatInvalid,
                 where + ": not a JSON index: " + std::string(e.what()).substr(0, 200));
  }
  auto index = reader.finish();
  if (!index.ok()) return Error(index.code(), where + ": " + index.error().message());
  return index;
}

class ShardSetSource final : public Source {
 public:
  ShardSetSource(std::vector<std::unique_ptr<Source>> shards,
                 std::vector<std::pair<std::uint32_t, std::uint32_t>> tensors, ShardUnion set)
      : shards_(std::move(shards)), tensors_(std::move(tensors)), set_(std::move(set)) {}

  Format format() const override { return set_.format; }
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
  // The set's information is the caller's, else the first shard's (Hugging
  // Face shards carry the same metadata each; a difference is a note).
  const ModelInfo& info() const override { return set_.info ? *set_.info : shards_.front()->info(); }
  std::uint64_t alignment() const override { return shards_.front()->alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override {
    const auto [shard, i] = tensors_.at(index);
    return shards_[shard]->tensor_sha256(i);
  }
  std::vector<std::string> notes() const override { return set_.notes; }
  std::vector<std::filesystem::path> files() const override { return set_.files; }

 private:
  std::vector<std::unique_ptr<Source>> shards_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tensors_;  // (shard, index in shard), by name
  ShardUnion set_;
};

}  // namespace

Result<std::unique_ptr<Source>> union_of_shards(std::vector<ShardMember> members, ShardUnion set,
                                                const Limits& limits) {
  assert(!members.empty() && members.size() <= kMaxShards);
  std::uint64_t total = 0;
  for (const auto& m : members) total += m.source->tensor_count();
  if (total > limits.max_tensors)
    return Error(ErrorCode::kLimitExceeded, set.where + ": the " + set.noun + "s hold more than " +
                                                std::to_string(limits.max_tensors) + " tensors");
  std::vector<std::unique_ptr<Source>> shards;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tensors;
  tensors.reserve(static_cast<std::size_t>(total));
  for (std::size_t k = 0; k < members.size(); ++k)
    for (std::size_t i = 0; i < members[k].source->tensor_count(); ++i)
      tensors.emplace_back(static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(i));
  // Names are compared once each, not fetched anew for every comparison.
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const auto& [shard, i] : tensors) names.emplace_back(members[shard].source->tensor(i).name);
  std::vector<std::uint32_t> by_name(tensors.size());
  for (std::size_t k = 0; k < by_name.size(); ++k) by_name[k] = static_cast<std::uint32_t>(k);
  std::stable_sort(by_name.begin(), by_name.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return names[a] < names[b]; });
  // A member holding a name twice is its own reader's error.
  for (std::size_t k = 1; k < by_name.size(); ++k)
    if (names[by_name[k - 1]] == names[by_name[k]])
      return Error(ErrorCode::kForeignFormatInvalid,
                   set.where + ": tensor " + in_quotes(names[by_name[k]]) + " is in " + set.noun + " " +
                       in_quotes(members[tensors[by_name[k - 1]].first].name) + " and in " + set.noun + " " +
                       in_quotes(members[tensors[by_name[k]].first].name));
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sorted;
  sorted.reserve(tensors.size());
  for (std::uint32_t k : by_name) sorted.push_back(tensors[k]);
  shards.reserve(members.size());
  for (auto& m : members) shards.push_back(std::move(m.source));
  return std::unique_ptr<Source>(
      std::make_unique<ShardSetSource>(std::move(shards), std::move(sorted), std::move(set)));
}

Result<std::optional<std::filesystem::path>> find_shard_index(const std::filesystem::path& path) {
  std::error_code ec;
  if (is_index_name(path)) return std::optional(path);
  if (!std::filesystem::is_directory(path, ec)) return std::optional<std::filesystem::path>();
  std::vector<std::filesystem::path> found;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    if (is_index_name(it->path())) found.push_back(it->path());  // opening it says what else it is
  if (ec) return system_error(path.string(), "list", ec.value());
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    return Error(ErrorCode::kInvalidArgument, path.string() + " holds several shard indexes (" +
                                                  found[0].filename().string() + ", " + found[1].filename().string() +
                                                  ", ...): name the one to open");
  }
  if (found.empty()) return std::optional<std::filesystem::path>();  // an OWF shard set, if anything
  return std::optional(found.front());
}

Result<Format> shard_set_format(const std::filesystem::path& index_path) {
  OWF_ASSIGN_OR_RETURN(Index index, read_index(index_path, Limits{}));
  return detect_format(index_path.parent_path() / index.shards.front());
}

Result<std::unique_ptr<Source>> open_shard_set(const std::filesystem::path& index_path, std::optional<Format> format,
                                               const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(Index index, read_index(index_path, limits));
  const std::filesystem::path dir = index_path.parent_path();
  const std::string where = index_path.string();

  std::vector<ShardMember> shards;
  std::vector<std::string> notes;
  std::set<std::string_view> found;  // tensors found in the shard the index names
  std::uint64_t total = 0;
  std::optional<Format> set_format;  // the first shard's
  for (std::size_t k = 0; k < index.shards.size(); ++k) {
    const std::string& name = index.shards[k];
    // Each shard's format is its own (or the caller's), so that a shard of
    // another format is reported as such rather than misread.
    auto shard = open_source(dir / name, format, limits);
    if (!shard.ok()) return Error(shard.code(), where + ": shard " + in_quotes(name) + ": " + shard.error().message());
    if (!set_format) set_format = (*shard)->format();
    if ((*shard)->format() != *set_format)
      return Error(ErrorCode::kForeignFormatInvalid,
                   where + ": shard " + in_quotes(name) + " is a " + std::string(format_name((*shard)->format())) +
                       " file; the set's shards are " + std::string(format_name(*set_format)) + " files");
    if (k > 0 && (*shard)->info() != shards.front().source->info())
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
      if (it->second != k)
        return Error(ErrorCode::kForeignFormatInvalid, where + ": shard " + in_quotes(name) + " holds tensor " +
                                                           in_quotes(tensor) + ", which the index places in shard " +
                                                           in_quotes(index.shards[it->second]));
      found.insert(it->first);
    }
    shards.push_back({name, std::move(*shard)});
  }
  for (const auto& [tensor, shard] : index.weight_map)
    if (found.count(tensor) == 0)
      return Error(ErrorCode::kForeignFormatInvalid, where + ": the index places tensor " + in_quotes(tensor) +
                                                         " in shard " + in_quotes(index.shards[shard]) +
                                                         ", which does not hold it");
  ShardUnion set;
  set.where = where;
  set.noun = "shard";
  set.format = *set_format;
  set.notes = std::move(notes);
  set.files = {index_path};
  for (const auto& name : index.shards) set.files.push_back(dir / name);
  return union_of_shards(std::move(shards), std::move(set), limits);
}

Result<std::string> shard_index_json(const std::map<std::string, std::string>& weight_map, std::uint64_t total_size) {
  // nlohmann's objects are std::maps: keys in byte order, which for UTF-8
  // is code point order, Python's sort_keys order.
  nlohmann::json index;
  index["metadata"]["total_size"] = total_size;
  nlohmann::json& map = index["weight_map"];
  map = nlohmann::json::object();
  for (const auto& [tensor, shard] : weight_map) map[tensor] = shard;
  try {
    // indent 2, ensure_ascii as Python's default: the same bytes as json.dumps.
    return index.dump(2, ' ', /*ensure_ascii=*/true) + "\n";
  } catch (const nlohmann::json::exception& e) {
    return Error(ErrorCode::kBadUtf8, std::string("a tensor or shard name is not UTF-8: ") + e.what());
  }
}

}  // namespace owf::internal
