// Measures the OWF library against the physical limits of the machine it
// runs on: every row times an OWF operation and a baseline doing the least
// work the same result needs (read the bytes, map the bytes, hash the bytes,
// write the bytes), on the same files, in the same run, warm page cache.
//
//   owf_bench [--dir DIR] [--reps N] [--scale K] [--keep]
//
// --scale K divides every data set by K (quick smoke runs); the published
// table uses the full sizes. Files are generated deterministically in DIR and
// removed at the end unless --keep is given.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "formats/formats.hpp"  // internal::write_safetensors, for the convert input
#include "harness.hpp"
#include "owf/convert.hpp"
#include "owf/reader.hpp"
#include "owf/source.hpp"
#include "owf/writer.hpp"

namespace fs = std::filesystem;
using owf::bench::alternating_medians;
using owf::bench::Clock;
using owf::bench::cpu_model;
using owf::bench::keep;
using owf::bench::median_seconds;
using owf::bench::seconds_since;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "owf_bench: %s\n", what.c_str());
  std::exit(2);
}

void check(const owf::Status& s, const std::string& what) {
  if (!s.ok()) die(what + ": " + s.error().message());
}

template <class T>
T take(owf::Result<T> r, const std::string& what) {
  if (!r.ok()) die(what + ": " + r.error().message());
  return std::move(r).value();
}

// ---------------------------------------------------------------------------
// Data sets

struct TensorDef {
  std::string name;
  owf::DType dtype = owf::DType::kF32;
  std::vector<std::uint64_t> shape;
  std::uint64_t bytes = 0;
};

struct Dataset {
  std::string name;
  std::vector<TensorDef> tensors;  // in name order
  std::uint64_t total = 0;
  std::uint64_t largest = 0;
  fs::path owf;
  fs::path safetensors;
};

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Deterministic contents: F32 uniform in [-1, 1); BF16 roughly normal with
// the spread of trained weights, so compression sees realistic exponents.
void fill(const TensorDef& t, std::size_t index, std::span<std::byte> out) {
  std::uint64_t state = 0x4f5746ull * (index + 1);
  if (t.dtype == owf::DType::kBF16) {
    for (std::size_t i = 0; i + 2 <= out.size(); i += 2) {
      const std::uint64_t r = splitmix(state);
      const double u = (static_cast<double>(r & 0xFFFF) + static_cast<double>((r >> 16) & 0xFFFF) +
                        static_cast<double>((r >> 32) & 0xFFFF) + static_cast<double>(r >> 48)) /
                           65536.0 -
                       2.0;
      const float f = static_cast<float>(u * 0.035);
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      const std::uint16_t bf = static_cast<std::uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
      std::memcpy(out.data() + i, &bf, 2);
    }
    return;
  }
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const std::uint64_t r = splitmix(state);
    const float a = static_cast<float>(r & 0xFFFFFF) * (1.0f / 8388608.0f) - 1.0f;
    const float b = static_cast<float>((r >> 32) & 0xFFFFFF) * (1.0f / 8388608.0f) - 1.0f;
    std::memcpy(out.data() + i, &a, 4);
    std::memcpy(out.data() + i + 4, &b, 4);
  }
  for (; i < out.size(); ++i) out[i] = std::byte{0x3f};
}

Dataset make_dataset(const std::string& name, std::uint64_t scale, const fs::path& dir) {
  Dataset d;
  d.name = name;
  char buf[64];
  auto add = [&](std::string n, owf::DType dtype, std::vector<std::uint64_t> shape) {
    TensorDef t;
    t.name = std::move(n);
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.bytes = take(owf::tensor_byte_size(dtype, t.shape), "size of " + t.name);
    d.tensors.push_back(std::move(t));
  };
  if (name == "many-small") {
    const std::uint64_t n = 100'000 / scale;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "blocks.%03" PRIu64 ".unit.%03" PRIu64 ".weight", i / 1000, i % 1000);
      add(buf, owf::DType::kF32, {4, 4});
    }
  } else if (name == "few-large") {
    const std::uint64_t rows = 2048 / scale;  // 64 x 2048 x 2048 F32 = 1 GiB
    for (int i = 0; i < 64; ++i) {
      std::snprintf(buf, sizeof buf, "layers.%02d.weight", i);
      add(buf, owf::DType::kF32, {rows, 2048});
    }
  } else if (name == "one-huge") {
    add("embed.weight", owf::DType::kF32, {16384 / scale, 16384});  // 1 GiB
    for (int i = 0; i < 4; ++i) {
      std::snprintf(buf, sizeof buf, "norm.%d.weight", i);
      add(buf, owf::DType::kF32, {4096});
    }
  } else if (name == "few-large-bf16") {
    const std::uint64_t rows = 2048 / scale;  // 64 x 2048 x 2048 BF16 = 512 MiB
    for (int i = 0; i < 64; ++i) {
      std::snprintf(buf, sizeof buf, "layers.%02d.weight", i);
      add(buf, owf::DType::kBF16, {rows, 2048});
    }
  } else {
    die("unknown data set " + name);
  }
  std::sort(d.tensors.begin(), d.tensors.end(), [](const TensorDef& a, const TensorDef& b) { return a.name < b.name; });
  for (const auto& t : d.tensors) {
    d.total += t.bytes;
    d.largest = std::max(d.largest, t.bytes);
  }
  d.owf = dir / (name + ".owf");
  d.safetensors = dir / (name + ".safetensors");
  return d;
}

owf::License no_assertion() {
  owf::License l;
  l.spdx = "NOASSERTION";
  return l;
}

owf::TensorSpec spec_of(const TensorDef& t) { return owf::TensorSpec{t.name, t.dtype, t.shape, owf::Role::kWeight}; }

void write_owf(const Dataset& d, const fs::path& path) {
  owf::WriteOptions options;
  options.sync = false;
  auto w = take(owf::Writer::create(path, options), "create " + path.string());
  check(w.set_license(no_assertion()), "license");
  std::vector<std::byte> buffer(d.largest);
  for (std::size_t i = 0; i < d.tensors.size(); ++i) {
    auto data = std::span(buffer).first(d.tensors[i].bytes);
    fill(d.tensors[i], i, data);
    check(w.add_tensor(spec_of(d.tensors[i]), data), "add " + d.tensors[i].name);
  }
  check(w.finish(), "finish " + path.string());
}

// A plain safetensors file (8-byte header length, JSON header padded with
// spaces to 8 bytes, then the data in header order), as the convert input,
// for builds whose library cannot write safetensors.
void write_safetensors_directly(const Dataset& d, const fs::path& path) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::uint64_t at = 0;
  for (const auto& t : d.tensors) {
    header += ",\"" + t.name + "\":{\"dtype\":\"" + (t.dtype == owf::DType::kBF16 ? "BF16" : "F32") + "\",\"shape\":[";
    for (std::size_t k = 0; k < t.shape.size(); ++k) header += (k ? "," : "") + std::to_string(t.shape[k]);
    header += "],\"data_offsets\":[" + std::to_string(at) + "," + std::to_string(at + t.bytes) + "]}";
    at += t.bytes;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::uint64_t n = header.size();
  unsigned char len[8];
  for (int k = 0; k < 8; ++k) len[k] = static_cast<unsigned char>(n >> (8 * k));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::vector<std::byte> buffer(d.largest);
  for (std::size_t i = 0; i < d.tensors.size(); ++i) {
    auto data = std::span(buffer).first(d.tensors[i].bytes);
    fill(d.tensors[i], i, data);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }
  if (!out) die("cannot write " + path.string());
}

// The convert input, written by the library's safetensors writer from the
// OWF file where the build has one.
void write_safetensors(const Dataset& d) {
  if (auto source = owf::open_source(d.owf); source.ok())
    if (owf::internal::write_safetensors(**source, d.safetensors).ok()) return;
  write_safetensors_directly(d, d.safetensors);
}

// All tensors back to back, in name order, resident.
std::vector<std::byte> all_bytes(const Dataset& d) {
  std::vector<std::byte> out(d.total);
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < d.tensors.size(); ++i) {
    fill(d.tensors[i], i, std::span(out).subspan(at, d.tensors[i].bytes));
    at += d.tensors[i].bytes;
  }
  return out;
}

// Writes every tensor of `d` from `data` (all tensors back to back, as
// all_bytes() lays them out) to `path`.
void write_from_memory(const Dataset& d, std::span<const std::byte> data, const fs::path& path,
                       const owf::WriteOptions& options) {
  auto w = take(owf::Writer::create(path, options), "create " + path.string());
  check(w.set_license(no_assertion()), "license");
  std::uint64_t at = 0;
  for (const auto& t : d.tensors) {
    check(w.add_tensor(spec_of(t), data.subspan(at, t.bytes)), "add " + t.name);
    at += t.bytes;
  }
  check(w.finish(), "finish " + path.string());
}

// Opens `path` and reads every tensor into consecutive parts of `buffer`.
void read_every_tensor(const fs::path& path, std::span<std::byte> buffer) {
  auto f = take(owf::File::open(path), "open " + path.string());
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < f.tensor_count(); ++i) {
    const auto t = f.tensor(i);
    check(f.read(t, buffer.subspan(at, t.logical_bytes)), "read " + std::string(t.name));
    at += t.logical_bytes;
  }
}

// ---------------------------------------------------------------------------
// Primitive operations shared by OWF runs and baselines

std::uint64_t size_of(const fs::path& p) { return fs::file_size(p); }

int open_or_die(const fs::path& p, int flags, mode_t mode = 0644) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) die("open " + p.string() + ": " + std::strerror(errno));
  return fd;
}

void read_all(int fd, std::byte* out, std::uint64_t n, std::uint64_t offset) {
  for (std::uint64_t done = 0; done < n;) {
    const ssize_t r = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("read failed");
    done += static_cast<std::uint64_t>(r);
  }
}

void write_all(int fd, const std::byte* data, std::uint64_t n) {
  for (std::uint64_t done = 0; done < n;) {
    const ssize_t r = ::write(fd, data + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die(std::string("write failed: ") + std::strerror(errno));
    done += static_cast<std::uint64_t>(r);
  }
}

// Reads every byte (as 64-bit words); the same loop for OWF and baselines.
std::uint64_t touch(std::span<const std::byte> s) {
  std::uint64_t acc = 0;
  const std::size_t words = s.size() / 8;
  const std::byte* p = s.data();
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    acc += w;
  }
  for (std::size_t i = words * 8; i < s.size(); ++i) acc += static_cast<std::uint64_t>(p[i]);
  return acc;
}

// The manifest location from the footer; the baseline for open.
std::uint64_t read_manifest_bytes(const fs::path& p) {
  const int fd = open_or_die(p, O_RDONLY);
  struct stat st {};
  ::fstat(fd, &st);
  std::byte footer[64];
  read_all(fd, footer, 64, static_cast<std::uint64_t>(st.st_size) - 64);
  std::uint64_t offset, length;
  std::memcpy(&offset, footer, 8);
  std::memcpy(&length, footer + 8, 8);
  auto manifest = std::make_unique_for_overwrite<std::byte[]>(length);
  read_all(fd, manifest.get(), length, offset);
  ::close(fd);
  return static_cast<std::uint64_t>(manifest[length / 2]);
}

std::uint64_t manifest_length(const fs::path& p) {
  auto f = take(owf::File::open(p), "open");
  return f.manifest_bytes().size();
}

// Drops a file from the page cache so that the next read comes from the
// disk (no root needed): written back first, since dirty pages stay.
void evict(const fs::path& p) {
  const int fd = open_or_die(p, O_RDONLY);
  if (::fdatasync(fd) != 0) die("fdatasync " + p.string());
  if (::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) die("posix_fadvise " + p.string());
  ::close(fd);
}

// The cold-read baseline, as `dd if=FILE iflag=direct bs=8M`: the whole
// file with O_DIRECT, 8 MiB per read, one read in flight. False when the
// filesystem refuses O_DIRECT (tmpfs).
constexpr std::size_t kDirectBlock = 8u << 20;
bool direct_read(const fs::path& p, std::byte* block) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return false;
  for (std::uint64_t at = 0;;) {
    const ssize_t r = ::pread(fd, block, kDirectBlock, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ::close(fd);
      return false;
    }
    if (r == 0) break;
    keep(static_cast<std::uint64_t>(block[0]));
    at += static_cast<std::uint64_t>(r);
  }
  ::close(fd);
  return true;
}

// Every tensor of an open file as one load request each, into consecutive
// parts of `buffer`.
std::vector<owf::LoadRequest> load_all_requests(const owf::File& f, std::span<std::byte> buffer) {
  std::vector<owf::LoadRequest> requests;
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < f.tensor_count(); ++i) {
    const auto bytes = f.tensor(i).logical_bytes;
    requests.push_back({i, buffer.subspan(at, bytes)});
    at += bytes;
  }
  return requests;
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

void sha256_once(std::span<const std::byte> data) {
  unsigned char out[32];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, sha256_md(), nullptr);
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
  keep(out[0]);
}

// The library's own conversion path: any Source into an OWF file, one
// piece at a time.
owf::Status convert_to_owf(const fs::path& from, const fs::path& to, bool check_output = true) {
  OWF_ASSIGN_OR_RETURN(auto source, owf::open_source(from));
  owf::ConvertOptions convert_options;
  convert_options.check_output = check_output;
  if (!source->info().license) convert_options.license = no_assertion();
  auto report = owf::convert(*source, to, owf::Format::kOwf, convert_options);
  if (!report.ok()) return report.error();
  return {};
}

unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// zstd on the same chunks the writer uses, one context per core.
struct ZstdChunks {
  std::vector<std::vector<std::byte>> chunks;
  std::uint64_t compressed = 0;
};

ZstdChunks zstd_compress_all(std::span<const std::byte> data, std::uint64_t chunk, int level) {
  const std::size_t n = static_cast<std::size_t>((data.size() + chunk - 1) / chunk);
  ZstdChunks out;
  out.chunks.resize(n);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    for (std::size_t i = next++; i < n; i = next++) {
      const auto piece = data.subspan(i * chunk, std::min<std::uint64_t>(chunk, data.size() - i * chunk));
      auto& c = out.chunks[i];
      c.resize(ZSTD_compressBound(piece.size()));
      const std::size_t r = ZSTD_compressCCtx(cctx, c.data(), c.size(), piece.data(), piece.size(), level);
      if (ZSTD_isError(r)) die("zstd failed");
      c.resize(r);
    }
    ZSTD_freeCCtx(cctx);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < cores(); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& c : out.chunks) out.compressed += c.size();
  return out;
}

void zstd_decompress_all(const ZstdChunks& in, std::span<std::byte> out, std::uint64_t chunk) {
  const std::size_t n = in.chunks.size();
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    for (std::size_t i = next++; i < n; i = next++) {
      auto dst = out.subspan(i * chunk, std::min<std::uint64_t>(chunk, out.size() - i * chunk));
      const std::size_t r = ZSTD_decompressDCtx(dctx, dst.data(), dst.size(), in.chunks[i].data(), in.chunks[i].size());
      if (ZSTD_isError(r) || r != dst.size()) die("zstd decompress failed");
    }
    ZSTD_freeDCtx(dctx);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < cores(); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

// ---------------------------------------------------------------------------
// Results

struct Row {
  std::string operation;
  std::string dataset;
  double owf_s = 0;
  std::uint64_t bytes = 0;  // for throughput; 0: show time per tensor
  std::uint64_t tensors = 0;
  std::string baseline;
  double baseline_s = 0;
  double min_ratio = 0;          // target on baseline_s / owf_s; 0: none
  std::string note;              // replaces the numbers when set
  double max_us_per_tensor = 0;  // target on owf_s / tensors; 0: none
};

std::string fmt_time(double s) {
  char buf[32];
  if (s >= 1)
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  else if (s >= 1e-3)
    std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
  return buf;
}

std::string fmt_rate(std::uint64_t bytes, double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB/s", static_cast<double>(bytes) / s / 1e9);
  return buf;
}

std::string fmt_bytes(std::uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
  else
    std::snprintf(buf, sizeof buf, "%.0f KiB", static_cast<double>(b) / 1024);
  return buf;
}

std::string describe(const Row& r, double s) {
  if (r.bytes == 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s (%.2f us/tensor)", fmt_time(s).c_str(),
                  s * 1e6 / static_cast<double>(r.tensors));
    return buf;
  }
  return fmt_time(s) + " (" + fmt_rate(r.bytes, s) + ")";
}

void print_rows(const std::vector<Row>& rows) {
  std::printf("| Operation | Data set | OWF (median) | Baseline | Baseline (median) | Ratio | Target | Met |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    if (!r.note.empty()) {
      std::printf("| %s | %s | %s | %s | | | | |\n", r.operation.c_str(), r.dataset.c_str(), r.note.c_str(),
                  r.baseline.c_str());
      continue;
    }
    const double ratio = r.baseline_s / r.owf_s;
    char target[48] = "";
    const char* met = "";
    if (r.min_ratio > 0) {
      std::snprintf(target, sizeof target, ">= %.2fx", r.min_ratio);
      met = ratio >= r.min_ratio ? "yes" : "**no**";
    } else if (r.max_us_per_tensor > 0) {
      std::snprintf(target, sizeof target, "<= %.2f us/tensor", r.max_us_per_tensor);
      met = r.owf_s * 1e6 / static_cast<double>(r.tensors) <= r.max_us_per_tensor ? "yes" : "**no**";
    }
    std::printf("| %s | %s | %s | %s | %s | %.2fx | %s | %s |\n", r.operation.c_str(), r.dataset.c_str(),
                describe(r, r.owf_s).c_str(), r.baseline.c_str(),
                r.baseline_s > 0 ? describe(r, r.baseline_s).c_str() : "", ratio, target, met);
  }
}

// ---------------------------------------------------------------------------
// Child mode: one operation, reporting its memory

std::vector<std::string> names_of(const Dataset& d) {
  std::vector<std::string> out;
  for (const auto& t : d.tensors) out.push_back(t.name);
  return out;
}

int child_main(const std::string& op, const std::string& dataset, const fs::path& dir, std::uint64_t scale) {
  const Dataset d = make_dataset(dataset, scale, dir);
  const auto names = names_of(d);
  std::vector<std::byte> buffer;
  const fs::path out = dir / (dataset + ".out.owf");
  if (op == "write") {
    buffer.resize(d.largest);
    fill(d.tensors[0], 0, std::span(buffer).first(d.tensors[0].bytes));
  }
  const std::uint64_t before = owf::bench::anon_resident_bytes();
  std::uint64_t peak = 0;
  {
    owf::bench::PeakSampler sampler;
    if (op == "open") {
      auto f = take(owf::File::open(d.owf), "open");
      for (const auto& n : names) keep(f.find(n).value_or(0));
      peak = sampler.peak();
    } else if (op == "verify") {
      auto f = take(owf::File::open(d.owf), "open");
      check(f.verify(), "verify");
      peak = sampler.peak();
    } else if (op == "write") {
      owf::WriteOptions options;
      auto w = take(owf::Writer::create(out, options), "create");
      check(w.set_license(no_assertion()), "license");
      for (std::size_t i = 0; i < d.tensors.size(); ++i) {
        auto data = std::span(buffer).first(d.tensors[i].bytes);
        fill(d.tensors[i], i, data);
        check(w.add_tensor(spec_of(d.tensors[i]), data), "add");
      }
      check(w.finish(), "finish");
      peak = sampler.peak();
    } else if (op == "convert") {
      check(convert_to_owf(d.safetensors, out), "convert");
      peak = sampler.peak();
    } else {
      die("unknown child operation " + op);
    }
  }
  remove_file(out);
  std::printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", before, peak, owf::bench::peak_resident_bytes());
  return 0;
}

// ---------------------------------------------------------------------------
// The benchmark

struct Options {
  fs::path dir = "/tmp/owf-bench";
  int reps = 5;
  std::uint64_t scale = 1;
  bool keep_files = false;
  std::string only;  // one data set, or all
  std::string ops;   // comma-separated groups of rows (kOpGroups), or all

  bool wants(std::string_view group) const {
    if (ops.empty()) return true;
    const std::string list = "," + ops + ",";
    return list.find("," + std::string(group) + ",") != std::string::npos;
  }
};

// What --ops selects: the groups of rows of bench_dataset.
constexpr const char* kOpGroups = "open, zero-copy, read, load, cold, verify, write, convert";

// The 1-, 5- and 15-minute load averages: other work on the machine slows
// every row, and ratios of parallel operations most.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

void print_machine(const Options& o) {
  struct utsname u {};
  ::uname(&u);
  struct statfs sf {};
  ::statfs(o.dir.c_str(), &sf);
  std::printf(
      "Machine: %u cores (nproc), %s, Linux %s, %.1f GiB RAM\n", cores(), cpu_model().c_str(), u.release,
      static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1ull << 30));
  std::printf("Libraries: %s, zstd %s\n", OpenSSL_version(OPENSSL_VERSION), ZSTD_versionString());
  std::printf("Files in %s (filesystem type 0x%lx); warm page cache; medians of %d runs after one warm-up run.\n",
              o.dir.c_str(), static_cast<unsigned long>(sf.f_type), o.reps);
  std::printf("Load average at the start: %s.\n", load_average().c_str());
  std::printf("Ratio = baseline time / OWF time (1.00x: as fast as the baseline; higher is better).\n\n");
}

bool compression_available(const fs::path& dir) {
  owf::WriteOptions options;
  options.compression.enabled = true;
  auto w = owf::Writer::create(dir / "probe.owf", options);
  return w.ok();
}

void bench_dataset(const Dataset& d, const Options& o, std::vector<Row>& rows) {
  const int reps = o.reps;
  const auto names = names_of(d);
  const std::uint64_t n = d.tensors.size();
  const std::uint64_t fsize = size_of(d.owf);
  std::fprintf(stderr, "[%s] %zu tensors, %s of tensor data, file %s\n", d.name.c_str(), d.tensors.size(),
               fmt_bytes(d.total).c_str(), fmt_bytes(fsize).c_str());

  // Open, validate, look up every tensor by name.
  if (o.wants("open")) {
    const double manifest_s = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      keep(read_manifest_bytes(d.owf));
      return seconds_since(t0);
    });
    const double open_s = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      {
        auto f = take(owf::File::open(d.owf), "open");
        keep(f.tensor_count());
      }
      return seconds_since(t0);
    });
    const double lookup_s = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      {
        auto f = take(owf::File::open(d.owf), "open");
        for (const auto& name : names) keep(f.find(name).value_or(0));
      }
      return seconds_since(t0);
    });
    Row open{"open + validate", d.name, open_s, 0, n, "read the manifest bytes", manifest_s, 1.0 / 3.0};
    rows.push_back(open);
    Row lookup{"open + look up every tensor by name", d.name, lookup_s, 0, n, "read the manifest bytes", manifest_s, 0};
    if (d.name == "many-small") lookup.max_us_per_tensor = 0.5;
    rows.push_back(lookup);
  }

  // Zero-copy load touching every byte.
  if (o.wants("zero-copy")) {
    const double base = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      const int fd = open_or_die(d.owf, O_RDONLY);
      void* m = ::mmap(nullptr, fsize, PROT_READ, MAP_SHARED, fd, 0);
      if (m == MAP_FAILED) die("mmap");
      keep(touch(std::span(static_cast<const std::byte*>(m), fsize)));
      ::munmap(m, fsize);
      ::close(fd);
      return seconds_since(t0);
    });
    const double owf_s = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      auto f = take(owf::File::open(d.owf), "open");
      for (std::size_t i = 0; i < f.tensor_count(); ++i) keep(touch(take(f.bytes(f.tensor(i)), "bytes")));
      return seconds_since(t0);
    });
    rows.push_back(
        {"load all, zero-copy, touching every byte", d.name, owf_s, d.total, n, "mmap + touch every byte", base, 0.9});
  }

  // Read every tensor into caller buffers.
  if (o.wants("read")) {
    std::vector<std::byte> buffer(std::max(fsize, d.total));
    std::memset(buffer.data(), 1, buffer.size());  // resident before timing
    const double base = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      const int fd = open_or_die(d.owf, O_RDONLY);
      read_all(fd, buffer.data(), fsize, 0);
      ::close(fd);
      return seconds_since(t0);
    });
    const double owf_s = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      read_every_tensor(d.owf, buffer);
      return seconds_since(t0);
    });
    rows.push_back(
        {"read all into caller buffers", d.name, owf_s, d.total, n, "read() whole file, one buffer", base, 0.8});
  }

  // The parallel loader, warm: verified and unverified against memcpy of
  // the same bytes.
  // The parallel loader into caller buffers, warm.
  if (o.wants("load")) {
    std::vector<std::byte> from(d.total), buffer(d.total);
    std::memset(from.data(), 2, from.size());
    std::memset(buffer.data(), 1, buffer.size());  // resident before timing
    const double base = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      std::memcpy(buffer.data(), from.data(), from.size());
      keep(static_cast<std::uint64_t>(buffer[buffer.size() / 2]));
      return seconds_since(t0);
    });
    auto f = take(owf::File::open(d.owf), "open");
    const auto requests = load_all_requests(f, buffer);
    auto load_with = [&](bool verify) {
      return median_seconds(reps, [&] {
        owf::LoadOptions options;
        options.verify = verify;
        const auto t0 = Clock::now();
        check(f.load(requests, options), "load");
        return seconds_since(t0);
      });
    };
    rows.push_back({"load all into caller buffers, verified (warm)", d.name, load_with(true), d.total, n,
                    "memcpy of the same bytes", base, 0});
    rows.push_back({"load all into caller buffers, unverified (warm)", d.name, load_with(false), d.total, n,
                    "memcpy of the same bytes", base, 0});
  }

  // Cold cache: the file evicted before each run, against a direct read of
  // the whole file.
  if (!o.wants("cold")) {
  } else if (d.name != "many-small") {
    std::unique_ptr<std::byte, decltype(&std::free)> block(
        static_cast<std::byte*>(std::aligned_alloc(4096, kDirectBlock)), &std::free);
    std::vector<std::byte> buffer(d.total);
    std::memset(buffer.data(), 1, buffer.size());
    bool direct_ok = true;
    auto direct_run = [&] {
      evict(d.owf);
      const auto t0 = Clock::now();
      direct_ok = direct_read(d.owf, block.get()) && direct_ok;
      return seconds_since(t0);
    };
    auto cold_load = [&](bool verify) {
      return [&, verify] {
        evict(d.owf);
        const auto t0 = Clock::now();
        auto f = take(owf::File::open(d.owf), "open");
        owf::LoadOptions options;
        options.verify = verify;
        check(f.load(load_all_requests(f, buffer), options), "load");
        return seconds_since(t0);
      };
    };
    auto cold_verify = [&] {
      evict(d.owf);
      const auto t0 = Clock::now();
      auto f = take(owf::File::open(d.owf), "open");
      check(f.verify(), "verify");
      return seconds_since(t0);
    };
    const auto medians = alternating_medians(reps, {direct_run, cold_load(true), cold_load(false), cold_verify});
    const double direct_s = medians[0], verified_s = medians[1], unverified_s = medians[2], verify_s = medians[3];
    const std::string direct = "direct read, O_DIRECT 8 MiB blocks (dd iflag=direct bs=8M)";
    if (!direct_ok) {
      Row row{"cold load / verify", d.name, 0, d.total, n, direct, 0, 0};
      row.note = "no O_DIRECT on this filesystem";
      rows.push_back(row);
    } else {
      rows.push_back({"open + load all, verified (cold cache)", d.name, verified_s, fsize, n, direct, direct_s, 0.9});
      rows.push_back({"open + verify (cold cache)", d.name, verify_s, fsize, n, direct, direct_s, 0.9});
    }
    rows.push_back({"open + load all, verified (cold cache)", d.name, verified_s, fsize, n,
                    "the same load, unverified (cold cache)", unverified_s, 0.95});
  } else {
    const double manifest_s = median_seconds(reps, [&] {
      evict(d.owf);
      const auto t0 = Clock::now();
      keep(read_manifest_bytes(d.owf));
      return seconds_since(t0);
    });
    const double lookup_s = median_seconds(reps, [&] {
      evict(d.owf);
      const auto t0 = Clock::now();
      auto f = take(owf::File::open(d.owf), "open");
      for (const auto& name : names) keep(f.find(name).value_or(0));
      return seconds_since(t0);
    });
    rows.push_back({"open + look up every tensor by name (cold cache)", d.name, lookup_s, 0, n,
                    "read the manifest bytes (cold cache)", manifest_s, 0});
  }

  // Verify every digest.
  if (o.wants("verify")) {
    const int fd = open_or_die(d.owf, O_RDONLY);
    void* m = ::mmap(nullptr, fsize, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) die("mmap");
    const auto data = std::span(static_cast<const std::byte*>(m), fsize).first(d.total);
    const double base = median_seconds(reps, [&] {
      const auto t0 = Clock::now();
      sha256_once(data);
      return seconds_since(t0);
    });
    ::munmap(m, fsize);
    ::close(fd);
    auto verify_with = [&](unsigned threads) {
      return median_seconds(reps, [&] {
        auto f = take(owf::File::open(d.owf), "open");
        owf::VerifyOptions options;
        options.threads = threads;
        const auto t0 = Clock::now();
        check(f.verify(options), "verify");
        return seconds_since(t0);
      });
    };
    const bool parallel_target = d.name != "many-small";
    rows.push_back({"verify (all digests, " + std::to_string(cores()) + " threads)", d.name, verify_with(0), d.total, n,
                    "SHA-256, one core (OpenSSL)", base, parallel_target ? 1.7 : 0});
    rows.push_back(
        {"verify (all digests, 1 thread)", d.name, verify_with(1), d.total, n, "SHA-256, one core (OpenSSL)", base, 0});
  }

  // Write from memory, uncompressed, synced.
  if (o.wants("write")) {
    const fs::path out = o.dir / (d.name + ".out.owf");
    const auto data = all_bytes(d);
    const auto medians = alternating_medians(reps, {[&] {
                                                      const auto t0 = Clock::now();
                                                      const int fd = open_or_die(out, O_WRONLY | O_CREAT | O_TRUNC);
                                                      write_all(fd, data.data(), data.size());
                                                      if (::fsync(fd) != 0) die("fsync");
                                                      ::close(fd);
                                                      const double s = seconds_since(t0);
                                                      remove_file(out);
                                                      return s;
                                                    },
                                                    [&] {
                                                      const auto t0 = Clock::now();
                                                      write_from_memory(d, data, out, {});
                                                      const double s = seconds_since(t0);
                                                      remove_file(out);
                                                      return s;
                                                    }});
    const double base = medians[0], owf_s = medians[1];
    rows.push_back(
        {"write from memory (uncompressed, fsync)", d.name, owf_s, d.total, n, "write() + fsync, one file", base, 0.9});
  }

  // Convert safetensors -> OWF.
  if (o.wants("convert")) {
    const fs::path out = o.dir / (d.name + ".out.owf");
    Row row{"convert safetensors -> OWF (fsync)", d.name, 0, d.total, n, "copy_file_range + fsync", 0, 0.9};
    if (auto probe = owf::open_source(d.safetensors); !probe.ok()) {
      row.note = "not available in this build (" + probe.error().message() + ")";
      const auto cut = row.note.find(d.safetensors.string());
      if (cut != std::string::npos) row.note.erase(cut, d.safetensors.string().size() + 2);
    } else {
      const std::uint64_t st_size = size_of(d.safetensors);
      auto copy = [&] {
        const auto t0 = Clock::now();
        const int in = open_or_die(d.safetensors, O_RDONLY);
        const int fd = open_or_die(out, O_WRONLY | O_CREAT | O_TRUNC);
        for (std::uint64_t left = st_size; left > 0;) {
          const ssize_t r = ::copy_file_range(in, nullptr, fd, nullptr, left, 0);
          if (r <= 0) die("copy_file_range");
          left -= static_cast<std::uint64_t>(r);
        }
        if (::fsync(fd) != 0) die("fsync");
        ::close(fd);
        ::close(in);
        const double s = seconds_since(t0);
        remove_file(out);
        return s;
      };
      auto convert_with = [&](bool check_output) {
        return [&, check_output] {
          const auto t0 = Clock::now();
          check(convert_to_owf(d.safetensors, out, check_output), "convert");
          const double s = seconds_since(t0);
          remove_file(out);
          return s;
        };
      };
      // The default reads the finished file back and verifies it before it
      // takes the target's name: a second pass over every byte. Without it:
      const auto medians = alternating_medians(reps, {copy, convert_with(true), convert_with(false)});
      row.baseline_s = medians[0];
      row.owf_s = medians[1];
      Row unchecked = row;
      unchecked.operation = "convert safetensors -> OWF (fsync, no read-back check)";
      unchecked.owf_s = medians[2];
      rows.push_back(row);
      row = unchecked;
    }
    rows.push_back(row);
  }
}

void bench_compression(const Dataset& d, const Options& o, std::vector<Row>& rows) {
  const int reps = o.reps;
  const std::uint64_t n = d.tensors.size();
  if (!compression_available(o.dir)) {
    rows.push_back({"compressed write (zstd 3, fsync)", d.name, 0, 0, n, "zstd, same chunks and level, all cores", 0, 0,
                    "not available in this build"});
    rows.push_back({"compressed read into buffers", d.name, 0, 0, n, "zstd decompress, all cores", 0, 0,
                    "not available in this build"});
    return;
  }
  owf::WriteOptions options;
  options.compression.enabled = true;
  const fs::path out = o.dir / (d.name + ".zst.owf");
  const auto data = all_bytes(d);
  ZstdChunks chunks;
  const double base_write = median_seconds(reps, [&] {
    const auto t0 = Clock::now();
    chunks = zstd_compress_all(data, options.compression.chunk_bytes, options.compression.level);
    const int fd = open_or_die(out, O_WRONLY | O_CREAT | O_TRUNC);
    for (const auto& c : chunks.chunks) write_all(fd, c.data(), c.size());
    if (::fsync(fd) != 0) die("fsync");
    ::close(fd);
    const double s = seconds_since(t0);
    remove_file(out);
    return s;
  });
  auto write_compressed = [&] { write_from_memory(d, data, out, options); };
  const double owf_write = median_seconds(reps, [&] {
    const auto t0 = Clock::now();
    write_compressed();
    const double s = seconds_since(t0);
    remove_file(out);
    return s;
  });
  write_compressed();
  const std::uint64_t owf_size = size_of(out);
  char note[160];
  std::snprintf(note, sizeof note, " [OWF file %s, zstd alone %s, of %s]", fmt_bytes(owf_size).c_str(),
                fmt_bytes(chunks.compressed).c_str(), fmt_bytes(d.total).c_str());
  rows.push_back(
      {std::string("compressed write (zstd ") + std::to_string(options.compression.level) + ", fsync)" + note, d.name,
       owf_write, d.total, n, "zstd, same chunks and level, all cores, write() + fsync", base_write, 0});

  std::vector<std::byte> buffer(d.total);
  std::memset(buffer.data(), 1, buffer.size());
  const double base_read = median_seconds(reps, [&] {
    const auto t0 = Clock::now();
    zstd_decompress_all(chunks, buffer, options.compression.chunk_bytes);
    return seconds_since(t0);
  });
  const double owf_read = median_seconds(reps, [&] {
    const auto t0 = Clock::now();
    read_every_tensor(out, buffer);
    return seconds_since(t0);
  });
  rows.push_back({"compressed read into buffers", d.name, owf_read, d.total, n,
                  "zstd decompress, all cores (in memory)", base_read, 0});
  remove_file(out);
}

struct MemRow {
  std::string operation;
  std::string dataset;
  owf::bench::MemoryUse use;
  std::uint64_t reference = 0;  // manifest size or largest tensor
  std::string reference_name;
  std::uint64_t file = 0;
};

void print_memory(const std::vector<MemRow>& rows) {
  constexpr std::uint64_t kSlack = 8ull << 20;  // "a few MiB"
  std::printf(
      "| Operation | Data set | Peak memory growth (anonymous) | Peak RSS incl. mapped file pages | Reference | File "
      "size | Target | Met |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    if (!r.use.ok) {
      std::printf("| %s | %s | %s | | | | | |\n", r.operation.c_str(), r.dataset.c_str(), r.use.error.c_str());
      continue;
    }
    const std::uint64_t growth = r.use.peak_anon > r.use.before_anon ? r.use.peak_anon - r.use.before_anon : 0;
    std::printf("| %s | %s | %s | %s | %s %s | %s | <= reference + %s | %s |\n", r.operation.c_str(), r.dataset.c_str(),
                fmt_bytes(growth).c_str(), fmt_bytes(r.use.peak_rss).c_str(), r.reference_name.c_str(),
                fmt_bytes(r.reference).c_str(), fmt_bytes(r.file).c_str(), fmt_bytes(kSlack).c_str(),
                growth <= r.reference + kSlack ? "yes" : "**no**");
  }
}

int run(const Options& o) {
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  print_machine(o);
  std::vector<Dataset> sets;
  auto wanted = [&](const Dataset& d) { return o.only.empty() || o.only == d.name; };
  for (const char* name : {"many-small", "few-large", "one-huge", "few-large-bf16"}) {
    sets.push_back(make_dataset(name, o.scale, o.dir));
    if (!wanted(sets.back())) continue;
    std::fprintf(stderr, "generating %s\n", name);
    write_owf(sets.back(), sets.back().owf);
    write_safetensors(sets.back());
  }

  std::vector<Row> rows;
  for (std::size_t i = 0; i < 3; ++i)
    if (wanted(sets[i])) bench_dataset(sets[i], o, rows);
  if (wanted(sets[3])) {
    std::fprintf(stderr, "[compression]\n");
    bench_compression(sets[3], o, rows);
  }
  print_rows(rows);

  std::fprintf(stderr, "[memory]\n");
  std::vector<MemRow> mem;
  const std::string scale = std::to_string(o.scale);
  for (std::size_t i = 0; i < 3; ++i) {
    const Dataset& d = sets[i];
    if (!wanted(d)) continue;
    const std::uint64_t manifest = manifest_length(d.owf);
    const std::uint64_t fsize = size_of(d.owf);
    for (const char* op : {"open", "verify", "write", "convert"}) {
      if (!o.wants(op)) continue;
      const bool by_manifest = std::string(op) == "open" || std::string(op) == "verify";
      MemRow r{std::string(op == std::string("open") ? "open + look up all" : op), d.name,
               owf::bench::run_child({"owf_bench", "--child", op, d.name, "--dir", o.dir.string(), "--scale", scale}),
               // A writer holds the manifest it is building and a piece of
               // the tensor it streams: whichever is larger.
               by_manifest || manifest > d.largest ? manifest : d.largest,
               by_manifest || manifest > d.largest ? "manifest" : "largest tensor", fsize};
      if (!r.use.ok && std::string(op) == "convert") r.use.error = "not available in this build";
      mem.push_back(std::move(r));
    }
  }
  std::printf("\nPeak memory of one run of each operation, each in a fresh process.\n\n");
  print_memory(mem);
  std::printf("\nLoad average at the end: %s.\n", load_average().c_str());

  if (!o.keep_files)
    for (const auto& d : sets) {
      remove_file(d.owf);
      remove_file(d.safetensors);
    }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string child_op, child_set;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--dir")
      o.dir = next();
    else if (a == "--reps")
      o.reps = std::max(1, std::stoi(next()));
    else if (a == "--scale")
      o.scale = std::max<std::uint64_t>(1, std::stoull(next()));
    else if (a == "--keep")
      o.keep_files = true;
    else if (a == "--only")
      o.only = next();
    else if (a == "--ops")
      o.ops = next();
    else if (a == "--child") {
      child_op = next();
      child_set = next();
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: owf_bench [--dir DIR] [--reps N] [--scale K] [--keep] [--only DATASET] [--ops GROUPS]\n"
          "  GROUPS: comma-separated, of %s\n",
          kOpGroups);
      return 0;
    } else {
      die("unknown argument " + a);
    }
  }
  if (!child_op.empty()) return child_main(child_op, child_set, o.dir, o.scale);
  return run(o);
}
