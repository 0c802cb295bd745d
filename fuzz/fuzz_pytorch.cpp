// The pytorch reader, past open: every tensor read in bounded pieces whatever
// its declared size, model information, the weights digest, and peak memory
// proportional to the input (fuzz_ranged.hpp).
#include "fuzz_ranged.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::exercise_ranged_source({data, size}, owf::Format::kPyTorch);
  return 0;
}
