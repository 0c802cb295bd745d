// The npz reader, past open: every tensor's geometry, every tensor read,
// model information and the weights digest (fuzz_common.hpp).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::exercise_source({data, size}, owf::Format::kNpz);
  return 0;
}
