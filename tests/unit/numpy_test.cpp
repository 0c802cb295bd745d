// NumPy .npy and .npz: corpus files, header variants (versions, Python 2
// longs, big-endian, Fortran order), the writers (NumPy's own header bytes),
// and one refusal per class of malformed header, archive or member.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "formats/formats.hpp"
#include "formats/zip_archive.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;

std::vector<std::byte> to_bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A .npy file: magic, version, header length, the dict padded as NumPy does, data.
std::vector<std::byte> npy(const std::string& dict, std::span<const std::byte> data, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((h.size() >> (8 * i)) & 0xFF);
  out += h;
  auto bytes = to_bytes(out);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

template <class T>
std::vector<T> read_as(const Source& s, std::size_t index) {
  const TensorInfo t = s.tensor(index);
  std::vector<T> out(t.logical_bytes / sizeof(T));
  auto st = s.read(index, std::as_writable_bytes(std::span(out)));
  REQUIRE_MESSAGE(st.ok(), st.error().to_string());
  return out;
}

std::vector<std::uint64_t> shape_of(const TensorInfo& t) { return {t.shape.begin(), t.shape.end()}; }

struct ZipMember {
  std::string name;
  std::vector<std::byte> data;
  bool deflate = false;
  std::optional<std::uint64_t> declared_size;  // a lie about the uncompressed size
  std::optional<std::uint32_t> crc;            // a wrong CRC
};

void put(std::vector<std::byte>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}

std::vector<std::byte> deflate_raw(std::span<const std::byte> in) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::byte> out(deflateBound(&zs, in.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A minimal zip archive (no ZIP64), for building broken archives on purpose.
std::vector<std::byte> make_zip(const std::vector<ZipMember>& members) {
  std::vector<std::byte> out, central;
  for (const auto& m : members) {
    const std::uint64_t offset = out.size();
    const auto body = m.deflate ? deflate_raw(m.data) : m.data;
    const std::uint32_t crc = m.crc ? *m.crc
                                    : static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()),
                                                                       static_cast<uInt>(m.data.size())));
    const std::uint64_t size = m.declared_size ? *m.declared_size : m.data.size();
    const std::uint64_t csize = m.deflate ? body.size() : size;
    const int method = m.deflate ? 8 : 0;
    put(out, 0x04034b50, 4);
    put(out, 20, 2);
    put(out, 0, 2);
    put(out, method, 2);
    put(out, 0, 2);
    put(out, 33, 2);
    put(out, crc, 4);
    put(out, csize, 4);
    put(out, size, 4);
    put(out, m.name.size(), 2);
    put(out, 0, 2);
    const auto name = to_bytes(m.name);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), body.begin(), body.end());
    put(central, 0x02014b50, 4);
    put(central, 20, 2);
    put(central, 20, 2);
    put(central, 0, 2);
    put(central, method, 2);
    put(central, 0, 2);
    put(central, 33, 2);
    put(central, crc, 4);
    put(central, csize, 4);
    put(central, size, 4);
    put(central, m.name.size(), 2);
    put(central, 0, 2);
    put(central, 0, 2);
    put(central, 0, 2);
    put(central, 0, 2);
    put(central, 0, 4);
    put(central, offset, 4);
    central.insert(central.end(), name.begin(), name.end());
  }
  const std::uint64_t cd_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  put(out, 0x06054b50, 4);
  put(out, 0, 2);
  put(out, 0, 2);
  put(out, members.size(), 2);
  put(out, members.size(), 2);
  put(out, central.size(), 4);
  put(out, cd_offset, 4);
  put(out, 0, 2);
  return out;
}

Result<std::shared_ptr<const internal::ZipArchive>> open_zip(const std::filesystem::path& path,
                                                             const internal::ZipLimits& limits = {}) {
  OWF_ASSIGN_OR_RETURN(auto source, internal::open_file_source(path));
  return internal::ZipArchive::open(std::move(source), limits);
}

Result<std::unique_ptr<Source>> open_npy_bytes(const TempDir& dir, std::span<const std::byte> bytes) {
  owf::test::spit(dir / "a.npy", bytes);
  return internal::open_npy(dir / "a.npy", {});
}

Result<std::unique_ptr<Source>> open_npz_members(const TempDir& dir, const std::vector<ZipMember>& members,
                                                 const Limits& limits = {}) {
  owf::test::spit(dir / "a.npz", make_zip(members));
  return internal::open_npz(dir / "a.npz", limits);
}

std::unique_ptr<Source> owf_source(const TempDir& dir,
                                   const std::vector<std::pair<TensorSpec, std::vector<std::byte>>>& tensors) {
  const auto p = dir / "src.owf";
  auto w = Writer::create(p);
  REQUIRE(w.ok());
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  for (const auto& [spec, data] : tensors) REQUIRE(w->add_tensor(spec, data).ok());
  REQUIRE(w->finish().ok());
  auto s = open_source(p);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(*s);
}

}  // namespace

TEST_CASE("npy corpus files") {
  SUBCASE("candle/test.npy holds int64 0..9") {
    auto s = internal::open_npy(kCorpus / "candle/test.npy", {});
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    REQUIRE((*s)->tensor_count() == 1);
    const TensorInfo t = (*s)->tensor(0);
    CHECK(t.name == "test");
    CHECK(t.dtype == DType::kI64);
    CHECK(shape_of(t) == std::vector<std::uint64_t>{10});
    CHECK(t.offset == 128);
    CHECK(read_as<std::int64_t>(**s, 0) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK((*s)->format() == Format::kNpy);
  }
  SUBCASE("Python 2 long literal and its Python 3 control") {
    for (const char* name : {"numpy/win64python2.npy", "numpy/python3.npy"}) {
      auto s = open_source(kCorpus / name);
      REQUIRE_MESSAGE(s.ok(), name);
      CHECK((*s)->tensor(0).dtype == DType::kF64);
      CHECK(read_as<double>(**s, 0) == std::vector<double>{1.0, 1.0});
    }
  }
  SUBCASE("object arrays are refused, never unpickled") {
    auto s = internal::open_npy(kCorpus / "numpy/py3-objarr.npy", {});
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kForeignFormatUnsupported);
    CHECK(s.error().message().find("pickle") != std::string::npos);
    auto z = internal::open_npz(kCorpus / "numpy/py3-objarr.npz", {});
    REQUIRE_FALSE(z.ok());
    CHECK(z.code() == ErrorCode::kForeignFormatUnsupported);
    CHECK(z.error().message().find("x.npy") != std::string::npos);
  }
}

TEST_CASE("npz corpus file: two int64 arrays in archive order") {
  auto s = open_source(kCorpus / "candle/test.npz");
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  CHECK((*s)->format() == Format::kNpz);
  REQUIRE((*s)->tensor_count() == 2);
  CHECK((*s)->tensor(0).name == "x");
  CHECK((*s)->tensor(1).name == "x_plus_one");
  CHECK(read_as<std::int64_t>(**s, 0) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(read_as<std::int64_t>(**s, 1) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(compute_weights_digest(**s).ok());
}

TEST_CASE("npy header variants") {
  TempDir dir;
  const std::vector<std::int32_t> v = {1, 2, 3, 4, 5, 6};
  SUBCASE("versions 2.0 and 3.0") {
    for (int major : {2, 3}) {
      auto s = open_npy_bytes(dir, npy(dict("<i4", "(2, 3)"), bytes_of(v), major));
      REQUIRE_MESSAGE(s.ok(), s.error().to_string());
      CHECK(read_as<std::int32_t>(**s, 0) == v);
    }
  }
  SUBCASE("big-endian integers are swapped to little-endian") {
    std::vector<std::byte> be;
    for (std::int32_t x : v) put(be, static_cast<std::uint32_t>(__builtin_bswap32(static_cast<std::uint32_t>(x))), 4);
    auto s = open_npy_bytes(dir, npy(dict(">i4", "(2, 3)"), be));
    REQUIRE(s.ok());
    CHECK(read_as<std::int32_t>(**s, 0) == v);
  }
  SUBCASE("big-endian complex numbers swap each part") {
    std::vector<std::byte> be;
    for (float f : {1.0f, -2.0f}) {
      std::uint32_t u;
      std::memcpy(&u, &f, 4);
      put(be, __builtin_bswap32(u), 4);
    }
    auto s = open_npy_bytes(dir, npy(dict(">c8", "(1,)"), be));
    REQUIRE(s.ok());
    CHECK((*s)->tensor(0).dtype == DType::kC64);
    CHECK(read_as<float>(**s, 0) == std::vector<float>{1.0f, -2.0f});
  }
  SUBCASE("Fortran order is transposed to row-major") {
    // Row-major [[1,2,3],[4,5,6]] stored column by column.
    const std::vector<float> col = {1, 4, 2, 5, 3, 6};
    auto s = open_npy_bytes(dir, npy(dict("<f4", "(2, 3)", true), bytes_of(col)));
    REQUIRE(s.ok());
    CHECK(read_as<float>(**s, 0) == std::vector<float>{1, 2, 3, 4, 5, 6});
    // Rank 3: element (i,j,k) of shape (2,3,4) at i + 2j + 6k.
    std::vector<std::int16_t> f(24), expected(24);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) {
          const auto value = static_cast<std::int16_t>(100 * i + 10 * j + k);
          f[static_cast<std::size_t>(i + 2 * j + 6 * k)] = value;
          expected[static_cast<std::size_t>(i * 12 + j * 4 + k)] = value;
        }
    auto s3 = open_npy_bytes(dir, npy(dict("<i2", "(2, 3, 4)", true), bytes_of(f)));
    REQUIRE(s3.ok());
    CHECK(read_as<std::int16_t>(**s3, 0) == expected);
  }
  SUBCASE("0-d bool, empty arrays, one-byte types without byte order") {
    auto b = open_npy_bytes(dir, npy(dict("|b1", "()"), to_bytes("\x01")));
    REQUIRE(b.ok());
    CHECK((*b)->tensor(0).dtype == DType::kBool);
    CHECK((*b)->tensor(0).shape.empty());
    auto e = open_npy_bytes(dir, npy(dict("<f8", "(0, 5)"), {}));
    REQUIRE(e.ok());
    CHECK((*e)->tensor(0).logical_bytes == 0);
    auto u = open_npy_bytes(dir, npy("{\"descr\": \"u1\", \"shape\": (2,), \"fortran_order\": False}", to_bytes("ab")));
    REQUIRE_MESSAGE(u.ok(), u.error().to_string());
    CHECK((*u)->tensor(0).dtype == DType::kU8);
  }
}

TEST_CASE("npy reader refuses malformed headers and data") {
  TempDir dir;
  const auto eight = to_bytes("12345678");
  auto expect = [&](std::span<const std::byte> file, ErrorCode code, const char* needle) {
    auto s = open_npy_bytes(dir, file);
    REQUIRE_FALSE(s.ok());
    CHECK_MESSAGE(s.code() == code, s.error().to_string());
    CHECK_MESSAGE(s.error().message().find(needle) != std::string::npos, s.error().to_string());
  };
  auto expect_dict = [&](const std::string& d, ErrorCode code, const char* needle) {
    expect(npy(d, eight), code, needle);
  };
  SUBCASE("sanity: the well-formed base opens") { CHECK(open_npy_bytes(dir, npy(dict("<f8", "(1,)"), eight)).ok()); }
  SUBCASE("bad magic") {
    auto b = npy(dict("<f8", "(1,)"), eight);
    b[1] = std::byte{'X'};
    expect(b, ErrorCode::kForeignFormatInvalid, "magic");
  }
  SUBCASE("unknown version") {
    auto b = npy(dict("<f8", "(1,)"), eight);
    b[6] = std::byte{4};
    expect(b, ErrorCode::kForeignFormatUnsupported, "version 4.0");
  }
  SUBCASE("too short for a header") { expect(to_bytes("\x93NUMPY\x01"), ErrorCode::kTruncated, "too few"); }
  SUBCASE("header length beyond the file") {
    auto b = npy(dict("<f8", "(1,)"), {});
    b[8] = std::byte{0xFF};
    b[9] = std::byte{0x7F};
    expect(b, ErrorCode::kTruncated, "runs past");
  }
  SUBCASE("header length above the limit") {
    auto b = npy(dict("<f8", "(1,)"), eight, 2);
    b[10] = std::byte{0x01};  // 65536 + len
    expect(b, ErrorCode::kLimitExceeded, "exceeds the limit");
  }
  SUBCASE("not a dict") { expect_dict("['descr', '<f8']", ErrorCode::kForeignFormatInvalid, "not a dict"); }
  SUBCASE("missing key") {
    expect_dict("{'descr': '<f8', 'shape': (1,), }", ErrorCode::kForeignFormatInvalid, "'fortran_order' is missing");
  }
  SUBCASE("duplicate key") {
    expect_dict("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                ErrorCode::kForeignFormatInvalid, "twice");
  }
  SUBCASE("extra key") {
    expect_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", ErrorCode::kForeignFormatInvalid,
                "unexpected key 'x'");
  }
  SUBCASE("shape (n) is not a tuple") {
    expect_dict(dict("<f8", "(1)"), ErrorCode::kForeignFormatInvalid, "not a tuple");
  }
  SUBCASE("shape as a list") { expect_dict(dict("<f8", "[1]"), ErrorCode::kForeignFormatInvalid, "must be a tuple"); }
  SUBCASE("negative dimension") { expect_dict(dict("<f8", "(-1,)"), ErrorCode::kForeignFormatInvalid, "negative"); }
  SUBCASE("leading zero") { expect_dict(dict("<f8", "(01,)"), ErrorCode::kForeignFormatInvalid, "leading zero"); }
  SUBCASE("dimension above 2^64") {
    expect_dict(dict("<f8", "(18446744073709551616,)"), ErrorCode::kForeignFormatInvalid, "2^64");
  }
  SUBCASE("element count overflow") {
    auto s = open_npy_bytes(dir, npy(dict("<f8", "(4294967296, 4294967296)"), eight));
    CHECK(s.code() == ErrorCode::kShapeOverflow);
  }
  SUBCASE("fortran_order not a bool") {
    expect_dict("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", ErrorCode::kForeignFormatInvalid,
                "True or False");
  }
  SUBCASE("text after the dict") {
    expect_dict(dict("<f8", "(1,)") + " x", ErrorCode::kForeignFormatInvalid, "after the dict");
  }
  SUBCASE("escapes in strings") { expect_dict(dict("<f\\x38", "(1,)"), ErrorCode::kForeignFormatInvalid, "escapes"); }
  SUBCASE("non-ASCII header") {
    expect_dict(dict("<f8", "(1,)") + "\xc3\xa9", ErrorCode::kForeignFormatInvalid, "not printable ASCII");
  }
  SUBCASE("unknown descr") { expect_dict(dict("<x8", "(1,)"), ErrorCode::kForeignFormatInvalid, "not a NumPy dtype"); }
  SUBCASE("void descr") { expect_dict(dict("|V8", "(1,)"), ErrorCode::kForeignFormatUnsupported, "no OWF dtype"); }
  SUBCASE("long double") { expect_dict(dict("<f16", "(1,)"), ErrorCode::kForeignFormatUnsupported, "no OWF dtype"); }
  SUBCASE("object descr") { expect_dict(dict("|O", "(1,)"), ErrorCode::kForeignFormatUnsupported, "pickle"); }
  SUBCASE("structured descr") {
    expect_dict("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                ErrorCode::kForeignFormatUnsupported, "structured");
  }
  SUBCASE("multi-byte type without byte order") {
    expect_dict(dict("|f8", "(1,)"), ErrorCode::kForeignFormatInvalid, "byte order");
  }
  SUBCASE("truncated data") { expect(npy(dict("<f8", "(2,)"), eight), ErrorCode::kTruncated, "only 8 follow"); }
  SUBCASE("trailing bytes") {
    expect(npy(dict("<f4", "(1,)"), eight), ErrorCode::kForeignFormatInvalid, "4 bytes follow");
  }
  SUBCASE("rank above the limit") {
    std::string shape = "(";
    for (int i = 0; i < 65; ++i) shape += "1, ";
    expect_dict(dict("<f8", shape + ")"), ErrorCode::kLimitExceeded, "dimensions");
  }
}

TEST_CASE("npz members: stored and deflated, Fortran order inside an archive") {
  TempDir dir;
  const std::vector<float> row = {1, 2, 3, 4, 5, 6}, col = {1, 4, 2, 5, 3, 6};
  auto s = open_npz_members(
      dir, {{"a.npy", npy(dict("<f4", "(2, 3)"), bytes_of(row))},
            {"dir/b.npy", npy(dict("<f4", "(2, 3)", true), bytes_of(col)), true},
            {"c.npy", npy(dict(">i4", "(2,)"), to_bytes(std::string("\0\0\0\x07\0\0\x01\0", 8))), true}});
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  REQUIRE((*s)->tensor_count() == 3);
  CHECK((*s)->tensor(1).name == "dir/b");
  CHECK(read_as<float>(**s, 0) == row);
  CHECK(read_as<float>(**s, 1) == row);
  CHECK(read_as<std::int32_t>(**s, 2) == std::vector<std::int32_t>{7, 256});
  CHECK(compute_weights_digest(**s).ok());
}

TEST_CASE("Fortran order in a deflated member: read in pieces, and refused above 64 MiB") {
  TempDir dir;
  SUBCASE("pieces of every size equal the whole read") {
    // (30, 50) int32 stored column by column: element (i, j) holds 1000 i + j.
    std::vector<std::int32_t> col(1500), row(1500);
    for (int i = 0; i < 30; ++i)
      for (int j = 0; j < 50; ++j) {
        col[static_cast<std::size_t>(j * 30 + i)] = 1000 * i + j;
        row[static_cast<std::size_t>(i * 50 + j)] = 1000 * i + j;
      }
    auto s = open_npz_members(dir, {{"f.npy", npy(dict("<i4", "(30, 50)", true), bytes_of(col)), true}});
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(read_as<std::int32_t>(**s, 0) == row);
    const auto want = bytes_of(row);
    for (std::size_t piece : {1u, 7u, 64u, 1000u}) {
      std::vector<std::byte> got(want.size());
      for (std::size_t at = 0; at < got.size(); at += piece) {
        const auto part = std::span(got).subspan(at, std::min(piece, got.size() - at));
        REQUIRE((*s)->read_range(0, at, part).ok());
      }
      CHECK(got == want);
    }
  }
  SUBCASE("a member above 64 MiB would be decoded again for every piece: refused") {
    const std::vector<std::byte> zeros((64u << 20) + 8);
    auto s = open_npz_members(dir, {{"f.npy", npy(dict("|u1", "(8, 8388609)", true), zeros), true}});
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kLimitExceeded);
    CHECK(s.error().message().find("Fortran-order") != std::string::npos);
  }
}

TEST_CASE("npz reader refuses unsafe or inconsistent archives") {
  TempDir dir;
  const auto member = npy(dict("<f8", "(1,)"), to_bytes("12345678"));
  auto expect = [&](const std::vector<ZipMember>& members, ErrorCode code, const char* needle) {
    auto s = open_npz_members(dir, members);
    REQUIRE_FALSE(s.ok());
    CHECK_MESSAGE(s.code() == code, s.error().to_string());
    CHECK_MESSAGE(s.error().message().find(needle) != std::string::npos, s.error().to_string());
  };
  SUBCASE("not a zip archive") {
    owf::test::spit(dir / "x.npz", to_bytes("PK\x03\x04 garbage"));
    CHECK(internal::open_npz(dir / "x.npz", {}).code() == ErrorCode::kForeignFormatInvalid);
  }
  SUBCASE("path tricks") {
    expect({{"../x.npy", member}}, ErrorCode::kForeignFormatInvalid, "'..' path segment");
    expect({{"/x.npy", member}}, ErrorCode::kForeignFormatInvalid, "absolute path");
    expect({{"a\\x.npy", member}}, ErrorCode::kForeignFormatInvalid, "backslash");
    expect({{"a//x.npy", member}}, ErrorCode::kForeignFormatInvalid, "empty path segment");
    expect({{"C:x.npy", member}}, ErrorCode::kForeignFormatInvalid, "drive letter");
    expect({{"a\x01.npy", member}}, ErrorCode::kForeignFormatInvalid, "control character");
  }
  SUBCASE("duplicate member names") {
    expect({{"x.npy", member}, {"x.npy", member}}, ErrorCode::kForeignFormatInvalid, "same name");
  }
  SUBCASE("member that is not an array") {
    expect({{"x.txt", member}}, ErrorCode::kForeignFormatUnsupported, "not a .npy");
  }
  SUBCASE("malformed member") {
    expect({{"x.npy", to_bytes("not numpy at all")}}, ErrorCode::kForeignFormatInvalid, "entry 'x.npy'");
  }
  SUBCASE("more members than the tensor limit") {
    Limits limits;
    limits.max_tensors = 1;
    auto s = open_npz_members(dir, {{"x.npy", member}, {"y.npy", member}}, limits);
    CHECK(s.code() == ErrorCode::kLimitExceeded);
  }
  SUBCASE("declared size beyond what deflate can produce (zip bomb)") {
    expect({{"x.npy", member, true, std::uint64_t{1} << 31}}, ErrorCode::kForeignFormatInvalid,
           "more than deflate can produce");
  }
  SUBCASE("deflated content shorter than declared") {
    // The header promises two doubles; the member holds one.
    const auto short_member = npy(dict("<f8", "(2,)"), to_bytes("12345678"));
    // Found at open: the header is read through a window that reaches the end.
    auto s = open_npz_members(dir, {{"x.npy", short_member, true, short_member.size() + 8}});
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(s.error().message().find("ends after 136 bytes but declares 144") != std::string::npos);
  }
  SUBCASE("deflated content longer than declared") {
    const auto long_member = npy(dict("<f8", "(1,)"), to_bytes("1234567812345678"));
    auto s = open_npz_members(dir, {{"x.npy", long_member, true, long_member.size() - 8}});
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(s.error().message().find("holds more than its declared 136 bytes") != std::string::npos);
  }
  SUBCASE("CRC mismatch") {
    // A small member is decoded whole while its header is read, so open finds it.
    auto s = open_npz_members(dir, {{"x.npy", member, true, std::nullopt, 0xDEADBEEF}});
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(s.error().message().find("CRC-32") != std::string::npos);
  }
}

TEST_CASE("ZipArchive: limits, whole reads, ranged reads") {
  TempDir dir;
  const auto data = owf::test::pseudo_random_bytes(100000, 5);
  owf::test::spit(
      dir / "z.zip",
      make_zip({{"stored.bin", data}, {"deflated.bin", data, true}, {"bad.bin", data, false, std::nullopt, 1}}));
  auto z = open_zip(dir / "z.zip");
  REQUIRE_MESSAGE(z.ok(), z.error().to_string());
  REQUIRE((*z)->entries().size() == 3);
  CHECK((*z)->entries()[0].stored);
  CHECK_FALSE((*z)->entries()[1].stored);
  CHECK((*z)->find("deflated.bin") == std::size_t{1});
  std::vector<std::byte> out(data.size());
  for (std::size_t i : {0u, 1u}) {
    REQUIRE((*z)->read(i, out).ok());
    CHECK(out == data);
    std::vector<std::byte> part(1000);
    REQUIRE((*z)->read_range(i, 70000, part).ok());
    CHECK(std::equal(part.begin(), part.end(), data.begin() + 70000));
    std::vector<std::byte> tail(10);
    REQUIRE((*z)->read_range(i, data.size() - 10, tail).ok());
    CHECK(std::equal(tail.begin(), tail.end(), data.end() - 10));
  }
  CHECK((*z)->read(2, out).code() == ErrorCode::kForeignFormatInvalid);  // wrong CRC
  std::vector<std::byte> too_far(2);
  CHECK((*z)->read_range(0, data.size() - 1, too_far).code() == ErrorCode::kInvalidArgument);

  internal::ZipLimits small;
  small.max_entry_bytes = 1000;
  CHECK(open_zip(dir / "z.zip", small).code() == ErrorCode::kLimitExceeded);
  internal::ZipLimits total;
  total.max_total_bytes = 150000;
  CHECK(open_zip(dir / "z.zip", total).code() == ErrorCode::kLimitExceeded);
  internal::ZipLimits names;
  names.max_name_bytes = 5;
  CHECK(open_zip(dir / "z.zip", names).code() == ErrorCode::kLimitExceeded);
  CHECK(open_zip(dir / "missing.zip").code() == ErrorCode::kIoError);
}

TEST_CASE("npy and npz writers") {
  TempDir dir;
  SUBCASE("candle/test.npy round-trips byte for byte (NumPy's own header layout)") {
    auto s = internal::open_npy(kCorpus / "candle/test.npy", {});
    REQUIRE(s.ok());
    REQUIRE(internal::write_npy(**s, dir / "t.npy").ok());
    CHECK(owf::test::slurp(dir / "t.npy") == owf::test::slurp(kCorpus / "candle/test.npy"));
  }
  SUBCASE("header bytes match numpy.save") {
    const std::vector<float> v = {0, 1, 2, 3, 4, 5};
    auto src = owf_source(dir, {{{"w", DType::kF32, {2, 3}, Role::kWeight}, bytes_of(v)}});
    REQUIRE(internal::write_npy(*src, dir / "w.npy").ok());
    const auto bytes = owf::test::slurp(dir / "w.npy");
    REQUIRE(bytes.size() == 152);
    std::string expected =
        std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    expected.append(127 - expected.size(), ' ');
    expected += '\n';
    CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), 128) == expected);
    auto back = internal::open_npy(dir / "w.npy", {});
    REQUIRE(back.ok());
    CHECK(read_as<float>(**back, 0) == v);
  }
  SUBCASE("npz round trip of several dtypes, and of the corpus archive") {
    const std::vector<std::int16_t> a = {1, -2, 3};
    const std::vector<double> b = {0.5};
    const std::vector<std::uint8_t> c = {1, 0};
    auto src = owf_source(dir, {{{"a", DType::kI16, {3}, Role::kOther}, bytes_of(a)},
                                {{"b.one", DType::kF64, {1}, Role::kOther}, bytes_of(b)},
                                {{"c", DType::kBool, {2, 1}, Role::kOther}, bytes_of(c)},
                                {{"e", DType::kC128, {0}, Role::kOther}, {}}});
    REQUIRE(internal::write_npz(*src, dir / "o.npz").ok());
    auto back = internal::open_npz(dir / "o.npz", {});
    REQUIRE_MESSAGE(back.ok(), back.error().to_string());
    REQUIRE((*back)->tensor_count() == 4);
    CHECK(*compute_weights_digest(**back) == *compute_weights_digest(*src));
    CHECK(read_as<std::int16_t>(**back, 0) == a);
    auto zip = open_zip(dir / "o.npz");
    REQUIRE(zip.ok());
    for (const auto& e : (*zip)->entries()) CHECK(e.stored);

    // Corpus sources: an npz, and a safetensors file with 0-d tensors.
    for (const char* name : {"candle/test.npz", "burn/mnist.safetensors"}) {
      auto corpus = open_source(kCorpus / name);
      REQUIRE(corpus.ok());
      REQUIRE(internal::write_npz(**corpus, dir / "c.npz").ok());
      auto again = internal::open_npz(dir / "c.npz", {});
      REQUIRE(again.ok());
      CHECK((*again)->tensor_count() == (*corpus)->tensor_count());
      CHECK(*compute_weights_digest(**again) == *compute_weights_digest(**corpus));
    }
  }
  SUBCASE("dtypes NumPy lacks are refused, naming the tensor") {
    for (DType d : {DType::kBF16, DType::kF8_E4M3FN, DType::kF4_E2M1}) {
      auto src = owf_source(dir, {{{"ok", DType::kF32, {1}, Role::kOther}, std::vector<std::byte>(4)},
                                  {{"bad", d, {2}, Role::kOther},
                                   std::vector<std::byte>(*tensor_byte_size(d, std::vector<std::uint64_t>{2}))}});
      auto st = internal::write_npz(*src, dir / "x.npz");
      CHECK(st.code() == ErrorCode::kForeignFormatUnsupported);
      CHECK(st.error().message().find("'bad'") != std::string::npos);
      CHECK(st.error().message().find(dtype_name(d)) != std::string::npos);
      CHECK(!std::filesystem::exists(dir / "x.npz"));
    }
    auto q = owf_source(dir, {{{"q", DType::kQ8_0, {32}, Role::kOther}, std::vector<std::byte>(34)}});
    CHECK(internal::write_npy(*q, dir / "q.npy").code() == ErrorCode::kForeignFormatUnsupported);
  }
  SUBCASE("write_npy needs exactly one tensor") {
    auto src = owf_source(dir, {{{"a", DType::kU8, {1}, Role::kOther}, std::vector<std::byte>(1)},
                                {{"b", DType::kU8, {1}, Role::kOther}, std::vector<std::byte>(1)}});
    CHECK(internal::write_npy(*src, dir / "x.npy").code() == ErrorCode::kInvalidArgument);
  }
}
