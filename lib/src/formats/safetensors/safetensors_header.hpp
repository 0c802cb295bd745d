// The safetensors JSON header, parsed with nlohmann-json's SAX interface
// straight into the few fields the format has: memory stays proportional
// to the tensor count, not to the header text, and duplicate keys are seen
// (a DOM parser would silently keep the last one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/safetensors/safetensors_format.hpp"
#include "owf/reader.hpp"

namespace owf::internal::safetensors {

struct HeaderTensor {
  std::string name;
  const Dtype* dtype = nullptr;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;  // data_offsets, relative to the data buffer
  std::uint64_t end = 0;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  std::size_t offsets_seen = 0;
};

struct Header {
  std::vector<HeaderTensor> tensors;  // in header order
  std::vector<std::pair<std::string, std::string>> metadata;
  bool has_metadata = false;
};

/// Accepts exactly: {"__metadata__": {str: str, ...}, name: {"dtype": str,
/// "shape": [uint, ...], "data_offsets": [uint, uint]}, ...}, every object
/// without duplicate keys, every tensor name allowed by the tensor-name
/// rule (check_tensor_name), within `limits`. Errors are
/// foreign_format_invalid (or the code of the limit or rule broken),
/// without a file name.
Result<Header> parse_header(std::string_view text, const Limits& limits);

}  // namespace owf::internal::safetensors
