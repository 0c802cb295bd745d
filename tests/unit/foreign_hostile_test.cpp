// Hostile NumPy and PyTorch files, one SUBCASE per defect: costs that a
// small file could make quadratic or huge (pickle memo replays, nested long
// keys, broadcast tensors, overlapping zip members), arithmetic on declared
// shapes, names the readers pass on, files that are not weights at all, and
// files that shrink after they were opened. Memory is measured with the
// allocation counter (alloc_tracking.hpp); no test is timed.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "alloc_tracking.hpp"
#include "formats/formats.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::AllocationPeak;
using owf::test::TempDir;

namespace {

// --- pickle bytes ------------------------------------------------------------

std::string le(std::uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string unicode(const std::string& s) { return "X" + le(s.size(), 4) + s; }
std::string put(std::uint32_t i) { return "r" + le(i, 4); }
std::string get(std::uint32_t i) { return "j" + le(i, 4); }
std::string integer(std::uint64_t v) { return v < (1u << 31) ? "J" + le(v, 4) : "\x8a\x08" + le(v, 8); }
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string tuple(const std::vector<std::uint64_t>& xs) {
  std::string s = "(";
  for (auto x : xs) s += integer(x);
  return s + "t";
}
// ('storage', torch.FloatStorage, key, 'cpu', numel) as a persistent id.
std::string storage(const std::string& key, std::uint64_t numel) {
  return "(" + unicode("storage") + global("torch", "FloatStorage") + unicode(key) + unicode("cpu") + integer(numel) +
         "tQ";
}
// _rebuild_tensor_v2(<memo storage>, offset, size, stride, False, OrderedDict())
std::string tensor(std::uint32_t storage_memo, const std::vector<std::uint64_t>& size,
                   const std::vector<std::uint64_t>& stride) {
  return global("torch._utils", "_rebuild_tensor_v2") + "(" + get(storage_memo) + integer(0) + tuple(size) +
         tuple(stride) + "\x89" + global("collections", "OrderedDict") + ")Rt" + "R";
}

// A legacy torch.save stream: magic, protocol, sys_info, the main pickle,
// the storage keys, then each storage as a u64 element count and its bytes.
std::string legacy(const std::string& main_pickle, const std::vector<std::pair<std::string, std::string>>& storages) {
  std::string f = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  f += std::string("\x80\x02M\xe9\x03.", 6);
  f += "\x80\x02}.";
  f += main_pickle;
  f += "\x80\x02](";
  for (const auto& [key, bytes] : storages) f += unicode(key);
  f += "e.";
  for (const auto& [key, bytes] : storages) f += le(bytes.size() / 4, 8) + bytes;
  return f;
}

std::filesystem::path write(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const auto path = dir / name;
  owf::test::spit(path, std::as_bytes(std::span(bytes.data(), bytes.size())));
  return path;
}

Result<std::unique_ptr<Source>> open_pt(const std::filesystem::path& path) {
  return internal::open_pytorch(path, Limits{});
}

void check_refused(const Result<std::unique_ptr<Source>>& r, ErrorCode code, const std::string& needle) {
  REQUIRE_FALSE(r.ok());
  CHECK_MESSAGE(r.code() == code, r.error().to_string());
  CHECK_MESSAGE(r.error().message().find(needle) != std::string::npos, r.error().to_string());
}

// --- .npy and zip bytes ------------------------------------------------------

std::string npy(const std::string& dict, const std::string& data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  return "\x93NUMPY\x01" + std::string(1, '\0') + le(h.size(), 2) + h + data;
}

std::string local_header(const std::string& name, std::uint32_t crc, std::uint64_t csize, std::uint64_t size) {
  return le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(8, 2) + le(0, 4) + le(crc, 4) + le(csize, 4) + le(size, 4) +
         le(name.size(), 2) + le(0, 2) + name;
}

// Members that overlap: each member's deflate data quotes the next
// member's local header in a stored block, then continues with the next
// member's data, so that every member decodes the one shared kernel (the
// "better zip bomb" construction), and every member is a valid .npy.
std::string overlapping_npz(int members, std::size_t kernel_bytes) {
  std::string kernel(kernel_bytes, '\0');
  std::vector<Bytef> z(compressBound(static_cast<uLong>(kernel_bytes)) + 64);
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(kernel.data());
  zs.avail_in = static_cast<uInt>(kernel.size());
  zs.next_out = z.data();
  zs.avail_out = static_cast<uInt>(z.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  const std::string kernel_deflated(reinterpret_cast<const char*>(z.data()), zs.total_out);
  deflateEnd(&zs);
  auto stored_block = [](const std::string& s) {
    return std::string(1, '\0') + le(s.size(), 2) + le(s.size() ^ 0xFFFF, 2);
  };
  std::vector<std::string> headers(members), data(members);
  std::vector<std::uint32_t> crcs(members);
  std::vector<std::uint64_t> sizes(members);
  std::string later;  // what member i decodes after its own .npy header, before the kernel
  for (int i = members - 1; i >= 0; --i) {
    const std::string name = "a" + std::to_string(i) + ".npy";
    const std::uint64_t n = later.size() + kernel_bytes;
    const std::string hdr =
        npy("{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }", "");
    const std::string decoded_prefix = hdr + later;
    uLong crc =
        crc32(0, reinterpret_cast<const Bytef*>(decoded_prefix.data()), static_cast<uInt>(decoded_prefix.size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(kernel.data()), static_cast<uInt>(kernel.size()));
    data[i] = stored_block(hdr) + hdr +
              (i == members - 1 ? kernel_deflated : stored_block(headers[i + 1]) + headers[i + 1] + data[i + 1]);
    crcs[i] = static_cast<std::uint32_t>(crc);
    sizes[i] = decoded_prefix.size() + kernel_bytes;
    headers[i] = local_header(name, crcs[i], data[i].size(), sizes[i]);
    later = headers[i] + decoded_prefix;
  }
  const std::string body = headers[0] + data[0];
  std::string cd;
  for (int i = 0; i < members; ++i) {
    const std::string name = "a" + std::to_string(i) + ".npy";
    cd += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(8, 2) + le(0, 4) + le(crcs[i], 4) +
          le(data[i].size(), 4) + le(sizes[i], 4) + le(name.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) +
          le(0, 4) + le(body.find(headers[i]), 4) + name;
  }
  return body + cd + le(0x06054b50, 4) + le(0, 4) + le(members, 2) + le(members, 2) + le(cd.size(), 4) +
         le(body.size(), 4) + le(0, 2);
}

}  // namespace

TEST_CASE("PyTorch pickles cost memory and time linear in their size") {
  TempDir dir;
  SUBCASE("nested dicts with long keys: the name is built once, not once per level") {
    // {K: {K: {K: ... {}}}}, 300 levels, K of 4000 bytes stored once.
    std::string p = "\x80\x02}" + unicode(std::string(4000, 'k')) + put(0) + "0";
    for (int i = 0; i < 300; ++i) p += get(0) + "}";
    p += std::string(300, 's') + ".";
    const auto path = write(dir, "nested.pt", legacy(p, {}));
    AllocationPeak peak;
    auto src = open_pt(path);
    REQUIRE_MESSAGE(src.ok(), src.error().to_string());
    CHECK(peak.peak_growth() < (16u << 20));  // was 300 x 150 x 4000 bytes of names
  }
  SUBCASE("a tensor below a path longer than max_name_bytes is refused, naming its start") {
    std::string p = "\x80\x02}" + unicode(std::string(3000, 'k')) + put(0) + "0" + get(0) + "}" + get(0) + "}";
    p += storage("0", 1) + put(1) + "0" + unicode("w") + tensor(1, {1}, {1}) + "sss.";
    auto src = open_pt(write(dir, "long.pt", legacy(p, {{"0", std::string(4, '\0')}})));
    check_refused(src, ErrorCode::kLimitExceeded, "longer than 4096 bytes");
  }
  SUBCASE("OrderedDict(list) called again and again copies the list each time") {
    std::string p = "\x80\x02](";
    for (int i = 0; i < 20000; ++i) p += "K\x01K\x02\x86";
    p += "e" + put(0) + "0" + global("collections", "OrderedDict") + put(1) + "0";
    for (int i = 0; i < 400; ++i) p += get(1) + get(0) + "\x85R0";
    p += "}.";
    auto src = open_pt(write(dir, "od.pt", legacy(p, {})));
    check_refused(src, ErrorCode::kLimitExceeded, "entries after");
  }
  SUBCASE("a parameter state replayed from the memo is checked again at each call") {
    // One state dict of 20000 entries passed to 2000 _rebuild_parameter_with_state calls.
    std::string p = "\x80\x02" + storage("0", 1) + put(0) + "0" + tensor(0, {1}, {1}) + put(1) + "0";
    p += "}" + put(2) + "(";
    for (int i = 0; i < 20000; ++i) p += integer(static_cast<std::uint64_t>(i)) + "N";
    p += "u0" + global("collections", "OrderedDict") + ")R" + put(3) + "0";
    p += global("torch._utils", "_rebuild_parameter_with_state") + put(4) + "0}";
    for (int i = 0; i < 2000; ++i)
      p += integer(static_cast<std::uint64_t>(i)) + get(4) + "(" + get(1) + "\x89" + get(3) + get(2) + "tRs";
    p += ".";
    auto src = open_pt(write(dir, "state.pt", legacy(p, {{"0", std::string(4, '\0')}})));
    check_refused(src, ErrorCode::kLimitExceeded, "a memo reference replays a large container");
  }
  SUBCASE("a list of numbers reached through many keys becomes many values") {
    // 500 keys -> one list of 20000 ints: 80 MB of hyperparameters from 100 KB.
    std::string p = "\x80\x02}" + std::string("](");
    for (int i = 0; i < 20000; ++i) p += "K\x07";
    p += "e" + put(0) + "0(";
    for (int i = 0; i < 500; ++i) p += unicode("v" + std::to_string(i)) + get(0);
    p += "u.";
    auto src = open_pt(write(dir, "values.pt", legacy(p, {})));
    check_refused(src, ErrorCode::kLimitExceeded, "shared references expand it");
  }
}

TEST_CASE("declared sizes far beyond the bytes: refused, or read in bounded pieces") {
  TempDir dir;
  const std::string one_float("\0\0\x80\x3f", 4);
  SUBCASE("a stride-0 tensor of 1 TiB over a 4-byte storage is refused at open") {
    const std::string p =
        "\x80\x02}" + unicode("w") + storage("0", 1) + put(0) + "0" + tensor(0, {1ull << 38}, {0}) + "s.";
    check_refused(open_pt(write(dir, "tib.pt", legacy(p, {{"0", one_float}}))), ErrorCode::kLimitExceeded,
                  "logical bytes over 4 bytes of storage");
  }
  SUBCASE("a 1 GiB broadcast within the limit streams: a piece costs the piece") {
    const std::string p =
        "\x80\x02}" + unicode("w") + storage("0", 1) + put(0) + "0" + tensor(0, {1u << 14, 1u << 14}, {0, 0}) + "s.";
    auto src = open_pt(write(dir, "gib.pt", legacy(p, {{"0", one_float}})));
    REQUIRE_MESSAGE(src.ok(), src.error().to_string());
    const Source& s = **src;
    REQUIRE(s.tensor(0).logical_bytes == 1ull << 30);
    CHECK(s.ranged_reads());
    std::vector<float> piece(1u << 21);  // 8 MiB
    AllocationPeak peak;
    REQUIRE(s.read_range(0, (1ull << 30) - (8u << 20), std::as_writable_bytes(std::span(piece))).ok());
    CHECK(peak.peak_growth() < (1u << 20));
    CHECK(piece.front() == 1.0f);
    CHECK(piece.back() == 1.0f);
  }
  SUBCASE("overlapping .npz members are refused") {
    const auto path = write(dir, "bomb.npz", overlapping_npz(3, 1u << 20));
    check_refused(internal::open_npz(path, {}), ErrorCode::kForeignFormatInvalid, "overlap");
  }
  SUBCASE("a deflated .npz member streams through read_range") {
    // 32 MiB of zeros in 32 KiB of deflate, read in 1 MiB pieces.
    const std::size_t n = 32u << 20;
    const std::string member =
        npy("{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }", std::string(n, '\0'));
    std::vector<Bytef> z(compressBound(static_cast<uLong>(member.size())));
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(member.data()));
    zs.avail_in = static_cast<uInt>(member.size());
    zs.next_out = z.data();
    zs.avail_out = static_cast<uInt>(z.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    const std::string deflated(reinterpret_cast<const char*>(z.data()), zs.total_out);
    deflateEnd(&zs);
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(member.data()), static_cast<uInt>(member.size())));
    const std::string body = local_header("x.npy", crc, deflated.size(), member.size()) + deflated;
    const std::string cd = le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(8, 2) + le(0, 4) + le(crc, 4) +
                           le(deflated.size(), 4) + le(member.size(), 4) + le(5, 2) + le(0, 8) + le(0, 4) + le(0, 4) +
                           "x.npy";
    const std::string file = body + cd + le(0x06054b50, 4) + le(0, 4) + le(1, 2) + le(1, 2) + le(cd.size(), 4) +
                             le(body.size(), 4) + le(0, 2);
    auto src = internal::open_npz(write(dir, "zeros.npz", file), {});
    REQUIRE_MESSAGE(src.ok(), src.error().to_string());
    CHECK((*src)->ranged_reads());
    std::vector<std::byte> piece(1u << 20);
    AllocationPeak peak;
    for (std::uint64_t at = 0; at < n; at += piece.size()) REQUIRE((*src)->read_range(0, at, piece).ok());
    CHECK(peak.peak_growth() < (1u << 20));
  }
}

TEST_CASE("arithmetic on declared shapes") {
  TempDir dir;
  SUBCASE(".npy in Fortran order with a zero-size dimension") {
    const auto path = write(dir, "z.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 0, 3), }", ""));
    auto src = internal::open_npy(path, {});
    REQUIRE_MESSAGE(src.ok(), src.error().to_string());
    CHECK((*src)->tensor(0).logical_bytes == 0);
    CHECK((*src)->read(0, {}).ok());
    CHECK((*src)->tensor_sha256(0).ok());
  }
  SUBCASE("a PyTorch tensor with a zero-size dimension and zero strides") {
    const std::string p =
        "\x80\x02}" + unicode("w") + storage("0", 1) + put(0) + "0" + tensor(0, {3, 0, 5}, {0, 0, 0}) + "s.";
    auto src = open_pt(write(dir, "zero.pt", legacy(p, {{"0", std::string(4, '\0')}})));
    REQUIRE_MESSAGE(src.ok(), src.error().to_string());
    CHECK((*src)->tensor(0).logical_bytes == 0);
    CHECK((*src)->read(0, {}).ok());
  }
}

TEST_CASE("names the NumPy and PyTorch readers pass on follow the tensor-name rule") {
  TempDir dir;
  SUBCASE("a .npy file whose name is not UTF-8") {
    const auto path = write(dir, "w\xff.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", "a"));
    auto src = internal::open_npy(path, {});
    check_refused(src, ErrorCode::kBadUtf8, "not valid UTF-8");
  }
  SUBCASE("a PyTorch tensor whose key holds a NUL byte") {
    const std::string p =
        "\x80\x02}" + unicode(std::string("a\0b", 3)) + storage("0", 1) + put(0) + "0" + tensor(0, {1}, {1}) + "s.";
    check_refused(open_pt(write(dir, "nul.pt", legacy(p, {{"0", std::string(4, '\0')}}))), ErrorCode::kBadTensorName,
                  "NUL byte");
  }
}

TEST_CASE("files that are not weights get errors that say so") {
  TempDir dir;
  const std::string lfs =
      "version https://git-lfs.github.com/spec/v1\noid "
      "sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
      "size 12345\n";
  const std::string html = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n";
  for (const std::string* content : {&lfs, &html}) {
    INFO(content->substr(0, 20));
    check_refused(internal::open_npy(write(dir, "x.npy", *content), {}), ErrorCode::kForeignFormatInvalid,
                  "not a .npy array");
    check_refused(internal::open_npz(write(dir, "x.npz", *content), {}), ErrorCode::kForeignFormatInvalid,
                  "not a zip archive");
    for (const char* name : {"x.pt", "x.bin"})
      check_refused(open_pt(write(dir, name, *content)), ErrorCode::kForeignFormatInvalid, "not a PyTorch checkpoint");
  }
  check_refused(internal::open_npy(write(dir, "e.npy", ""), {}), ErrorCode::kTruncated, "empty");
  check_refused(internal::open_npz(write(dir, "e.npz", ""), {}), ErrorCode::kForeignFormatInvalid, "empty");
  check_refused(open_pt(write(dir, "e.pt", "")), ErrorCode::kForeignFormatInvalid, "empty");
}

TEST_CASE("a file that shrinks after open gives io_error, not a signal") {
  TempDir dir;
  auto shrink_then_read = [&](const std::filesystem::path& path, auto open) {
    auto src = open(path);
    REQUIRE_MESSAGE(src.ok(), src.error().to_string());
    REQUIRE(::truncate(path.c_str(), 16) == 0);
    std::vector<std::byte> out((*src)->tensor(0).logical_bytes);
    const Status s = (*src)->read(0, out);
    CHECK_MESSAGE(s.code() == ErrorCode::kIoError, s.error().to_string());
    CHECK(s.error().message().find("shrank") != std::string::npos);
  };
  const std::string data(1u << 16, 'x');
  SUBCASE(".npy") {
    shrink_then_read(write(dir, "a.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (65536,), }", data)),
                     [](const auto& p) { return internal::open_npy(p, {}); });
  }
  SUBCASE("legacy PyTorch stream") {
    const std::string p =
        "\x80\x02}" + unicode("w") + storage("0", 16384) + put(0) + "0" + tensor(0, {16384}, {1}) + "s.";
    shrink_then_read(write(dir, "a.pt", legacy(p, {{"0", data}})), [](const auto& path) { return open_pt(path); });
  }
}
