// Compression benchmark (spec/compression.md, "Measurements"): stored/raw
// ratio, compression speed per core and decompression speed on 1 and 2
// threads, for zstd after the byte-group filter against plain zstd on the
// same bytes at the same level, in the same run.
//
// Data: every F32 tensor of the safetensors and GGUF files in the corpus
// (deduplicated by content), the same rounded to BF16, and synthetic
// normally distributed weights (fixed seed): 1 GiB of F32 and 1 GiB of BF16.
//
//   owf_compression_bench [--corpus DIR] [--synthetic-mib N] [--level L] [--reps R]
//
// Decoding goes through the reader's own path (internal::decode_range);
// compression through the writer's (internal::ChunkCompressor). Every
// decoded byte is compared with the input.
#include <time.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "codec.hpp"
#include "harness.hpp"
#include "owf/source.hpp"
#include "parallel.hpp"
#include "sha256.hpp"

using namespace owf;
using Clock = std::chrono::steady_clock;
using owf::bench::cpu_model;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// CPU seconds of the whole process: per-core speeds stay meaningful on a
// machine that is busy with other work.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Timing {
  double wall = 0, cpu = 0;
};

// Median by wall time of `reps` runs (CPU time of the same run alongside).
template <class Fn>
Timing median_timing(int reps, Fn&& fn) {
  std::vector<Timing> t;
  for (int i = 0; i < reps; ++i) t.push_back(fn());
  std::sort(t.begin(), t.end(), [](const Timing& a, const Timing& b) { return a.cpu < b.cpu; });
  return t[t.size() / 2];
}

struct Dataset {
  std::string name;
  DType dtype;
  std::vector<std::vector<std::byte>> tensors;  // each compressed independently, like a file's tensors
  std::uint64_t bytes() const {
    std::uint64_t n = 0;
    for (const auto& t : tensors) n += t.size();
    return n;
  }
};

// Round-to-nearest-even F32 -> BF16 (NaN kept quiet), as converters do.
std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

std::vector<std::byte> round_to_bf16(const std::vector<std::byte>& f32) {
  std::vector<std::byte> out(f32.size() / 2);
  for (std::size_t i = 0; i < f32.size() / 4; ++i) {
    float f;
    std::memcpy(&f, &f32[4 * i], 4);
    const std::uint16_t h = to_bf16(f);
    std::memcpy(&out[2 * i], &h, 2);
  }
  return out;
}

// Every F32 tensor of the corpus's safetensors and GGUF files, deduplicated.
Dataset corpus_f32(const std::filesystem::path& dir, std::vector<std::string>& notes) {
  Dataset d{"corpus F32", DType::kF32, {}};
  std::set<Sha256Digest> seen;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    const auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".safetensors" || ext == ".gguf")) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    auto src = open_source(path);
    if (!src.ok()) {
      notes.push_back("skipped " + path.filename().string() + ": " + src.error().to_string());
      continue;
    }
    std::size_t used = 0;
    for (std::size_t i = 0; i < (*src)->tensor_count(); ++i) {
      const TensorInfo t = (*src)->tensor(i);
      if (t.dtype != DType::kF32 || t.logical_bytes == 0) continue;
      std::vector<std::byte> bytes(t.logical_bytes);
      if (!(*src)->read(i, bytes).ok()) continue;
      if (!seen.insert(internal::sha256(bytes)).second) continue;
      d.tensors.push_back(std::move(bytes));
      ++used;
    }
    notes.push_back(path.lexically_relative(dir).string() + ": " + std::to_string(used) + " new F32 tensors");
  }
  return d;
}

// Normally distributed weights (sigma 0.02, a typical initialisation scale),
// generated in 1 MiB blocks each with its own seed: the same bytes on every run.
Dataset synthetic(DType dtype, std::uint64_t bytes) {
  Dataset d{"synthetic " + std::string(dtype_name(dtype)), dtype, {}};
  std::vector<std::byte> data(bytes);
  const std::size_t width = dtype == DType::kF32 ? 4 : 2;
  const std::size_t block = 1 << 20;
  internal::parallel_for((bytes + block - 1) / block, 0, [&](std::size_t b) {
    std::mt19937_64 rng(0x5eed0000 + b);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    const std::size_t end = std::min<std::size_t>(bytes, (b + 1) * block);
    for (std::size_t at = b * block; at + width <= end; at += width) {
      const float v = normal(rng);
      if (width == 4) {
        std::memcpy(&data[at], &v, 4);
      } else {
        const std::uint16_t h = to_bf16(v);
        std::memcpy(&data[at], &h, 2);
      }
    }
  });
  d.tensors.push_back(std::move(data));
  return d;
}

struct Encoded {
  TensorInfo info;
  std::vector<internal::ChunkRef> chunks;
  std::vector<std::byte> stored;
  internal::ChunkTable table() const { return {chunk_length, chunks}; }
  std::uint64_t chunk_length = 0;
};

struct Row {
  double ratio = 0, ratio_raw_fallback = 0, compress_mbs = 0, decompress_1 = 0, decompress_2 = 0, decompress_2_cpu = 0;
};

// Compresses every chunk of every tensor on `threads` threads; returns seconds.
Timing compress_all(const Dataset& d, Codec codec, int level, std::uint64_t chunk, unsigned threads,
                    std::vector<Encoded>& out) {
  const unsigned width = codec == Codec::kZstdByteGroup ? internal::byte_group_width(d.dtype) : 1;
  struct Job {
    std::size_t tensor, chunk;
  };
  std::vector<Job> jobs;
  out.assign(d.tensors.size(), {});
  std::vector<std::vector<std::vector<std::byte>>> frames(d.tensors.size());
  for (std::size_t t = 0; t < d.tensors.size(); ++t) {
    const std::size_t n = (d.tensors[t].size() + chunk - 1) / chunk;
    frames[t].resize(n);
    for (std::size_t c = 0; c < n; ++c) jobs.push_back({t, c});
  }
  std::vector<internal::ChunkCompressor> compressors(threads);
  std::atomic<std::size_t> next{0};
  const auto start = Clock::now();
  const double cpu_start = cpu_seconds();
  internal::parallel_for(threads, threads, [&](std::size_t w) {
    for (std::size_t j = next.fetch_add(1); j < jobs.size(); j = next.fetch_add(1)) {
      const auto& data = d.tensors[jobs[j].tensor];
      const std::size_t at = jobs[j].chunk * chunk;
      const auto piece = std::span(data).subspan(at, std::min<std::size_t>(chunk, data.size() - at));
      auto s = compressors[w].compress(codec, width, level, piece, frames[jobs[j].tensor][jobs[j].chunk]);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
        std::exit(1);
      }
    }
  });
  const Timing timing{seconds_since(start), cpu_seconds() - cpu_start};
  for (std::size_t t = 0; t < d.tensors.size(); ++t) {
    Encoded& e = out[t];
    e.chunk_length = chunk;
    for (const auto& f : frames[t]) {
      e.chunks.push_back({e.stored.size(), f.size()});
      e.stored.insert(e.stored.end(), f.begin(), f.end());
    }
    e.info.name = "bench";
    e.info.dtype = d.dtype;
    e.info.codec = codec;
    e.info.logical_bytes = d.tensors[t].size();
    e.info.stored_bytes = e.stored.size();
  }
  return timing;
}

// Decodes every tensor as File::read does: whole tensors, chunks on
// `threads` threads (large tensors), or tensors spread over threads (small).
Timing decompress_all(const std::vector<Encoded>& enc, unsigned threads, std::vector<std::vector<std::byte>>& out) {
  out.resize(enc.size());
  for (std::size_t t = 0; t < enc.size(); ++t) out[t].resize(enc[t].info.logical_bytes);
  const auto start = Clock::now();
  const double cpu_start = cpu_seconds();
  auto decode = [&](std::size_t t, unsigned inner) {
    const auto source = internal::buffer_source(enc[t].stored, "bench");
    auto s = internal::decode_range(enc[t].info, enc[t].table(), *source, 0, out[t], inner);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
      std::exit(1);
    }
  };
  if (enc.size() == 1) {
    decode(0, threads);
  } else {
    internal::parallel_for(enc.size(), threads, [&](std::size_t t) { decode(t, 1); });
  }
  return {seconds_since(start), cpu_seconds() - cpu_start};
}

Row measure(const Dataset& d, Codec codec, int level, std::uint64_t chunk, int reps) {
  Row r;
  std::vector<Encoded> enc;
  const double bytes = static_cast<double>(d.bytes());
  r.compress_mbs = bytes / median_timing(reps, [&] { return compress_all(d, codec, level, chunk, 1, enc); }).cpu / 1e6;
  // Stored bytes as the codec gives them, and as a file holds them: the
  // writer keeps a tensor raw unless compression saves 5 % (its default).
  std::uint64_t stored = 0, in_file = 0;
  for (std::size_t t = 0; t < enc.size(); ++t) {
    const std::uint64_t raw = d.tensors[t].size(), z = enc[t].stored.size();
    stored += z;
    in_file += static_cast<double>(z) <= 0.95 * static_cast<double>(raw) ? z : raw;
  }
  r.ratio = static_cast<double>(stored) / bytes;
  r.ratio_raw_fallback = static_cast<double>(in_file) / bytes;
  std::vector<std::vector<std::byte>> out;
  r.decompress_1 = bytes / median_timing(reps, [&] { return decompress_all(enc, 1, out); }).cpu / 1e9;
  const Timing two = median_timing(reps, [&] { return decompress_all(enc, 2, out); });
  r.decompress_2 = bytes / two.wall / 1e9;
  r.decompress_2_cpu = bytes / two.cpu / 1e9;
  for (std::size_t t = 0; t < d.tensors.size(); ++t)
    if (out[t] != d.tensors[t]) {
      std::fprintf(stderr, "%s: tensor %zu does not round-trip\n", d.name.c_str(), t);
      std::exit(1);
    }
  return r;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path corpus = OWF_CORPUS_DIR;
  std::uint64_t synthetic_mib = 1024;
  int level = 3, reps = 3;
  const std::uint64_t chunk = 1 << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--corpus")
      corpus = argv[i + 1];
    else if (a == "--synthetic-mib")
      synthetic_mib = std::stoull(argv[i + 1]);
    else if (a == "--level")
      level = std::stoi(argv[i + 1]);
    else if (a == "--reps")
      reps = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--corpus DIR] [--synthetic-mib N] [--level L] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  std::vector<std::string> notes;
  std::vector<Dataset> sets;
  sets.push_back(corpus_f32(corpus, notes));
  Dataset bf16{"corpus BF16 (rounded)", DType::kBF16, {}};
  for (const auto& t : sets[0].tensors) bf16.tensors.push_back(round_to_bf16(t));
  sets.push_back(std::move(bf16));
  if (synthetic_mib > 0) {
    sets.push_back(synthetic(DType::kF32, synthetic_mib << 20));
    sets.push_back(synthetic(DType::kBF16, synthetic_mib << 20));
  }

  std::printf(
      "machine: %s, %u cores (hardware_concurrency); zstd %s; level %d; chunks of %llu KiB; median of %d runs; "
      "load average at start %.1f\n",
      cpu_model().c_str(), std::thread::hardware_concurrency(), ZSTD_versionString(), level,
      static_cast<unsigned long long>(chunk >> 10), reps, load_average());
  for (const auto& n : notes) std::printf("  %s\n", n.c_str());
  std::printf(
      "\nSpeeds are logical (uncompressed) bytes per CPU second, except the 2-thread wall-clock column.\n"
      "'in file' applies the writer's rule: a tensor saving less than 5 %% stays raw.\n\n"
      "| data | tensors | raw MiB | codec | stored/raw | in file | compress MB/s per core | "
      "decompress GB/s per core | decompress GB/s, 2 threads (wall) | 2 threads, per CPU second |\n"
      "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& d : sets) {
    for (Codec codec : {Codec::kZstdByteGroup, Codec::kZstd}) {
      const Row r = measure(d, codec, level, chunk, reps);
      std::printf("| %s | %zu | %.1f | %s | %.3f | %.3f | %.0f | %.2f | %.2f | %.2f |\n", d.name.c_str(),
                  d.tensors.size(), static_cast<double>(d.bytes()) / (1 << 20), std::string(codec_name(codec)).c_str(),
                  r.ratio, r.ratio_raw_fallback, r.compress_mbs, r.decompress_1, r.decompress_2, r.decompress_2_cpu);
      std::fflush(stdout);
    }
  }
  std::printf("\nload average at end %.1f\n", load_average());
  return 0;
}
