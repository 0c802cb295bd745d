// read_strided (lib/src/formats/strided_read.hpp), the one way PyTorch
// views and Fortran-order NumPy arrays are read: every byte range of
// randomly drawn layouts (transposes, slices with steps, broadcasts,
// overlapping strides, big-endian swapping, long contiguous runs) equals
// what an element-by-element reference gathers, and reading a piece of a
// huge broadcast allocates about the piece.
#include "formats/strided_read.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "alloc_tracking.hpp"
#include "test_util.hpp"

using namespace owf;
using internal::StridedLayout;

namespace {

// The logical bytes of the whole view, one element at a time.
std::vector<std::byte> reference(std::span<const std::byte> source, const StridedLayout& l) {
  std::uint64_t count = 1;
  for (auto d : l.shape) count *= d;
  const std::uint64_t es = l.element_bytes;
  std::vector<std::byte> out(count * es);
  std::vector<std::uint64_t> index(l.shape.size(), 0);
  for (std::uint64_t e = 0; e < count; ++e) {
    std::uint64_t at = l.first;
    for (std::size_t d = 0; d < index.size(); ++d) at += index[d] * l.stride[d];
    std::memcpy(out.data() + e * es, source.data() + l.storage_offset + at * es, es);
    for (std::uint64_t u = 0; l.swap_unit > 1 && u < es; u += l.swap_unit)
      std::reverse(out.begin() + e * es + u, out.begin() + e * es + u + l.swap_unit);
    for (std::size_t d = index.size(); d-- > 0;) {
      if (++index[d] < l.shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

struct Drawn {
  StridedLayout layout;
  std::vector<std::byte> source;
};

Drawn draw(std::mt19937& rng) {
  auto pick = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  StridedLayout l;
  const std::uint64_t sizes[] = {1, 2, 4, 8, 16};
  l.element_bytes = sizes[pick(0, 4)];
  l.swap_unit =
      pick(0, 1) == 0 ? 1 : (l.element_bytes == 16 || pick(0, 3) == 0 ? l.element_bytes / 2 : l.element_bytes);
  if (l.swap_unit == 0) l.swap_unit = 1;
  const std::size_t rank = pick(0, 4);
  for (std::size_t d = 0; d < rank; ++d) l.shape.push_back(pick(0, 9) == 0 ? pick(0, 1) : pick(1, 7));
  if (rank > 0 && pick(0, 5) == 0) {  // long runs
    for (auto& dim : l.shape) dim = std::min<std::uint64_t>(dim, 3);
    l.shape[rank - 1] = pick(3000, 20000);
  }
  // Strides: a permuted row-major layout of a larger base array (slices,
  // steps, transposes), with some dimensions broadcast or overlapping.
  std::vector<std::size_t> order(rank);
  std::iota(order.begin(), order.end(), 0);
  if (pick(0, 1)) std::shuffle(order.begin(), order.end(), rng);
  l.stride.assign(rank, 0);
  std::uint64_t s = pick(1, 3);
  for (std::size_t k = rank; k-- > 0;) {
    const std::size_t d = order[k];
    l.stride[d] = s;
    s *= l.shape[d] + pick(0, 2);
  }
  for (std::size_t d = 0; d < rank; ++d) {
    if (pick(0, 5) == 0) l.stride[d] = 0;           // broadcast
    if (pick(0, 9) == 0) l.stride[d] = pick(1, 2);  // overlapping
  }
  l.first = pick(0, 5);
  l.storage_offset = pick(0, 40);
  const std::uint64_t span = l.span_bytes();
  l.storage_bytes = l.first * l.element_bytes + std::max<std::uint64_t>(span, 1) + pick(0, 16);
  Drawn out{l, owf::test::pseudo_random_bytes(static_cast<std::size_t>(l.storage_offset + l.storage_bytes),
                                              static_cast<std::uint32_t>(pick(0, 1u << 30)))};
  return out;
}

}  // namespace

TEST_CASE("read_strided equals an element-by-element gather for every range of random layouts") {
  std::mt19937 rng(20261201);
  for (int round = 0; round < 400; ++round) {
    const Drawn d = draw(rng);
    const StridedLayout& l = d.layout;
    INFO("round " << round << " element bytes " << l.element_bytes << " rank " << l.shape.size());
    const auto source = internal::buffer_source(d.source, "storage");
    const std::vector<std::byte> want = reference(d.source, l);
    std::vector<std::byte> got(want.size());
    REQUIRE(internal::read_strided(*source, l, 0, got).ok());
    CHECK(got == want);
    for (int r = 0; r < 20 && !want.empty(); ++r) {
      const std::uint64_t a = std::uniform_int_distribution<std::uint64_t>(0, want.size() - 1)(rng);
      const std::uint64_t b = std::uniform_int_distribution<std::uint64_t>(a, want.size())(rng);
      std::vector<std::byte> part(b - a);
      REQUIRE(internal::read_strided(*source, l, a, part).ok());
      CHECK(std::equal(part.begin(), part.end(), want.begin() + static_cast<std::ptrdiff_t>(a)));
    }
  }
}

TEST_CASE("a piece of a 1 TiB broadcast is read with memory for the piece only") {
  const std::vector<std::byte> storage = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const auto source = internal::buffer_source(storage, "storage");
  StridedLayout l;
  l.element_bytes = 4;
  l.storage_bytes = 4;
  l.shape = {1ull << 20, 1ull << 18};  // 2^38 elements of 4 bytes
  l.stride = {0, 0};
  std::vector<std::byte> piece(1 << 20);
  owf::test::AllocationPeak peak;
  REQUIRE(internal::read_strided(*source, l, (1ull << 40) - piece.size() - 2, piece).ok());
  CHECK(peak.peak_growth() < 64 * 1024);
  CHECK(piece[0] == std::byte{3});
  CHECK(piece[2] == std::byte{1});
  CHECK(piece[piece.size() - 1] == std::byte{2});
}
