// safetensors (https://github.com/huggingface/safetensors) file-format
// constants shared by the reader and the writer (spec/interchange.md,
// "safetensors"):
//
//   [u64 LE header length N][N bytes of JSON header][data buffer]
#pragma once

#include <cstdint>
#include <string_view>

#include "owf/dtype.hpp"

namespace owf::internal::safetensors {

// The official library refuses headers above 100 MB; so do we.
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr std::string_view kMetadataKey = "__metadata__";

/// A safetensors dtype. `rank` is the position in safetensors' Dtype enum,
/// which the official writer sorts by (descending) before the name.
struct Dtype {
  std::string_view name;
  DType dtype;
  int rank;
  unsigned bits;
};

const Dtype* dtype_by_name(std::string_view name);
const Dtype* dtype_of(DType dtype);
/// Packed sub-byte dtypes (F4, F6_*) must fill whole bytes.
bool fills_whole_bytes(const Dtype& dtype, std::uint64_t element_count);

}  // namespace owf::internal::safetensors
