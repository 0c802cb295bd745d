#include "codec.hpp"

#include <string>

namespace owf::internal {

Status check_chunk_table(const TensorInfo& tensor, const ChunkTable&, const Limits&) {
  return Error(ErrorCode::kUnsupported, "tensor '" + std::string(tensor.name) + "' uses codec " +
                                            std::string(codec_name(tensor.codec)) + ", which this build cannot decode");
}

Status decode_range(const TensorInfo& tensor, const ChunkTable&, std::span<const std::byte>, std::uint64_t,
                    std::span<std::byte>, unsigned) {
  return Error(ErrorCode::kUnsupported, "tensor '" + std::string(tensor.name) + "' uses codec " +
                                            std::string(codec_name(tensor.codec)) + ", which this build cannot decode");
}

}  // namespace owf::internal
