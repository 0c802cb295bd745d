// Shared by the GGUF and safetensors targets: past the reader, the writer.
// Whatever a writer accepts from a source must open again with the same
// tensors and bytes, and every read in bounded pieces must agree with the
// whole reads.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "formats/formats.hpp"
#include "fuzz_common.hpp"

namespace owf::fuzz {

/// A directory of this process's own for written files, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("owf-fuzz-" + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// Reads every tensor in pieces of `piece` bytes (bounded, whatever the
/// declared size) and checks that the pieces hash like the whole tensor.
inline void read_in_pieces(const Source& s, std::uint64_t piece = 1u << 16) {
  std::vector<std::byte> buffer(piece);
  for (std::size_t i = 0; i < s.tensor_count(); ++i) {
    const TensorInfo t = s.tensor(i);
    for (std::uint64_t at = 0; at < t.logical_bytes; at += piece) {
      const auto n = static_cast<std::size_t>(std::min(piece, t.logical_bytes - at));
      if (!s.read_range(i, at, std::span(buffer).first(n)).ok()) return;
    }
  }
}

/// Opens `data` as `format`, reads it in pieces, writes it back with
/// `write` and checks that the written file holds the same tensors (in the
/// same order when `same_order`) with the same weights digest.
inline void exercise_round_trip(std::span<const std::uint8_t> data, Format format,
                                const std::function<Status(const Source&, const std::filesystem::path&)>& write,
                                bool same_order) {
  MemoryFile file(data);
  auto source = open_source(file.path(), format, limits());
  if (!source.ok()) return;
  const Source& s = **source;
  for (const auto& note : s.notes()) FUZZ_ASSERT(!note.empty());
  read_in_pieces(s);
  const auto out = scratch_dir() / ("out." + std::string(format_name(format)));
  if (!write(s, out).ok()) return;
  auto back = open_source(out, format, limits());
  FUZZ_ASSERT(back.ok());
  FUZZ_ASSERT((*back)->tensor_count() == s.tensor_count());
  for (std::size_t i = 0; i < s.tensor_count(); ++i) {
    const TensorInfo a = s.tensor(i);
    const auto j = same_order ? std::optional<std::size_t>(i) : (*back)->find(a.name);
    FUZZ_ASSERT(j.has_value());
    const TensorInfo b = (*back)->tensor(*j);
    FUZZ_ASSERT(a.name == b.name && a.dtype == b.dtype && a.logical_bytes == b.logical_bytes);
  }
  const auto d1 = compute_weights_digest(s, 1);
  const auto d2 = compute_weights_digest(**back, 1);
  FUZZ_ASSERT(d1.ok() && d2.ok() && *d1 == *d2);
}

}  // namespace owf::fuzz
