// Shared by the fuzz targets: limits, invariant checks, and a way to hand
// bytes to readers that only open paths.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "owf/dtype.hpp"
#include "owf/elements.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"
#include "owf/source.hpp"
#include "owf/tensor.hpp"

/// Invariant checks stay on in every build type (NDEBUG or not).
#define FUZZ_ASSERT(cond)                                                                 \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace owf::fuzz {

/// Decoded bytes a target reads per input, at most.
inline constexpr std::uint64_t kMaxLogicalBytes = 64ull << 20;

/// Default reader limits except those that bound work per chunk.
inline Limits limits() {
  Limits l;
  l.max_chunk_bytes = 1ull << 20;
  return l;
}

/// Shape, element count and byte size agree with the dtype; with
/// `stored_is_logical`, uncompressed tensors store exactly their logical bytes.
inline void check_tensor_geometry(const TensorInfo& t, bool stored_is_logical) {
  FUZZ_ASSERT(dtype_info(t.dtype).has_value());
  auto count = element_count(t.shape);
  FUZZ_ASSERT(count.ok() && *count == t.element_count);
  auto size = tensor_byte_size(t.dtype, t.shape);
  FUZZ_ASSERT(size.ok() && *size == t.logical_bytes);
  if (stored_is_logical && t.codec == Codec::kNone) FUZZ_ASSERT(t.stored_bytes == t.logical_bytes);
}

/// Elements as numbers (owf/elements.hpp) of a tensor whose logical bytes
/// read: decoding them whole succeeds, and reading a range that starts
/// inside a block, in pieces of a few blocks, gives the same values.
template <class ReadElements>
void check_elements(const TensorInfo& t, std::span<const std::byte> bytes, ReadElements&& read_elements) {
  if (!can_decode(t.dtype) || t.element_count > (1u << 20)) return;
  std::vector<float> whole(t.element_count);
  FUZZ_ASSERT(decode_elements(t.dtype, bytes, whole).ok());
  const std::uint64_t first = t.element_count / 3;
  std::vector<float> part(std::min<std::uint64_t>(t.element_count - first, 777));
  ReadElementsOptions options;
  options.threads = 1;
  options.piece_bytes = 1000;
  FUZZ_ASSERT(read_elements(first, std::span(part), options).ok());
  FUZZ_ASSERT(part.empty() || std::memcmp(part.data(), whole.data() + first, 4 * part.size()) == 0);
}

/// Reads every field of a value so the sanitizers see every byte.
inline std::uint64_t touch(const std::string& key, const Value& v) {
  std::uint64_t sum = key.size();
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          for (char c : x) sum += static_cast<unsigned char>(c);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          for (const auto& s : x) sum += s.size();
        } else if constexpr (std::is_same_v<T, std::vector<bool>> || std::is_same_v<T, std::vector<std::int64_t>>) {
          for (auto e : x) sum += static_cast<std::uint64_t>(e);
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          for (double e : x) sum += std::bit_cast<std::uint64_t>(e);
        } else if constexpr (std::is_same_v<T, double>) {
          sum += std::bit_cast<std::uint64_t>(x);
        } else {
          sum += static_cast<std::uint64_t>(x);
        }
      },
      v.data);
  return sum;
}

inline std::uint64_t touch(const std::string& key, const std::string& value) { return key.size() + value.size(); }

/// The bytes as a file: an anonymous memory file, reachable by path through
/// /proc/self/fd (readers of foreign formats open paths).
class MemoryFile {
 public:
  explicit MemoryFile(std::span<const std::uint8_t> data) {
    fd_ = ::memfd_create("owf-fuzz", MFD_CLOEXEC);
    FUZZ_ASSERT(fd_ >= 0);
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      FUZZ_ASSERT(n > 0);
      done += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// A foreign reader, past open: every tensor's geometry, every tensor read
/// (bounded) and decoded as numbers, model information, the weights digest.
inline void exercise_source(std::span<const std::uint8_t> data, Format format) {
  MemoryFile file(data);
  auto source = open_source(file.path(), format, limits());
  if (!source.ok()) return;
  const Source& s = **source;
  FUZZ_ASSERT(s.format() == format);
  std::uint64_t logical_total = 0;
  for (std::size_t i = 0; i < s.tensor_count(); ++i) {
    const TensorInfo t = s.tensor(i);
    check_tensor_geometry(t, false);
    logical_total += t.logical_bytes;
  }
  for (const auto& [k, v] : s.info().hyperparameters) touch(k, v);
  for (const auto& [k, v] : s.info().metadata) touch(k, v);
  if (logical_total > kMaxLogicalBytes) return;
  bool all_read = true;
  for (std::size_t i = 0; i < s.tensor_count(); ++i) {
    const TensorInfo t = s.tensor(i);
    std::vector<std::byte> out(t.logical_bytes);
    const bool read = s.read(i, out).ok();
    if (read)
      check_elements(t, out, [&](std::uint64_t first, std::span<float> values, const ReadElementsOptions& o) {
        return owf::read_elements(s, i, first, values, o);
      });
    all_read = read && all_read;
  }
  if (all_read) (void)compute_weights_digest(s, 1);
}

}  // namespace owf::fuzz
