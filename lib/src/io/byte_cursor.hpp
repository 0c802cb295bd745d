// A bounded sequential reader over a ByteSource, shared by the binary
// parsers (GGUF, pickle, NumPy headers): little-endian scalars, strings and
// byte runs, each checked against the end of the range before anything is
// read or allocated, with errors that name the offset. Reads go through a
// small window refilled with read_at(), so a parser never maps the file and
// a remote source is read in few large requests.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "io/byte_source.hpp"
#include "owf/error.hpp"

namespace owf::internal {

class ByteCursor {
 public:
  /// Reads [begin, end) of `source` (clamped to its size). Errors carry
  /// `code`. `window`: bytes fetched per refill (larger for remote sources).
  ByteCursor(const ByteSource& source, std::uint64_t begin, std::uint64_t end,
             ErrorCode code = ErrorCode::kForeignFormatInvalid, std::size_t window = 64u << 10);
  ByteCursor(const ByteCursor&) = delete;
  ByteCursor& operator=(const ByteCursor&) = delete;

  /// Absolute offset of the next byte in the source.
  std::uint64_t offset() const { return position_; }
  std::uint64_t end() const { return end_; }
  std::uint64_t remaining() const { return end_ - position_; }
  const ByteSource& source() const { return source_; }

  /// A little-endian scalar (integers, float, double).
  template <class T>
  Result<T> read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    OWF_ASSIGN_OR_RETURN(std::span<const std::byte> b, view(sizeof(T), what));
    T v;
    std::memcpy(&v, b.data(), sizeof(T));
    return v;  // little-endian hosts only (layout.cpp asserts it)
  }
  /// The next `n` bytes, valid until the next call; n at most the window.
  Result<std::span<const std::byte>> view(std::size_t n, std::string_view what);
  /// The next out.size() bytes, of any size.
  Status read_into(std::span<std::byte> out, std::string_view what);
  /// The next `n` bytes as a string; fails with limit_exceeded above `limit`
  /// before allocating.
  Result<std::string> read_string(std::uint64_t n, std::uint64_t limit, std::string_view what);
  Status skip(std::uint64_t n, std::string_view what);
  /// Moves to an absolute offset inside [begin, end].
  Status seek(std::uint64_t offset);

  /// An error of this cursor's code at the current offset: "at byte N: message".
  Error error_here(std::string_view message) const;
  Error error_at(std::uint64_t offset, std::string_view message) const;

 private:
  Status need(std::uint64_t n, std::string_view what) const;

  const ByteSource& source_;
  std::uint64_t begin_;
  std::uint64_t end_;
  ErrorCode code_;
  std::size_t window_size_;
  std::uint64_t position_;
  // Memory sources are read in place; others through `window_`, which
  // holds bytes [window_start_, window_start_ + window_.size()).
  std::span<const std::byte> memory_;
  std::vector<std::byte> window_;
  std::uint64_t window_start_ = 0;
};

}  // namespace owf::internal
