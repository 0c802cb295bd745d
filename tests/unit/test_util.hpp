// Helpers shared by the unit tests.
#pragma once

#include <unistd.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "canonical.hpp"
#include "owf/owf.hpp"

namespace owf::test {

/// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "owf-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::byte> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

inline void spit(const std::filesystem::path& p, std::span<const std::byte> bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
std::span<const std::byte> as_bytes(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

inline std::vector<std::byte> pseudo_random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

/// `bytes` (logical bytes of a tensor of `dtype` with `elements` elements)
/// made canonical (spec/format.md §5, R36) by clearing the bits the
/// library's check objects to: random test data for BOOL and packed
/// dtypes is otherwise refused by the writer.
inline std::vector<std::byte> make_canonical(DType dtype, std::uint64_t elements, std::vector<std::byte> bytes) {
  while (auto at = internal::find_noncanonical_byte(dtype, elements, bytes, 0)) {
    auto& b = bytes[static_cast<std::size_t>(*at)];
    b &= static_cast<std::byte>(~(0x80u >> std::countl_zero(std::to_integer<std::uint8_t>(b))));  // top set bit
  }
  return bytes;
}

inline License test_license() {
  License l;
  l.spdx = "Apache-2.0";
  return l;
}

}  // namespace owf::test
