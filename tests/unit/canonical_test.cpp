// Canonical tensor bytes (spec/format.md §5, rule R36): the check on pieces
// of logical bytes, and the writer refusing what verification would refuse.
#include "canonical.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "test_util.hpp"

using namespace owf;
using internal::find_noncanonical_byte;

namespace {

std::vector<std::byte> bytes(std::initializer_list<unsigned> values) {
  std::vector<std::byte> out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

}  // namespace

TEST_CASE("a BOOL is the byte 0 or 1, wherever the piece starts") {
  CHECK_FALSE(find_noncanonical_byte(DType::kBool, 4, bytes({0, 1, 1, 0}), 0));
  CHECK(find_noncanonical_byte(DType::kBool, 4, bytes({0, 1, 2, 0}), 0) == 2u);
  CHECK(find_noncanonical_byte(DType::kBool, 4, bytes({0xFF}), 0) == 0u);
  // A piece holding logical bytes [100, 103) reports absolute offsets.
  CHECK(find_noncanonical_byte(DType::kBool, 1000, bytes({1, 0x80, 3}), 100) == 101u);
  // Other 1-byte dtypes take every byte.
  CHECK_FALSE(find_noncanonical_byte(DType::kU8, 2, bytes({2, 0xFF}), 0));
  CHECK_FALSE(find_noncanonical_byte(DType::kF8_E8M0, 2, bytes({2, 0xFF}), 0));
}

TEST_CASE("the bits after the last element of a packed tensor are zero") {
  // F4_E2M1: 3 elements in 2 bytes; the high nibble of byte 1 is unused.
  CHECK_FALSE(find_noncanonical_byte(DType::kF4_E2M1, 3, bytes({0xFF, 0x0F}), 0));
  CHECK(find_noncanonical_byte(DType::kF4_E2M1, 3, bytes({0xFF, 0x1F}), 0) == 1u);
  // 4 elements fill both bytes: nothing unused.
  CHECK_FALSE(find_noncanonical_byte(DType::kF4_E2M1, 4, bytes({0xFF, 0xFF}), 0));
  // F6_E2M3: 5 elements are 30 bits in 4 bytes; bits 6 and 7 of byte 3 are unused.
  CHECK_FALSE(find_noncanonical_byte(DType::kF6_E2M3, 5, bytes({0xFF, 0xFF, 0xFF, 0x3F}), 0));
  CHECK(find_noncanonical_byte(DType::kF6_E2M3, 5, bytes({0, 0, 0, 0x80}), 0) == 3u);
  // F6_E3M2: 1 element, 6 bits of 1 byte.
  CHECK(find_noncanonical_byte(DType::kF6_E3M2, 1, bytes({0x40}), 0) == 0u);
  CHECK_FALSE(find_noncanonical_byte(DType::kF6_E3M2, 4, bytes({0xFF, 0xFF, 0xFF}), 0));
  // Only the piece holding the last byte can fail; other bytes are all used.
  CHECK_FALSE(find_noncanonical_byte(DType::kF6_E2M3, 5, bytes({0xFF, 0xFF}), 0));
  CHECK(find_noncanonical_byte(DType::kF6_E2M3, 5, bytes({0xFF, 0xC0}), 2) == 3u);
  // Block-quantized and other types have no unused bits.
  CHECK_FALSE(find_noncanonical_byte(DType::kQ4_0, 32, std::vector<std::byte>(18, std::byte{0xFF}), 0));
  CHECK_FALSE(find_noncanonical_byte(DType::kF4_E2M1, 0, {}, 0));
}

TEST_CASE("the error names the tensor, the byte and its value") {
  const auto s = internal::check_canonical_bytes("flags", DType::kBool, 3, bytes({0, 7}), 1);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == ErrorCode::kNonCanonicalTensorData);
  CHECK(s.error().message() == "tensor 'flags': logical byte 2 is 0x07; a BOOL is the byte 0 or 1");
  CHECK(error_code_name(ErrorCode::kNonCanonicalTensorData) == "noncanonical_tensor_data");
}

TEST_CASE("the writer refuses non-canonical bytes, whole or streamed, and takes canonical ones") {
  owf::test::TempDir dir;
  auto w = Writer::create(dir / "c.owf");
  REQUIRE(w.ok());
  CHECK(w->add_tensor({"b", DType::kBool, {3}, Role::kOther}, bytes({0, 2, 1})).code() ==
        ErrorCode::kNonCanonicalTensorData);
  REQUIRE(w->begin_tensor({"f4", DType::kF4_E2M1, {3}, Role::kOther}).ok());
  REQUIRE(w->append(bytes({0xAB})).ok());
  CHECK(w->append(bytes({0xF1})).code() == ErrorCode::kNonCanonicalTensorData);
  REQUIRE(w->append(bytes({0x01})).ok());
  REQUIRE(w->end_tensor().ok());
  REQUIRE(w->add_tensor({"ok", DType::kBool, {3}, Role::kOther}, bytes({0, 1, 1})).ok());
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  REQUIRE(w->finish().ok());
  auto f = File::open(dir / "c.owf");
  REQUIRE(f.ok());
  CHECK(f->tensor_count() == 2);
  CHECK(f->verify().ok());
}
