// Compressed storage (spec/compression.md): round trips of every dtype,
// slices across chunk boundaries, the "zstd" required feature, determinism
// across thread counts, and one crafted file per hostile-input defect.
#include <doctest/doctest.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "codec.hpp"
#include "layout.hpp"
#include "manifest.hpp"
#include "sha256.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

constexpr std::uint64_t kChunk = 64 << 10;

// Bytes that compress: normally distributed F32-like values for float types,
// small values for the rest.
std::vector<std::byte> compressible_bytes(DType dtype, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  if (dtype == DType::kF32 || dtype == DType::kC64) {
    for (std::size_t i = 0; i + 4 <= n; i += 4) {
      const float v = normal(rng);
      std::memcpy(&out[i], &v, 4);
    }
  } else if (dtype == DType::kF64 || dtype == DType::kC128) {
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      const double v = normal(rng);
      std::memcpy(&out[i], &v, 8);
    }
  } else if (dtype == DType::kBF16 || dtype == DType::kF16) {
    for (std::size_t i = 0; i + 2 <= n; i += 2) {
      const float v = normal(rng);
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      // BF16 truncation; for F16 these are merely 16-bit patterns with a skewed high byte.
      const std::uint16_t h = static_cast<std::uint16_t>(bits >> 16);
      std::memcpy(&out[i], &h, 2);
    }
  } else {
    for (auto& b : out) b = static_cast<std::byte>(rng() % 5);
  }
  return out;
}

WriteOptions compressed_options(unsigned threads = 0) {
  WriteOptions o;
  o.compression.enabled = true;
  o.compression.chunk_bytes = kChunk;
  o.compression.threads = threads;
  o.sync = false;
  return o;
}

// Shape of about `target` bytes for any dtype, with a partial last chunk.
std::vector<std::uint64_t> shape_near(const DTypeInfo& info, std::uint64_t target) {
  const std::uint64_t row_elems = info.row_blocked ? info.block_elements * 4ull : 100;
  auto row_bytes = tensor_byte_size(info.dtype, std::vector<std::uint64_t>{1, row_elems});
  REQUIRE(row_bytes.ok());
  return {std::max<std::uint64_t>(1, target / *row_bytes), row_elems};
}

struct Written {
  TensorSpec spec;
  std::vector<std::byte> data;
};

std::map<std::string, Written> every_dtype() {
  std::map<std::string, Written> out;
  std::uint32_t seed = 7;
  for (const auto& info : all_dtypes()) {
    TensorSpec spec{"t." + std::string(info.name), info.dtype, shape_near(info, 3 * kChunk + 1000), Role::kWeight};
    auto size = tensor_byte_size(spec.dtype, spec.shape);
    REQUIRE(size.ok());
    out[spec.name] = {spec, owf::test::make_canonical(info.dtype, element_count(spec.shape).value(),
                                                      compressible_bytes(info.dtype, *size, seed++))};
  }
  return out;
}

void write_all(const std::filesystem::path& path, const std::map<std::string, Written>& tensors,
               const WriteOptions& o) {
  auto w = Writer::create(path, o);
  REQUIRE_MESSAGE(w.ok(), w.error().to_string());
  for (const auto& [name, t] : tensors) {
    auto s = w->add_tensor(t.spec, t.data);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  }
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  auto s = w->finish();
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
}

bool lists_zstd(const File& f) {
  const auto features = f.required_features();
  return std::find(features.begin(), features.end(), "zstd") != features.end();
}

// ---- Crafted files -------------------------------------------------------

std::vector<std::byte> zstd_frame(std::span<const std::byte> data, bool content_size = true) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
  std::vector<std::byte> out(ZSTD_compressBound(data.size()));
  std::size_t n;
  if (content_size) {
    n = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  } else {
    // Streaming without a pledged size leaves the content size out.
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    n = ZSTD_compressStream2(c, &o, &in, ZSTD_e_end);
    REQUIRE(n == 0);
    n = o.pos;
  }
  ZSTD_freeCCtx(c);
  REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A file with one U8 tensor "x" of `logical` bytes stored as `frames`
// (codec zstd, chunk_length `chunk`), framed by hand so that any chunk
// table or frame can be written. `edit` may change the record before encoding.
struct Crafted {
  std::vector<std::byte> logical;
  std::vector<std::vector<std::byte>> frames;
  std::uint64_t chunk = 1000;
  Codec codec = Codec::kZstd;
  DType dtype = DType::kU8;
  std::vector<std::string> features = {"zstd"};

  explicit Crafted(std::size_t n = 2500) : logical(compressible_bytes(DType::kU8, n, 99)) {
    for (std::size_t at = 0; at < logical.size(); at += chunk)
      frames.push_back(zstd_frame(std::span(logical).subspan(at, std::min<std::size_t>(chunk, logical.size() - at))));
  }

  template <class Edit>
  std::vector<std::byte> build(Edit edit) const {
    internal::TensorRecord r;
    r.name = "x";
    r.dtype = dtype;
    const std::uint64_t width = dtype == DType::kF32 ? 4 : 1;
    r.shape = {logical.size() / width};
    r.codec = codec;
    r.offset = 64;
    r.sha256 = internal::sha256(logical);
    r.chunk_length = chunk;
    std::vector<std::byte> data;
    for (const auto& f : frames) {
      r.chunks.push_back({data.size(), f.size()});
      data.insert(data.end(), f.begin(), f.end());
    }
    r.stored_length = data.size();
    edit(r);
    internal::ManifestModel m;
    m.required_features = features;
    m.info.license = owf::test::test_license();
    m.tensors.push_back(r);
    auto manifest = internal::encode_manifest(m);
    REQUIRE(manifest.ok());
    std::vector<std::byte> file;
    const auto header = internal::encode_header();
    file.insert(file.end(), header.begin(), header.end());
    file.insert(file.end(), data.begin(), data.end());
    file.resize(internal::align_up(file.size(), internal::kManifestAlignment));
    internal::Footer footer;
    footer.manifest_offset = file.size();
    footer.manifest_length = manifest->size();
    footer.manifest_sha256 = internal::sha256(*manifest);
    file.insert(file.end(), manifest->begin(), manifest->end());
    const auto f = internal::encode_footer(footer);
    file.insert(file.end(), f.begin(), f.end());
    return file;
  }
  std::vector<std::byte> build() const {
    return build([](internal::TensorRecord&) {});
  }
};

// Opens crafted bytes; the buffer must outlive the File.
Result<File> open_bytes(const std::vector<std::byte>& bytes, const Limits& limits = {}) {
  return File::open_buffer(bytes, limits);
}

ErrorCode read_code(const File& f) {
  auto t = f.tensor("x");
  REQUIRE(t.ok());
  std::vector<std::byte> out(t->logical_bytes);
  return f.read(*t, out).code();
}

}  // namespace

TEST_CASE("every dtype round-trips compressed, bit-exact, with the uncompressed file's weights digest") {
  TempDir dir;
  const auto tensors = every_dtype();
  WriteOptions plain;
  plain.sync = false;
  write_all(dir / "plain.owf", tensors, plain);
  write_all(dir / "zstd.owf", tensors, compressed_options());

  auto p = File::open(dir / "plain.owf");
  auto z = File::open(dir / "zstd.owf");
  REQUIRE_MESSAGE(p.ok(), p.error().to_string());
  REQUIRE_MESSAGE(z.ok(), z.error().to_string());
  CHECK(!lists_zstd(*p));
  CHECK(lists_zstd(*z));
  CHECK(z->verify().ok());
  CHECK(z->weights_digest() == p->weights_digest());
  CHECK(z->file_size() < p->file_size());
  for (const auto& [tensor_name, w] : tensors) {
    const std::string& name = tensor_name;  // clang 14 lambdas (CAPTURE) cannot capture a structured binding
    CAPTURE(name);
    auto t = z->tensor(name);
    REQUIRE(t.ok());
    const Codec expected = internal::byte_group_width(w.spec.dtype) != 0 ? Codec::kZstdByteGroup : Codec::kZstd;
    CHECK(t->codec == expected);
    CHECK(t->logical_bytes == w.data.size());
    CHECK(t->stored_bytes < t->logical_bytes);
    CHECK(t->sha256 == p->tensor(name)->sha256);
    CHECK(!z->bytes(*t).ok());
    std::vector<std::byte> out(t->logical_bytes);
    auto s = z->read(*t, out, true);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(out == w.data);
  }
}

TEST_CASE("incompressible, tiny and empty tensors stay raw; a file with no compressed tensor lists no feature") {
  TempDir dir;
  const auto random = owf::test::pseudo_random_bytes(5 * kChunk + 12, 3);
  const auto tiny = compressible_bytes(DType::kF32, 16, 4);
  {
    auto w = Writer::create(dir / "a.owf", compressed_options());
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"random", DType::kU8, {random.size()}}, random).ok());
    REQUIRE(w->add_tensor({"tiny", DType::kF32, {4}}, tiny).ok());
    REQUIRE(w->add_tensor({"empty", DType::kF32, {0, 3}}, {}).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(dir / "a.owf");
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(!lists_zstd(*f));
  for (const char* name : {"random", "tiny", "empty"}) {
    CAPTURE(name);
    CHECK(f->tensor(std::string_view(name))->codec == Codec::kNone);
  }
  auto view = f->bytes(*f->tensor("random"));
  REQUIRE(view.ok());
  CHECK(std::equal(view->begin(), view->end(), random.begin(), random.end()));
  CHECK(f->verify().ok());
}

TEST_CASE("the codec is decided on the leading chunks; later incompressible chunks still round-trip") {
  TempDir dir;
  auto data = compressible_bytes(DType::kU8, 4 * kChunk, 5);
  const auto noise = owf::test::pseudo_random_bytes(3 * kChunk + 77, 6);
  data.insert(data.end(), noise.begin(), noise.end());
  {
    auto w = Writer::create(dir / "a.owf", compressed_options());
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"mixed", DType::kU8, {data.size()}}, data).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(dir / "a.owf");
  REQUIRE(f.ok());
  auto t = f->tensor("mixed");
  REQUIRE(t.ok());
  CHECK(t->codec == Codec::kZstd);
  std::vector<std::byte> out(t->logical_bytes);
  REQUIRE(f->read(*t, out, true).ok());
  CHECK(out == data);
}

TEST_CASE("min_saving keeps a tensor raw when compression does not save enough") {
  TempDir dir;
  const auto data = compressible_bytes(DType::kF32, 2 * kChunk, 8);  // saves roughly a quarter
  for (double min_saving : {0.0, 0.9}) {
    CAPTURE(min_saving);
    auto o = compressed_options();
    o.compression.min_saving = min_saving;
    const auto path = dir / "a.owf";
    auto w = Writer::create(path, o);
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"w", DType::kF32, {data.size() / 4}}, data).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
    auto f = File::open(path);
    REQUIRE(f.ok());
    CHECK(f->tensor("w")->codec == (min_saving == 0.0 ? Codec::kZstdByteGroup : Codec::kNone));
  }
}

TEST_CASE("read_range across chunk boundaries, in byte-group and plain zstd tensors") {
  TempDir dir;
  const auto f32 = compressible_bytes(DType::kF32, 5 * kChunk + 4 * 333, 10);
  const auto i32 = compressible_bytes(DType::kI32, 5 * kChunk + 4 * 333, 11);
  const auto c128 = compressible_bytes(DType::kC128, 3 * kChunk + 16 * 5, 12);
  {
    auto w = Writer::create(dir / "a.owf", compressed_options());
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"f32", DType::kF32, {f32.size() / 4}}, f32).ok());
    REQUIRE(w->add_tensor({"i32", DType::kI32, {i32.size() / 4}}, i32).ok());
    REQUIRE(w->add_tensor({"c128", DType::kC128, {c128.size() / 16}}, c128).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(dir / "a.owf");
  REQUIRE(f.ok());
  for (const auto& [name, data] : {std::pair{"f32", &f32}, std::pair{"i32", &i32}, std::pair{"c128", &c128}}) {
    auto t = f->tensor(std::string_view(name));
    REQUIRE(t.ok());
    CHECK(t->codec != Codec::kNone);
    const std::uint64_t n = data->size();
    const std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges = {{0, n},
                                                                         {0, 1},
                                                                         {n - 1, 1},
                                                                         {kChunk - 3, 7},
                                                                         {kChunk, kChunk},
                                                                         {kChunk - 1, 2 * kChunk + 2},
                                                                         {1, n - 2},
                                                                         {4 * kChunk + 5, n - 4 * kChunk - 5},
                                                                         {3, 5},
                                                                         {2 * kChunk + 1, 13},
                                                                         {n, 0}};
    for (const auto& range : ranges) {
      // Plain variables: clang 14 lambdas (CAPTURE) cannot capture structured bindings.
      const std::uint64_t at = range.first, len = range.second;
      const char* const tensor = name;
      if (at > n || len > n - at) continue;
      CAPTURE(tensor);
      CAPTURE(at);
      CAPTURE(len);
      std::vector<std::byte> out(len);
      auto s = f->read_range(*t, at, out);
      REQUIRE_MESSAGE(s.ok(), s.error().to_string());
      CHECK(std::equal(out.begin(), out.end(), data->begin() + static_cast<std::ptrdiff_t>(at)));
    }
    std::vector<std::byte> out(2);
    CHECK(f->read_range(*t, n - 1, out).code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("compressed files are identical whatever the thread count, streamed or whole") {
  TempDir dir;
  const auto a = compressible_bytes(DType::kBF16, 11 * kChunk + 6, 20);
  const auto b = compressible_bytes(DType::kI64, 9 * kChunk + 8, 21);
  std::vector<std::vector<std::byte>> files;
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    for (bool streamed : {false, true}) {
      const auto path = dir / ("t" + std::to_string(threads) + (streamed ? "s" : "w") + ".owf");
      auto w = Writer::create(path, compressed_options(threads));
      REQUIRE(w.ok());
      if (streamed) {
        REQUIRE(w->begin_tensor({"a", DType::kBF16, {a.size() / 2}}).ok());
        for (std::size_t at = 0; at < a.size(); at += 12345)
          REQUIRE(w->append(std::span(a).subspan(at, std::min<std::size_t>(12345, a.size() - at))).ok());
        REQUIRE(w->end_tensor().ok());
      } else {
        REQUIRE(w->add_tensor({"a", DType::kBF16, {a.size() / 2}}, a).ok());
      }
      REQUIRE(w->add_tensor({"b", DType::kI64, {b.size() / 8}}, b).ok());
      REQUIRE(w->set_license(owf::test::test_license()).ok());
      REQUIRE(w->finish().ok());
      files.push_back(owf::test::slurp(path));
    }
  }
  for (std::size_t i = 1; i < files.size(); ++i) CHECK(files[i] == files[0]);
  auto f = File::open(dir / "t1w.owf");
  REQUIRE(f.ok());
  CHECK(f->tensor("a")->codec == Codec::kZstdByteGroup);
  CHECK(f->tensor("b")->codec == Codec::kZstd);
  for (unsigned threads : {1u, 2u}) {
    VerifyOptions v;
    v.threads = threads;
    CHECK(f->verify(v).ok());
  }
}

TEST_CASE("writer refuses invalid compression options") {
  TempDir dir;
  auto bad = [&](auto edit) {
    auto o = compressed_options();
    edit(o.compression);
    return Writer::create(dir / "x.owf", o).code();
  };
  CHECK(bad([](CompressionOptions& c) { c.chunk_bytes = 1000; }) == ErrorCode::kInvalidArgument);
  CHECK(bad([](CompressionOptions& c) { c.chunk_bytes = 128ull << 20; }) == ErrorCode::kInvalidArgument);
  CHECK(bad([](CompressionOptions& c) { c.chunk_bytes = (64 << 10) + 4; }) == ErrorCode::kInvalidArgument);
  CHECK(bad([](CompressionOptions& c) { c.level = 99; }) == ErrorCode::kInvalidArgument);
  CHECK(bad([](CompressionOptions& c) { c.min_saving = 1.5; }) == ErrorCode::kInvalidArgument);
  CHECK(bad([](CompressionOptions& c) { c.min_saving = std::nan(""); }) == ErrorCode::kInvalidArgument);
  CHECK(bad([](CompressionOptions& c) { c.level = 19; }) == ErrorCode::kOk);
}

TEST_CASE("byte-group filter layout") {
  // Two F32 elements 0x03020100 and 0x13121110: planes of byte 0, 1, 2, 3.
  std::vector<std::byte> in, grouped(8);
  for (int v : {0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13}) in.push_back(static_cast<std::byte>(v));
  internal::byte_group(in, 4, grouped);
  std::vector<std::byte> expected;
  for (int v : {0x00, 0x10, 0x01, 0x11, 0x02, 0x12, 0x03, 0x13}) expected.push_back(static_cast<std::byte>(v));
  CHECK(grouped == expected);
  for (std::uint64_t begin = 0; begin < 8; ++begin)
    for (std::uint64_t len = 0; begin + len <= 8; ++len) {
      std::vector<std::byte> out(len);
      internal::byte_ungroup(grouped, 4, begin, out);
      CHECK(std::equal(out.begin(), out.end(), in.begin() + static_cast<std::ptrdiff_t>(begin)));
    }
}

TEST_CASE("a byte-group chunk is one zstd frame with its content size, decoding to the filtered bytes") {
  for (DType dtype : {DType::kBF16, DType::kF32, DType::kF64}) {
    const unsigned width = internal::byte_group_width(dtype);
    CAPTURE(width);
    for (std::size_t n : {std::size_t{8}, std::size_t{1000} * width, std::size_t{300000} * width}) {
      const auto chunk = compressible_bytes(dtype, n, 31);
      internal::ChunkCompressor compressor;
      std::vector<std::byte> frame;
      for (int level : {3, 12}) {
        REQUIRE(compressor.compress(Codec::kZstdByteGroup, width, level, chunk, frame).ok());
        CHECK(ZSTD_findFrameCompressedSize(frame.data(), frame.size()) == frame.size());
        CHECK(ZSTD_getFrameContentSize(frame.data(), frame.size()) == n);
        CHECK(ZSTD_getDictID_fromFrame(frame.data(), frame.size()) == 0);
        std::vector<std::byte> decoded(n), filtered(n);
        CHECK(ZSTD_decompress(decoded.data(), n, frame.data(), frame.size()) == n);
        internal::byte_group(chunk, width, filtered);
        CHECK(decoded == filtered);
      }
    }
  }
}

TEST_CASE("crafted files: the baseline opens and reads") {
  const Crafted c;
  const auto bytes = c.build();
  auto f = open_bytes(bytes);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(read_code(*f) == ErrorCode::kOk);
  CHECK(f->verify().ok());
}

TEST_CASE("required features: compression must be listed, unknown features are refused") {
  Crafted c;
  c.features = {};
  const auto missing = c.build();
  CHECK(open_bytes(missing).code() == ErrorCode::kBadChunkTable);
  c.features = {"zstd", "zstd-dictionaries"};
  const auto unknown = c.build();
  CHECK(open_bytes(unknown).code() == ErrorCode::kUnknownRequiredFeature);
}

TEST_CASE("hostile chunk tables are refused at open") {
  const Crafted c;
  auto code = [&](auto edit, const Limits& limits = {}) {
    const auto bytes = c.build(edit);
    return open_bytes(bytes, limits).code();
  };
  using R = internal::TensorRecord;
  SUBCASE("chunk_length over the reader's limit") {
    Limits small;
    small.max_chunk_bytes = 999;
    CHECK(code([](R&) {}, small) == ErrorCode::kLimitExceeded);
    CHECK(code([](R& r) { r.chunk_length = 1ull << 40; }) == ErrorCode::kLimitExceeded);
  }
  SUBCASE("chunk_length 0") {
    CHECK(code([](R& r) { r.chunk_length = 0; }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("too few chunks") {
    CHECK(code([](R& r) {
            r.chunks.pop_back();
            r.stored_length = r.chunks.back().offset + r.chunks.back().stored_length;
          }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("too many chunks") {
    CHECK(code([](R& r) { r.chunk_length = 2000; }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("gap between chunks") {
    CHECK(code([](R& r) {
            r.chunks[1].offset += 1;
            r.chunks[1].stored_length -= 1;
          }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("overlapping chunks") {
    CHECK(code([](R& r) {
            r.chunks[1].offset -= 1;
            r.chunks[1].stored_length += 1;
          }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("chunk out of order") {
    CHECK(code([](R& r) { std::swap(r.chunks[0], r.chunks[1]); }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("chunk past the stored bytes") {
    CHECK(code([](R& r) { r.chunks[2].stored_length += 1; }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("chunk with an overflowing length") {
    CHECK(code([](R& r) { r.chunks[2].stored_length = ~0ull; }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("stored bytes not covered by chunks") {
    CHECK(code([](R& r) { r.chunks[2].stored_length -= 1; }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("empty chunk") {
    CHECK(code([](R& r) {
            r.chunks[2].offset = r.stored_length;
            r.chunks[2].stored_length = 0;
          }) == ErrorCode::kBadChunkTable);
  }
  SUBCASE("compressed tensor storing no bytes") {
    const auto bytes = c.build([](R& r) {
      r.offset = 0;
      r.stored_length = 0;
    });
    const auto f = open_bytes(bytes);
    CHECK_MESSAGE(f.code() == ErrorCode::kBadChunkTable, (f.ok() ? std::string() : f.error().to_string()));
  }
  SUBCASE("byte-group codec on an integer dtype") {
    CHECK(code([](R& r) { r.codec = Codec::kZstdByteGroup; }) == ErrorCode::kBadChunkTable);
  }
}

TEST_CASE("a frame's declared window: any size under 4 GiB decodes, larger ones are refused (C9)") {
  // Windows never size memory: the chunk is decoded into its own bytes.
  for (unsigned exponent : {0u, 17u, 21u, 22u, 31u}) {
    CAPTURE(exponent);
    Crafted c;
    const auto second = std::span(c.logical).subspan(1000, 1000);
    c.frames[1] = zstd_frame(second, false);
    REQUIRE((std::to_integer<unsigned>(c.frames[1][4]) & 0x20) == 0);  // has a Window_Descriptor
    c.frames[1][5] = static_cast<std::byte>(exponent << 3 | 7);
    const auto bytes = c.build();
    auto f = open_bytes(bytes);
    REQUIRE(f.ok());
    const auto v = f->verify();
    if (exponent <= 21) {
      CHECK_MESSAGE(v.ok(), v.error().to_string());
    } else {
      CHECK(v.code() == ErrorCode::kCorruptCompressedData);
      CHECK(v.error().message().find("window") != std::string::npos);
    }
  }
}

// A frame without content size, with Window_Descriptor `descriptor`,
// holding `data` as raw blocks of `block` bytes (or, if `rle`, one RLE
// block of data.size() copies of data[0]).
std::vector<std::byte> handmade_frame(std::span<const std::byte> data, unsigned descriptor, std::size_t block,
                                      bool rle = false) {
  std::vector<std::byte> f = {std::byte{0x28}, std::byte{0xB5}, std::byte{0x2F},
                              std::byte{0xFD}, std::byte{0},    static_cast<std::byte>(descriptor)};
  auto put_header = [&](std::size_t size, unsigned type, bool last) {
    const auto h = static_cast<std::uint32_t>(size << 3 | type << 1 | (last ? 1 : 0));
    for (int k = 0; k < 3; ++k) f.push_back(static_cast<std::byte>(h >> (8 * k) & 0xFF));
  };
  if (rle) {
    put_header(data.size(), 1, true);
    f.push_back(data[0]);
    return f;
  }
  for (std::size_t at = 0; at < data.size(); at += block) {
    const std::size_t n = std::min(block, data.size() - at);
    put_header(n, 0, at + n == data.size());
    f.insert(f.end(), data.begin() + static_cast<std::ptrdiff_t>(at),
             data.begin() + static_cast<std::ptrdiff_t>(at + n));
  }
  return f;
}

TEST_CASE("every block holds at most the smaller of the frame's window and 128 KiB (C11)") {
  auto verify_one_chunk = [](std::vector<std::byte> logical, std::vector<std::byte> frame) {
    Crafted c;
    c.logical = std::move(logical);
    c.chunk = c.logical.size();
    c.frames = {std::move(frame)};
    const auto bytes = c.build();
    auto f = open_bytes(bytes);
    REQUIRE(f.ok());
    return f->verify();
  };
  const std::vector<std::byte> sevens(2500, std::byte{7});
  CHECK(verify_one_chunk(sevens, handmade_frame(sevens, 2 << 3, 0, true)).ok());  // window 4 KiB
  auto s = verify_one_chunk(sevens, handmade_frame(sevens, 0, 0, true));          // window 1 KiB
  CHECK(s.code() == ErrorCode::kCorruptCompressedData);
  CHECK(s.error().message().find("block 0 holds 2500 bytes") != std::string::npos);
  const auto noise = owf::test::pseudo_random_bytes(200000, 5);
  CHECK(verify_one_chunk(noise, handmade_frame(noise, 10 << 3, 100000)).ok());  // window 1 MiB
  CHECK(verify_one_chunk(noise, handmade_frame(noise, 10 << 3, 131072)).ok());
  s = verify_one_chunk(noise, handmade_frame(noise, 10 << 3, 131073));
  CHECK(s.code() == ErrorCode::kCorruptCompressedData);
  CHECK(s.error().message().find("over the 131072 bytes") != std::string::npos);
  CHECK(verify_one_chunk(noise, handmade_frame(noise, 0, 1025)).code() == ErrorCode::kCorruptCompressedData);
  CHECK(verify_one_chunk(noise, handmade_frame(noise, 0, 1024)).ok());
}

TEST_CASE("hostile frames are refused when read, with the other chunks still readable") {
  Crafted c;
  const auto second = std::span(c.logical).subspan(1000, 1000);
  SUBCASE("frame declares more bytes than the chunk") {
    auto more = std::vector<std::byte>(second.begin(), second.end());
    more.push_back(std::byte{1});
    c.frames[1] = zstd_frame(more);
  }
  SUBCASE("frame without content size decodes to more bytes") {
    auto more = std::vector<std::byte>(second.begin(), second.end());
    more.push_back(std::byte{1});
    c.frames[1] = zstd_frame(more, false);
  }
  SUBCASE("frame declares fewer bytes than the chunk") { c.frames[1] = zstd_frame(second.first(999)); }
  SUBCASE("frame without content size decodes to fewer bytes") { c.frames[1] = zstd_frame(second.first(999), false); }
  SUBCASE("truncated frame") { c.frames[1].resize(c.frames[1].size() - 3); }
  SUBCASE("trailing garbage after the frame") {
    for (int i = 0; i < 4; ++i) c.frames[1].push_back(std::byte{0});
  }
  SUBCASE("two frames in one chunk") {
    auto half = zstd_frame(second.first(500));
    c.frames[1] = half;
    auto rest = zstd_frame(second.subspan(500));
    c.frames[1].insert(c.frames[1].end(), rest.begin(), rest.end());
  }
  SUBCASE("not a zstd frame") { c.frames[1] = owf::test::pseudo_random_bytes(40, 1); }
  SUBCASE("skippable frame") {
    c.frames[1] = {std::byte{0x50}, std::byte{0x2A}, std::byte{0x4D}, std::byte{0x18}, std::byte{4}, std::byte{0},
                   std::byte{0},    std::byte{0},    std::byte{1},    std::byte{2},    std::byte{3}, std::byte{4}};
  }
  SUBCASE("frame needs a dictionary") {
    // Set the frame header's dictionary-ID flag to 1 byte and insert ID 7
    // after the window descriptor.
    auto& f = c.frames[1];
    const auto fhd = std::to_integer<unsigned>(f[4]);
    const std::size_t at = 5 + ((fhd & 0x20) ? 0 : 1);
    f[4] = static_cast<std::byte>(fhd | 1);
    f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), std::byte{7});
  }
  SUBCASE("corrupted frame body") { c.frames[1][c.frames[1].size() / 2] ^= std::byte{0x5A}; }
  const auto bytes = c.build();
  auto f = open_bytes(bytes);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  auto t = f->tensor("x");
  REQUIRE(t.ok());
  std::vector<std::byte> out(t->logical_bytes);
  const auto s = f->read(*t, out);
  // A corrupted body may decode to other bytes of the same size; the digest catches that.
  if (s.ok()) {
    CHECK(f->read(*t, out, true).code() == ErrorCode::kTensorDigestMismatch);
  } else {
    CHECK_MESSAGE(s.code() == ErrorCode::kCorruptCompressedData, s.error().to_string());
  }
  const auto v = f->verify();
  CHECK((v.code() == ErrorCode::kCorruptCompressedData || v.code() == ErrorCode::kTensorDigestMismatch));
  std::vector<std::byte> head(1000), tail(500);
  CHECK(f->read_range(*t, 0, head).ok());
  CHECK(f->read_range(*t, 2000, tail).ok());
  CHECK(std::equal(tail.begin(), tail.end(), c.logical.begin() + 2000));
  std::vector<std::byte> across(2);
  CHECK(f->read_range(*t, 999, across).code() == s.code());
}

TEST_CASE("random corruption of compressed chunks is refused or caught by the digest, never trusted (fixed seed)") {
  const auto data = compressible_bytes(DType::kF32, 3 * kChunk + 400, 41);
  std::vector<std::byte> file;
  {
    TempDir dir;
    auto w = Writer::create(dir / "a.owf", compressed_options(1));
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"w", DType::kF32, {data.size() / 4}}, data).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
    file = owf::test::slurp(dir / "a.owf");
  }
  auto clean = File::open_buffer(file);
  REQUIRE(clean.ok());
  const TensorInfo t = clean->tensor(0);
  REQUIRE(t.codec == Codec::kZstdByteGroup);
  std::mt19937 rng(1234);
  std::vector<std::byte> out(t.logical_bytes);
  for (int i = 0; i < 300; ++i) {
    auto bad = file;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bad[t.offset + rng() % t.stored_bytes] ^= static_cast<std::byte>(1 + rng() % 255);
    auto f = File::open_buffer(bad);  // the manifest is intact: open succeeds
    REQUIRE(f.ok());
    const auto s = f->read(f->tensor(0), out, true);
    const bool refused = s.code() == ErrorCode::kCorruptCompressedData || s.code() == ErrorCode::kTensorDigestMismatch;
    const std::string why = s.ok() ? std::string("corruption went unnoticed") : s.error().to_string();
    CHECK_MESSAGE(refused, why);
  }
}
