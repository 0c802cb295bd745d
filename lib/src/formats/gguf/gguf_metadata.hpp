// GGUF key/value pairs <-> ModelInfo (spec/interchange.md, GGUF "Model
// information"): every pair lands in exactly one place of ModelInfo and the
// writer puts it back with the same key, type, bytes and order. Also the
// metadata the reader records about tensors (the file's tensor order, file
// shapes of tensors exposed as 1-D) and the writer reads back.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf/gguf_values.hpp"
#include "owf/metadata.hpp"

namespace owf::internal::gguf {

/// A key/value pair as read from a file.
struct KeyValue {
  std::string key;
  std::uint32_t type = 0;
  std::optional<Value> value;  // nullopt: the value has no owf::Value counterpart
  std::vector<std::byte> raw;  // when !value: the bytes after the type field
};

/// Maps the pairs, in file order, onto ModelInfo.
ModelInfo model_info_from_kvs(std::vector<KeyValue> kvs);

/// The pairs to write for `info`, in order; general.alignment is set to
/// `alignment` when that is not GGUF's default or the key is present.
Result<std::vector<std::pair<std::string, EncodedValue>>> kvs_from_model_info(const ModelInfo& info,
                                                                              std::uint64_t alignment);

/// Records the file's tensor order (two or more tensors) in
/// metadata["gguf.tensor_order"].
void record_tensor_order(ModelInfo& info, std::span<const std::string> names);
/// The recorded tensor order; empty when there is none.
std::vector<std::string> recorded_tensor_order(const ModelInfo& info);

/// Records the file shape (row-major) of a tensor exposed as 1-D in
/// metadata["gguf.shape.<name>"].
void record_file_shape(ModelInfo& info, const std::string& name, std::span<const std::uint64_t> shape);
/// The metadata key record_file_shape() writes for tensor `name`.
std::string file_shape_key(std::string_view name);
/// The dimensions to write for a tensor (row-major): its shape, or the
/// recorded file shape of a 1-D tensor with the same element count.
std::vector<std::uint64_t> file_shape(const ModelInfo& info, std::string_view name,
                                      std::span<const std::uint64_t> shape);

}  // namespace owf::internal::gguf
