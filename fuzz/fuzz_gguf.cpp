// The gguf reader, past open: every tensor's geometry, every tensor read
// (whole and in pieces), model information, compatibility notes and the
// weights digest; then the writer: the file it writes from the source
// opens again with the same tensors in the same order and the same digest.
#include "fuzz_budget.hpp"
#include "fuzz_common.hpp"
#include "fuzz_round_trip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::within_budget(size, [&] {
    owf::fuzz::exercise_source({data, size}, owf::Format::kGguf);
    owf::fuzz::exercise_round_trip(
        {data, size}, owf::Format::kGguf,
        [](const owf::Source& s, const std::filesystem::path& out) { return owf::internal::write_gguf(s, out, 0); },
        /*same_order=*/true);
  });
  return 0;
}
