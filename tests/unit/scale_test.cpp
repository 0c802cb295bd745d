// Files at scale: many tensors, and offsets beyond 4 GiB.
#include <doctest/doctest.h>

#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

TEST_CASE("100,000 tensors: every one found by name with its bytes") {
  TempDir dir;
  const auto path = dir / "many.owf";
  constexpr int kCount = 100'000;
  auto name_of = [](int i) { return "layers." + std::to_string(i % 997) + ".t" + std::to_string(i); };
  {
    WriteOptions options;
    options.sync = false;
    auto w = Writer::create(path, options);
    REQUIRE(w.ok());
    std::vector<float> values(16);
    for (int i = 0; i < kCount; ++i) {
      for (int k = 0; k < 16; ++k) values[k] = static_cast<float>(i) + 0.25f * static_cast<float>(k);
      REQUIRE(w->add_tensor({name_of(i), DType::kF32, {4, 4}, Role::kWeight}, std::as_bytes(std::span(values))).ok());
    }
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  REQUIRE(f->tensor_count() == kCount);
  int mismatches = 0;
  for (int i = 0; i < kCount; ++i) {
    auto v = f->view<float>(name_of(i));
    if (!v.ok() || v->size() != 16 || (*v)[0] != static_cast<float>(i) || (*v)[15] != static_cast<float>(i) + 3.75f)
      ++mismatches;
  }
  CHECK(mismatches == 0);
  CHECK_FALSE(f->find("layers.0.t100000").has_value());
  CHECK(f->verify().ok());
}

TEST_CASE("a file over 4 GiB: offsets past 2^32 are written, validated and read [slow]") {
  TempDir dir;
  const auto path = dir / "big.owf";
  constexpr std::uint64_t kBig = (9ull << 29) + 12345;  // 4.5 GiB + a bit
  constexpr std::size_t kPiece = 64u << 20;
  auto pattern_at = [](std::uint64_t i) { return static_cast<std::byte>((i * 2654435761ull) >> 24); };
  std::vector<std::byte> piece(kPiece);
  {
    WriteOptions options;
    options.sync = false;
    auto w = Writer::create(path, options);
    REQUIRE(w.ok());
    REQUIRE(w->begin_tensor({"big", DType::kU8, {kBig}, Role::kOther}).ok());
    for (std::uint64_t at = 0; at < kBig; at += kPiece) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, kBig - at));
      for (std::size_t k = 0; k < n; ++k) piece[k] = pattern_at(at + k);
      REQUIRE(w->append(std::span(piece).first(n)).ok());
    }
    REQUIRE(w->end_tensor().ok());
    const std::int64_t tail[2] = {-1, 42};
    REQUIRE(w->add_tensor({"tail", DType::kI64, {2}, Role::kOther}, std::as_bytes(std::span(tail))).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->file_size() > (1ull << 32));
  auto tail = f->tensor("tail");
  REQUIRE(tail.ok());
  CHECK(tail->offset > (1ull << 32));
  auto values = f->view<std::int64_t>("tail");
  REQUIRE(values.ok());
  CHECK((*values)[1] == 42);
  auto big = f->tensor("big");
  REQUIRE(big.ok());
  std::vector<std::byte> end(4096);
  REQUIRE(f->read_range(*big, kBig - end.size(), end).ok());
  bool same = true;
  for (std::size_t k = 0; k < end.size(); ++k) same = same && end[k] == pattern_at(kBig - end.size() + k);
  CHECK(same);
  CHECK(f->verify().ok());
}
