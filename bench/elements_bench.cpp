// Decoding throughput (owf/elements.hpp): stored elements to F32 on one
// core, next to a plain memcpy of the same output size measured in the same
// run, and read_elements() from an OWF file in memory on one thread and on
// every core.
//
//   owf_elements_bench [--mib N] [--reps R]
//
// N is the F32 output size per row (default 256 MiB, well beyond the
// caches). Inputs are synthetic and deterministic: BF16/F16 weights drawn
// from a normal distribution, Q8_0 and Q4_K blocks with random quants and
// realistic scales. Speeds are GB/s (10^9 bytes) of F32 output per CPU
// second of the decoding thread (per wall-clock second for the rows on
// several threads), medians of R runs after a warm-up; the ratio is decode
// speed over memcpy speed (1.00 = as fast as copying the output).
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "owf/elements.hpp"
#include "owf/reader.hpp"
#include "owf/writer.hpp"

using namespace owf;
using owf::bench::Clock;
using owf::bench::cpu_model;
using owf::bench::keep;
using owf::bench::median_seconds;
using owf::bench::seconds_since;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "owf_elements_bench: %s\n", what.c_str());
  std::exit(2);
}

void check(const Status& s, const std::string& what) {
  if (!s.ok()) die(what + ": " + s.error().to_string());
}

// Touches every page so that the first timed run does not pay for faults.
template <class T>
std::vector<T> prefaulted(std::size_t n) {
  std::vector<T> v(n);
  std::memset(v.data(), 0, n * sizeof(T));
  return v;
}

std::vector<std::byte> weights(DType dtype, std::size_t elements) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(0.0, 0.02);
  std::vector<double> values(elements);
  for (auto& v : values) v = normal(rng);
  std::vector<std::byte> out(elements * 2);
  check(encode_elements(std::span<const double>(values), dtype, std::span(out)), "encode");
  return out;
}

void put_half(std::byte* p, double v) {
  std::byte h[2];
  const double in[] = {v};
  check(encode_elements(std::span<const double>(in), DType::kF16, std::span(h)), "encode scale");
  std::memcpy(p, h, 2);
}

// Random quants with scales of the size real models have.
std::vector<std::byte> blocks(DType dtype, std::size_t elements) {
  const DTypeInfo info = *dtype_info(dtype);
  const std::size_t n = elements / info.block_elements;
  std::vector<std::byte> out(n * info.block_bytes);
  std::mt19937_64 rng(7);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  for (std::size_t i = 0; i < n; ++i) {
    std::byte* block = out.data() + i * info.block_bytes;
    put_half(block, 0.002 * (1 + static_cast<double>(rng() % 100) / 100));
    if (dtype == DType::kQ4_K) put_half(block + 2, 0.001 * (1 + static_cast<double>(rng() % 100) / 100));
  }
  return out;
}

// CPU seconds of the calling thread: one core's speed stays meaningful on a
// machine busy with other work.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mib = 256;
  int reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--mib")
      mib = std::stoull(argv[i + 1]);
    else if (a == "--reps")
      reps = std::stoi(argv[i + 1]);
    else
      die("usage: owf_elements_bench [--mib N] [--reps R]");
  }
  const std::size_t elements = (mib << 20) / 4 / 256 * 256;
  const double out_bytes = static_cast<double>(elements) * 4;
  auto out = prefaulted<float>(elements);
  auto copy_src = prefaulted<float>(elements);

  const double memcpy_s = median_seconds(reps, [&] {
    const double start = thread_cpu_seconds();
    std::memcpy(out.data(), copy_src.data(), elements * 4);
    const double s = thread_cpu_seconds() - start;
    keep(static_cast<std::uint64_t>(out[elements / 2]));
    return s;
  });

  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  std::printf("machine: %s, %u cores; %zu MiB of F32 output per row; median of %d runs; load average at start %.1f\n\n",
              cpu_model().c_str(), std::thread::hardware_concurrency(), mib, reps, load);
  std::printf(
      "One thread: bytes per CPU second of that thread; two or more: per wall-clock second.\n\n"
      "| operation | threads | GB/s of F32 out | memcpy GB/s (same size, 1 core) | ratio |\n");
  std::printf("|---|---|---|---|---|\n");
  auto report = [&](const std::string& what, unsigned threads, double seconds) {
    const double gbs = out_bytes / seconds / 1e9, copy = out_bytes / memcpy_s / 1e9;
    std::printf("| %s | %u | %.2f | %.2f | %.2f |\n", what.c_str(), threads, gbs, copy, gbs / copy);
    std::fflush(stdout);
  };

  for (DType dtype : {DType::kBF16, DType::kF16, DType::kQ8_0, DType::kQ4_K}) {
    const auto input =
        dtype == DType::kBF16 || dtype == DType::kF16 ? weights(dtype, elements) : blocks(dtype, elements);
    const double s = median_seconds(reps, [&] {
      const double start = thread_cpu_seconds();
      check(decode_elements(dtype, input, std::span(out)), "decode");
      const double t = thread_cpu_seconds() - start;
      keep(static_cast<std::uint64_t>(out[elements / 3] * 1e6f));
      return t;
    });
    report("decode_elements " + std::string(dtype_name(dtype)) + " -> F32", 1, s);
  }

  // read_elements from an OWF file held in memory (no I/O): the piecewise,
  // parallel reader, each piece read with File::read_range.
  for (DType dtype : {DType::kBF16, DType::kQ4_K}) {
    const auto input = dtype == DType::kBF16 ? weights(dtype, elements) : blocks(dtype, elements);
    const std::string path = "/tmp/owf-elements-bench.owf";
    {
      WriteOptions options;
      options.sync = false;
      auto w = Writer::create(path, options);
      if (!w.ok()) die(w.error().to_string());
      License license;
      license.spdx = "CC0-1.0";
      check(w->set_license(license), "license");
      check(w->add_tensor({"w", dtype, {elements / 4096, 4096}, Role::kWeight}, input), "add");
      check(w->finish(), "finish");
    }
    std::vector<std::byte> bytes(input.size() + (1 << 20));
    {
      std::ifstream f(path, std::ios::binary);
      f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      bytes.resize(static_cast<std::size_t>(f.gcount()));
    }
    std::remove(path.c_str());
    auto file = File::open_buffer(bytes);
    if (!file.ok()) die(file.error().to_string());
    const TensorInfo t = file->tensor(0);
    for (unsigned threads : {1u, std::max(2u, std::thread::hardware_concurrency())}) {
      ReadElementsOptions options;
      options.threads = threads;
      // One thread: CPU time of this thread (the work runs on it); more:
      // wall time.
      const double s = median_seconds(reps, [&] {
        const auto start = Clock::now();
        const double cpu_start = thread_cpu_seconds();
        check(read_elements(*file, t, 0, std::span(out), options), "read_elements");
        const double r = threads == 1 ? thread_cpu_seconds() - cpu_start : seconds_since(start);
        keep(static_cast<std::uint64_t>(out[elements / 5] * 1e6f));
        return r;
      });
      report("read_elements " + std::string(dtype_name(dtype)) + " -> F32 (OWF file in memory)", threads, s);
    }
  }
  return 0;
}
