// The read-ahead of a conversion (lib/src/tensor_read_ahead.hpp): every
// byte of every tensor, in order, in pieces that fit its blocks; errors that
// name the tensor; a consumer that stops early.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fake_source.hpp"
#include "tensor_read_ahead.hpp"

using namespace owf;
using owf::internal::TensorReadAhead;
using owf::test::FakeSource;
using owf::test::FakeTensor;

namespace {

constexpr std::uint64_t kBlock = TensorReadAhead::kBlockBytes;

std::vector<FakeTensor> mixed_tensors() {
  std::vector<FakeTensor> t;
  const std::uint64_t sizes[] = {0, 10, 3 * kBlock / 2 + 3, kBlock, 5 * kBlock / 2, 1};
  std::uint8_t salt = 0;
  for (std::uint64_t size : sizes) t.push_back({"t" + std::to_string(salt), DType::kU8, {size}, 0, salt++});
  for (int i = 0; i < 1000; ++i) t.push_back({"s" + std::to_string(i), DType::kU8, {64}, 0, salt++});
  return t;
}

}  // namespace

TEST_CASE("read-ahead hands over every byte of every tensor in order, in bounded pieces") {
  for (bool ranged : {true, false}) {
    CAPTURE(ranged);
    const auto tensors = mixed_tensors();
    FakeSource source(tensors, ranged);
    std::vector<std::size_t> order;
    for (std::size_t i = tensors.size(); i-- > 0;) order.push_back(i);  // not the source's order
    std::vector<std::vector<std::byte>> got(tensors.size());
    std::vector<std::size_t> seen;
    {
      TensorReadAhead ahead(source, order);
      for (;;) {
        auto piece = ahead.next();
        REQUIRE(piece.ok());
        if (!*piece) break;
        const auto& p = **piece;
        auto& bytes = got[p.index];
        CHECK(p.offset == bytes.size());  // contiguous
        if (p.offset == 0) seen.push_back(p.index);
        bytes.insert(bytes.end(), p.bytes.begin(), p.bytes.end());
        CHECK(p.last == (bytes.size() == source.tensor(p.index).logical_bytes));
      }
    }
    CHECK(seen == order);
    // Ranged sources are read in pieces no larger than a block; others whole.
    CHECK(source.largest_read() == (ranged ? kBlock : 5 * kBlock / 2));
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      std::vector<std::byte> expected(source.tensor(i).logical_bytes);
      REQUIRE(source.read(i, expected).ok());
      CHECK(got[i] == expected);
    }
  }
}

TEST_CASE("a read that fails part-way is an error naming the tensor, after the pieces before it") {
  std::vector<FakeTensor> tensors = {{"first", DType::kU8, {100}}, {"broken", DType::kU8, {3 * kBlock}}};
  FakeSource source(tensors, true, kBlock + 1);  // reads beyond this many bytes of a tensor fail
  TensorReadAhead ahead(source, {0, 1});
  std::uint64_t bytes = 0;
  for (;;) {
    auto piece = ahead.next();
    if (!piece.ok()) {
      CHECK(piece.error().code() == ErrorCode::kIoError);
      CHECK(piece.error().message().find("tensor 'broken'") != std::string::npos);
      break;
    }
    REQUIRE(piece->has_value());
    bytes += (*piece)->bytes.size();
  }
  CHECK(bytes < 100 + kBlock + 1);
}

TEST_CASE("a consumer that stops early stops the reader") {
  const auto tensors = mixed_tensors();
  FakeSource source(tensors, true);
  std::vector<std::size_t> order(tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  TensorReadAhead ahead(source, order);
  auto piece = ahead.next();
  REQUIRE(piece.ok());
  CHECK(piece->has_value());
  // Destroyed here with blocks still to read: must return, not wait.
}

TEST_CASE("no tensors: no pieces") {
  FakeSource source({}, true);
  TensorReadAhead ahead(source, {});
  auto piece = ahead.next();
  REQUIRE(piece.ok());
  CHECK(!piece->has_value());
}
