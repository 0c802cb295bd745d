// Element counts and logical sizes (spec/format.md §5, rules R18 and R19).
#include "owf/dtype.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace owf;

namespace {

using Shape = std::vector<std::uint64_t>;

ErrorCode size_error(DType dtype, const Shape& shape) {
  auto r = tensor_byte_size(dtype, shape);
  return r.ok() ? ErrorCode::kOk : r.code();
}

}  // namespace

TEST_CASE("the element count is the exact product: a zero dimension makes it 0 whatever the others are") {
  CHECK(element_count(Shape{}).value() == 1);
  CHECK(element_count(Shape{2, 3, 4}).value() == 24);
  // Running products of the leading dimensions overflow, the product does not.
  CHECK(element_count(Shape{1ull << 32, 1ull << 32, 0}).value() == 0);
  CHECK(element_count(Shape{UINT64_MAX, UINT64_MAX, 0, 7}).value() == 0);
  CHECK(element_count(Shape{0, UINT64_MAX}).value() == 0);
  CHECK(element_count(Shape{1ull << 32, 1ull << 32, 2}).code() == ErrorCode::kShapeOverflow);
  CHECK(element_count(Shape{UINT64_MAX, 1}).value() == UINT64_MAX);
  CHECK(tensor_byte_size(DType::kF64, Shape{1ull << 40, 1ull << 40, 0}).value() == 0);
}

TEST_CASE("logical sizes of packed and block-quantized dtypes") {
  CHECK(tensor_byte_size(DType::kF4_E2M1, Shape{3, 5}).value() == 8);  // 15 nibbles
  CHECK(tensor_byte_size(DType::kF6_E2M3, Shape{5}).value() == 4);     // 30 bits
  CHECK(tensor_byte_size(DType::kF6_E3M2, Shape{}).value() == 1);
  CHECK(tensor_byte_size(DType::kQ4_0, Shape{2, 64}).value() == 2 * 2 * 18);
  CHECK(tensor_byte_size(DType::kQ8_K, Shape{1, 256}).value() == 292);
  CHECK(tensor_byte_size(DType::kQ4_0, Shape{0, 32}).value() == 0);
  CHECK(tensor_byte_size(DType::kQ4_0, Shape{3, 0}).value() == 0);
}

TEST_CASE("block-quantized rows are whole blocks, also with a zero dimension; a scalar is one element") {
  CHECK(size_error(DType::kQ4_0, {2, 31}) == ErrorCode::kTensorSizeMismatch);
  CHECK(size_error(DType::kQ4_K, {2, 128}) == ErrorCode::kTensorSizeMismatch);
  CHECK(size_error(DType::kMXFP4, {16}) == ErrorCode::kTensorSizeMismatch);
  CHECK(size_error(DType::kQ4_0, {0, 31}) == ErrorCode::kTensorSizeMismatch);
  CHECK(size_error(DType::kQ8_0, {}) == ErrorCode::kTensorSizeMismatch);
  // Packed sub-byte floats are not block-quantized: any element count.
  CHECK(size_error(DType::kF6_E2M3, {7}) == ErrorCode::kOk);
}

TEST_CASE("an overflowing size is reported before a partial block (R18 before R19)") {
  // 2^64 - 32 elements of Q8_0 (34 bytes per 32) need more than 2^64 bytes.
  CHECK(element_count(Shape{(1ull << 59) - 1, 32}).ok());
  CHECK(size_error(DType::kQ8_0, {(1ull << 59) - 1, 32}) == ErrorCode::kShapeOverflow);
  // The same with rows of 31: both rules are broken, R18 is reported.
  CHECK(size_error(DType::kQ8_0, {(1ull << 59) - 1, 31}) == ErrorCode::kShapeOverflow);
  // Block types that shrink their elements never overflow the byte size.
  CHECK(size_error(DType::kQ4_0, {(1ull << 59) - 1, 32}) == ErrorCode::kOk);
}
