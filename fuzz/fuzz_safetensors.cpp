// The safetensors reader, past open: every tensor's geometry, every tensor
// read (whole and in pieces), model information and the weights digest;
// then the writer: the file it writes from the source opens again with the
// same tensors and the same digest.
#include "fuzz_budget.hpp"
#include "fuzz_common.hpp"
#include "fuzz_round_trip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::within_budget(size, [&] {
    owf::fuzz::exercise_source({data, size}, owf::Format::kSafetensors);
    owf::fuzz::exercise_round_trip(
        {data, size}, owf::Format::kSafetensors,
        [](const owf::Source& s, const std::filesystem::path& out) { return owf::internal::write_safetensors(s, out); },
        /*same_order=*/false);
  });
  return 0;
}
