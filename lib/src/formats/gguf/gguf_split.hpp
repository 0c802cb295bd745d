// GGUF split sets (spec/interchange.md, GGUF "Split sets"): the files
// llama.cpp's gguf-split tool writes, NAME-00001-of-00003.gguf ..., read as
// one Source. Each split carries the keys split.no (u16, 0-based),
// split.count (u16) and split.tensors.count (i32, the tensors of all
// splits); the first split also carries the model's key/value pairs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "io/byte_source.hpp"
#include "owf/remote.hpp"
#include "owf/source.hpp"

namespace owf::internal::gguf {

inline constexpr std::string_view kSplitNoKey = "split.no";
inline constexpr std::string_view kSplitCountKey = "split.count";
inline constexpr std::string_view kSplitTensorsCountKey = "split.tensors.count";
inline constexpr std::string_view kSplitKeyPrefix = "split.";

/// A split.* key as found in a file: its value type, its value when that is
/// an integer, and where its key/value pair is.
struct SplitKey {
  std::uint32_t type = 0;
  std::optional<std::int64_t> value;  // integers of any type
  std::uint64_t pair = 0;             // the index of the key/value pair
  std::uint64_t at = 0;               // where the pair starts
};

struct SplitKeys {
  std::optional<SplitKey> no, count, tensors_count;
  /// split.count is a u16 of 2 or more: the file is one split of a set.
  bool member() const;
};

/// One GGUF file and its split keys.
struct GgufFile {
  std::unique_ptr<Source> source;
  SplitKeys split;
};

/// Reads one GGUF file (headers only), like open_gguf(). When the file is a
/// split of a set: with `as_member`, the split.* keys are left out of its
/// model information (they describe the files, not the model); without, they
/// are kept and a note says that the file is one split of a set.
Result<GgufFile> open_gguf_file(std::shared_ptr<const ByteSource> bytes, const Limits& limits, bool as_member);

/// The name of split `no` (0-based) of `count` whose path begins with
/// `prefix`: llama.cpp's llama_split_path, "PREFIX-%05d-of-%05d.gguf".
std::string split_path(std::string_view prefix, std::uint32_t no, std::uint32_t count);

}  // namespace owf::internal::gguf

namespace owf::internal {

/// The GGUF file at `path`, or, when it is a split of a set (split.count of
/// 2 or more), the whole set as one Source: the union of the splits'
/// tensors, sorted by name, with the first split's model information. Any
/// split may be named.
Result<std::unique_ptr<Source>> open_gguf_model(const std::filesystem::path& path, const Limits& limits);
/// The same for the GGUF file at `url`, already opened (`bytes`): the other
/// splits are the URLs with the split's name changed (the query kept).
Result<std::unique_ptr<Source>> open_gguf_model(std::shared_ptr<const ByteSource> bytes, const std::string& url,
                                                const RemoteOptions& remote, const Limits& limits);

}  // namespace owf::internal
