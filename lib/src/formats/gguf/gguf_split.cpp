// GGUF split sets read as one Source (spec/interchange.md, GGUF "Split
// sets"), after llama.cpp: the names are llama_split_path's
// (llama.cpp/src/llama.cpp), the keys and what the first split holds are
// gguf-split's (tools/gguf-split/gguf-split.cpp), and the checks are those
// of llama_model_loader (src/llama-model-loader.cpp) and more. The union
// itself is the shard sets' (formats/shard_set.hpp).
#include "formats/gguf/gguf_split.hpp"

#include <algorithm>
#include <cstdio>
#include <system_error>
#include <vector>

#include "formats/gguf/gguf_format.hpp"
#include "formats/gguf/gguf_metadata.hpp"
#include "formats/shard_set.hpp"
#include "io/http_source.hpp"

namespace owf::internal {

namespace gguf {

std::string split_path(std::string_view prefix, std::uint32_t no, std::uint32_t count) {
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, "-%05u-of-%05u.gguf", no + 1, count);
  return std::string(prefix) + suffix;
}

}  // namespace gguf

namespace {

using namespace gguf;

// Compatibility notes of the whole set, at most (each split has its own
// bound; a set may have thousands of splits).
constexpr std::size_t kMaxSetNotes = 64;

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

/// "key 'split.no' (key/value pair 3 at byte 120)"
std::string key_at(std::string_view key, const SplitKey& k) {
  return "key " + in_quotes(key) + " (key/value pair " + std::to_string(k.pair) + " at byte " + std::to_string(k.at) +
         ")";
}

Error invalid(const std::string& where, const std::string& message) {
  return Error(ErrorCode::kForeignFormatInvalid, where + ": " + message);
}

/// The split keys of a member of a set, checked for type and range.
struct SetKeys {
  std::uint32_t no = 0;
  std::uint32_t count = 0;
  std::uint64_t tensors_count = 0;
};

/// A key of the type llama.cpp writes and its loader insists on.
Result<std::int64_t> typed_key(const std::string& where, std::string_view key, const std::optional<SplitKey>& k,
                               std::uint32_t type) {
  if (!k)
    return invalid(where, "a GGUF split without the key " + in_quotes(key) +
                              " (llama.cpp's gguf-split writes split.no, split.count and split.tensors.count into "
                              "every split)");
  if (k->type != type || !k->value)
    return invalid(where, key_at(key, *k) + " must have type " + std::string(value_type_name(type)) + ", not " +
                              std::string(value_type_name(k->type)));
  return *k->value;
}

/// nullopt when the file is no split of a set: no split.count, or one of
/// 0 (what gguf-split --merge leaves in a merged file) or 1.
Result<std::optional<SetKeys>> set_keys(const std::string& where, const SplitKeys& split, const Limits& limits) {
  if (!split.count) return std::optional<SetKeys>();
  OWF_ASSIGN_OR_RETURN(const std::int64_t count, typed_key(where, kSplitCountKey, split.count, kU16));
  if (count < 2) return std::optional<SetKeys>();
  if (static_cast<std::uint64_t>(count) > kMaxShards)  // a u16 cannot be; the bound stays if the type is widened
    return Error(ErrorCode::kLimitExceeded, where + ": " + key_at(kSplitCountKey, *split.count) + " is " +
                                                std::to_string(count) + ", above the limit of " +
                                                std::to_string(kMaxShards) + " files");
  OWF_ASSIGN_OR_RETURN(const std::int64_t no, typed_key(where, kSplitNoKey, split.no, kU16));
  if (no >= count)
    return invalid(where, key_at(kSplitNoKey, *split.no) + " is " + std::to_string(no) +
                              ", not below split.count = " + std::to_string(count) + " (split.no counts from 0)");
  OWF_ASSIGN_OR_RETURN(const std::int64_t tensors, typed_key(where, kSplitTensorsCountKey, split.tensors_count, kI32));
  if (tensors < 0)
    return invalid(
        where, key_at(kSplitTensorsCountKey, *split.tensors_count) + " is negative (" + std::to_string(tensors) + ")");
  if (static_cast<std::uint64_t>(tensors) > limits.max_tensors)
    return Error(ErrorCode::kLimitExceeded, where + ": " + key_at(kSplitTensorsCountKey, *split.tensors_count) +
                                                " is " + std::to_string(tensors) + ", above max_tensors (" +
                                                std::to_string(limits.max_tensors) + ")");
  return std::optional(
      SetKeys{static_cast<std::uint32_t>(no), static_cast<std::uint32_t>(count), static_cast<std::uint64_t>(tensors)});
}

/// The path without "-NNNNN-of-MMMMM.gguf", and the numbers, when the path
/// ends so: 5 digits each, as llama_split_path's %05d writes every number
/// a u16 can hold, after a non-empty prefix (llama_split_prefix).
struct SplitName {
  std::string prefix;
  std::uint64_t no1 = 0;  // 1-based
  std::uint64_t count = 0;
};

std::optional<SplitName> parse_split_name(const std::string& path) {
  constexpr std::string_view kExt = ".gguf";
  if (!path.ends_with(kExt)) return std::nullopt;
  std::size_t end = path.size() - kExt.size();
  // The 5 digits before `e`, which must follow `before`.
  const auto digits = [&](std::size_t& e, std::uint64_t& value, std::string_view before) {
    if (e < 5 + before.size()) return false;
    const std::size_t b = e - 5;
    for (std::size_t k = b; k < e; ++k)
      if (path[k] < '0' || path[k] > '9') return false;
    if (path.compare(b - before.size(), before.size(), before) != 0) return false;
    value = std::stoull(path.substr(b, 5));
    e = b - before.size();
    return true;
  };
  SplitName n;
  if (!digits(end, n.count, "-of-") || !digits(end, n.no1, "-") || end == 0) return std::nullopt;
  n.prefix = path.substr(0, end);
  return n;
}

/// The model information without what the GGUF reader records about the
/// file's tensors (their order, file shapes), for comparing splits.
ModelInfo without_tensor_records(ModelInfo info) {
  const std::string shape_prefix = file_shape_key("");
  std::erase_if(info.metadata,
                [&](const auto& kv) { return kv.first == "gguf.tensor_order" || kv.first.starts_with(shape_prefix); });
  return info;
}

/// Where the splits of a set are: files beside the one named, or URLs
/// beside the one named (the same query after each).
struct Location {
  std::string named;                      // the path, or the URL without its query and fragment
  std::string tail;                       // a URL's query and fragment
  const RemoteOptions* remote = nullptr;  // null: local files

  /// A split's path or URL for messages (no credentials).
  std::string shown(const std::string& at) const { return remote ? redacted_url(at) : at; }
  /// The same for Source::files(): a URL without its query (as open_source shows URLs).
  std::string listed(const std::string& at) const {
    std::string s = shown(at);
    if (remote && s.ends_with("?...")) s.resize(s.size() - 4);
    return s;
  }
};

/// The set that `named` (already opened, with `keys`) is a split of.
Result<std::unique_ptr<Source>> open_set(GgufFile named, const SetKeys* keys, const Location& loc,
                                         const Limits& limits) {
  const std::string where = loc.shown(loc.named + loc.tail);
  const std::filesystem::path path = loc.named;  // for its file name
  const auto name = parse_split_name(loc.named);
  const std::string expected_suffix = split_path("", keys->no, keys->count);
  if (!name)
    return invalid(where, "a GGUF split (split.no = " + std::to_string(keys->no) +
                              ", split.count = " + std::to_string(keys->count) + ") whose name does not end in " +
                              in_quotes("-NNNNN-of-NNNNN.gguf") + " (here " + in_quotes(expected_suffix) +
                              "), so the other splits of its set cannot be found; llama.cpp names splits "
                              "PREFIX-00001-of-00003.gguf (llama_split_path): rename the files so");
  if (name->no1 != keys->no + 1 || name->count != keys->count)
    return invalid(where, "the name says split " + std::to_string(name->no1) + " of " + std::to_string(name->count) +
                              ", but the file's keys say split " + std::to_string(keys->no + 1) + " of " +
                              std::to_string(keys->count) + " (split.no = " + std::to_string(keys->no) +
                              ", split.count = " + std::to_string(keys->count) + ")");

  std::vector<ShardMember> members;
  members.reserve(keys->count);
  std::vector<std::filesystem::path> files;
  std::vector<std::string> notes;
  std::vector<std::string> order;  // the tensors in split order, each split's in file order
  std::uint64_t dropped_notes = 0;
  const auto add_note = [&](std::string note) {
    if (notes.size() < kMaxSetNotes)
      notes.push_back(std::move(note));
    else
      ++dropped_notes;
  };
  for (std::uint32_t i = 0; i < keys->count; ++i) {
    const std::string split_named = split_path(name->prefix, i, keys->count);
    const std::string split = split_named + loc.tail;
    const std::string split_where = loc.shown(split);
    const std::string split_name = std::filesystem::path(split_named).filename().string();
    GgufFile file;
    if (i == keys->no) {
      file = std::move(named);
    } else {
      std::error_code ec;  // other reasons a split cannot be read are its own error, below
      if (!loc.remote && !std::filesystem::exists(split, ec) && !ec)
        return invalid(where, "split " + std::to_string(i + 1) + " of " + std::to_string(keys->count) + ", " +
                                  in_quotes(split_name) + ", is missing (" + split_where + " does not exist)");
      auto split_bytes = loc.remote ? open_http_source(split, *loc.remote) : open_file_source(split);
      if (!split_bytes.ok())
        return Error(split_bytes.code(),
                     where + ": split " + in_quotes(split_name) + ": " + split_bytes.error().message());
      auto opened = open_gguf_file(std::move(*split_bytes), limits, true);
      if (!opened.ok())
        return Error(opened.code(), where + ": split " + in_quotes(split_where) + ": " + opened.error().message());
      file = std::move(*opened);
      auto k = set_keys(split_where, file.split, limits);
      if (!k.ok()) return Error(k.code(), where + ": " + k.error().message());
      if (!*k)
        return invalid(where, "split " + in_quotes(split_where) + " is no split of a set: its " +
                                  (file.split.count ? key_at(kSplitCountKey, *file.split.count) + " is " +
                                                          std::to_string(*file.split.count->value)
                                                    : "key " + in_quotes(kSplitCountKey) + " is missing") +
                                  ", not " + std::to_string(keys->count));
      if ((*k)->count != keys->count)
        return invalid(where, "split " + in_quotes(split_where) + " has " + key_at(kSplitCountKey, *file.split.count) +
                                  " = " + std::to_string((*k)->count) + ", but " + in_quotes(path.filename().string()) +
                                  " and the file names say " + std::to_string(keys->count));
      if ((*k)->no != i)
        return invalid(where, "split " + in_quotes(split_where) + " has " + key_at(kSplitNoKey, *file.split.no) +
                                  " = " + std::to_string((*k)->no) + ", but its name makes it split.no " +
                                  std::to_string(i));
      if ((*k)->tensors_count != keys->tensors_count)
        return invalid(where, "split " + in_quotes(split_where) + " has " +
                                  key_at(kSplitTensorsCountKey, *file.split.tensors_count) + " = " +
                                  std::to_string((*k)->tensors_count) + ", but " + in_quotes(path.filename().string()) +
                                  " says " + std::to_string(keys->tensors_count));
    }
    const Source& s = *file.source;
    for (const auto& n : s.notes()) add_note("split " + in_quotes(split_name) + ": " + n);
    // gguf-split writes the model's pairs into the first split only; a later
    // split with pairs of its own that differ is read, and said.
    if (i > 0) {
      const ModelInfo other = without_tensor_records(s.info());
      if (other != ModelInfo{} && other != without_tensor_records(members.front().source->info()))
        add_note("split " + in_quotes(split_name) + " carries other model information than the first split " +
                 in_quotes(members.front().name) + "; the set shows the first split's");
    }
    // Past split.tensors.count, the rest of the set need not be read.
    if (s.tensor_count() > keys->tensors_count - order.size())
      return invalid(where, "the first " + std::to_string(i + 1) + " of " + std::to_string(keys->count) +
                                " splits already hold " + std::to_string(order.size() + s.tensor_count()) +
                                " tensors, but split.tensors.count is " + std::to_string(keys->tensors_count));
    for (std::size_t t = 0; t < s.tensor_count(); ++t) order.emplace_back(s.tensor(t).name);
    members.push_back({split_name, std::move(file.source)});
    files.push_back(loc.listed(split));
  }

  if (dropped_notes > 0) notes.push_back(std::to_string(dropped_notes) + " more notes like these");

  // The first split's information, without the split keys (left out by the
  // reader), with the set's tensor order and every split's file shapes.
  ModelInfo info = members.front().source->info();
  info.metadata.erase("gguf.tensor_order");
  const std::string shape_prefix = file_shape_key("");
  for (std::size_t i = 1; i < members.size(); ++i)
    for (const auto& [key, value] : members[i].source->info().metadata)
      if (key.starts_with(shape_prefix)) info.metadata[key] = value;
  record_tensor_order(info, order);

  ShardUnion set;
  set.where = where;
  set.noun = "split";
  set.format = Format::kGguf;
  set.info = std::move(info);
  set.notes = std::move(notes);
  set.files = std::move(files);
  OWF_ASSIGN_OR_RETURN(auto source, union_of_shards(std::move(members), std::move(set), limits));
  if (source->tensor_count() != keys->tensors_count)
    return invalid(where, "the " + std::to_string(keys->count) + " splits hold " +
                              std::to_string(source->tensor_count()) + " tensors, but split.tensors.count is " +
                              std::to_string(keys->tensors_count));
  return source;
}

}  // namespace

Result<std::unique_ptr<Source>> open_gguf_model(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(auto bytes, open_file_source(path));
  OWF_ASSIGN_OR_RETURN(GgufFile named, open_gguf_file(std::move(bytes), limits, true));
  OWF_ASSIGN_OR_RETURN(const std::optional<SetKeys> keys, set_keys(path.string(), named.split, limits));
  if (!keys) return std::move(named.source);
  return open_set(std::move(named), &*keys, Location{path.string(), "", nullptr}, limits);
}

Result<std::unique_ptr<Source>> open_gguf_model(std::shared_ptr<const ByteSource> bytes, const std::string& url,
                                                const RemoteOptions& remote, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(GgufFile named, open_gguf_file(std::move(bytes), limits, true));
  OWF_ASSIGN_OR_RETURN(const std::optional<SetKeys> keys, set_keys(redacted_url(url), named.split, limits));
  if (!keys) return std::move(named.source);
  const std::size_t cut = std::min(url.find('?'), url.find('#'));
  Location loc{url.substr(0, cut), cut == std::string::npos ? "" : url.substr(cut), &remote};
  return open_set(std::move(named), &*keys, loc, limits);
}

}  // namespace owf::internal
