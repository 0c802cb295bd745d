// The readers whose every tensor reads by ranges (NumPy .npy/.npz, PyTorch):
// past open, each tensor is read in bounded pieces at its start, middle and
// end whatever size it declares (a piece must cost the piece), pieces of
// small tensors must equal their whole reads, and the peak memory of the
// whole run must stay within a budget proportional to the input: a file
// that makes a reader allocate far more than its own size fails here even
// when the allocation succeeds.
#pragma once

#include <cstring>

#include "fuzz_budget.hpp"
#include "fuzz_common.hpp"

namespace owf::fuzz {

/// Largest piece read at once.
inline constexpr std::uint64_t kPieceBytes = 1ull << 20;

inline void read_pieces(const Source& s, std::size_t index, std::vector<std::byte>& piece) {
  const TensorInfo t = s.tensor(index);
  const std::uint64_t n = t.logical_bytes;
  if (n == 0) return;
  std::vector<std::byte> whole;
  const bool small = n <= kPieceBytes;
  if (small) {
    whole.resize(static_cast<std::size_t>(n));
    if (!s.read(index, whole).ok()) whole.clear();
  }
  // Both ends, the middle, and a range that starts inside an element.
  for (const std::uint64_t at : {std::uint64_t{0}, n / 2, n - std::min(n, kPieceBytes), std::uint64_t{n > 1}}) {
    const auto length = static_cast<std::size_t>(std::min(kPieceBytes, n - at));
    const auto part = std::span(piece).first(length);
    if (s.read_range(index, at, part).ok() && !whole.empty())
      FUZZ_ASSERT(std::memcmp(part.data(), whole.data() + at, length) == 0);
  }
}

inline bool read_all_in_pieces(const Source& s, std::size_t index, std::vector<std::byte>& piece) {
  const std::uint64_t n = s.tensor(index).logical_bytes;
  for (std::uint64_t at = 0; at < n; at += kPieceBytes) {
    const auto part = std::span(piece).first(static_cast<std::size_t>(std::min(kPieceBytes, n - at)));
    if (!s.read_range(index, at, part).ok()) return false;
  }
  return true;
}

inline void exercise_ranges(const Source& s, Format format) {
  FUZZ_ASSERT(s.format() == format);
  FUZZ_ASSERT(s.ranged_reads());
  std::uint64_t logical_total = 0;
  for (std::size_t i = 0; i < s.tensor_count(); ++i) {
    const TensorInfo t = s.tensor(i);
    check_tensor_geometry(t, false);
    logical_total += t.logical_bytes;
  }
  for (const auto& [k, v] : s.info().hyperparameters) touch(k, v);
  for (const auto& [k, v] : s.info().metadata) touch(k, v);
  std::vector<std::byte> piece(kPieceBytes);
  for (std::size_t i = 0; i < s.tensor_count(); ++i) read_pieces(s, i, piece);
  if (logical_total > kMaxLogicalBytes) return;
  bool all_read = true;
  for (std::size_t i = 0; i < s.tensor_count(); ++i) all_read = read_all_in_pieces(s, i, piece) && all_read;
  if (all_read) (void)compute_weights_digest(s, 1);
}

inline void exercise_ranged_source(std::span<const std::uint8_t> data, Format format) {
  within_budget(data.size(), [&] {
    MemoryFile file(data);
    auto source = open_source(file.path(), format, limits());
    if (source.ok()) exercise_ranges(**source, format);
  });
}

}  // namespace owf::fuzz
