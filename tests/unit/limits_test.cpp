// Files that declare huge sizes (a manifest of 2^63 bytes, 10^9 tensors,
// rank 2^31, names of 2^32 bytes, foreign headers near 2^64) are refused
// at open, quickly and without allocating from the declared sizes: the
// bytes allocated while a file is opened stay under a small bound.
#include <doctest/doctest.h>

#include <cstring>

#include "alloc_tracking.hpp"
#include "layout.hpp"
#include "owf/owf.hpp"
#include "owf_generated.h"
#include "sha256.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

// Every file here is a few kilobytes; a reader that allocated from what
// they declare would ask for gigabytes.
constexpr std::size_t kMaxAllocatedBytes = 4u << 20;

// Frames a manifest as a complete file: header, manifest at 64, footer
// with the right digest, so that open reaches the manifest checks.
std::vector<std::byte> frame(const std::vector<std::byte>& manifest) {
  const auto h = internal::encode_header();
  std::vector<std::byte> out(h.begin(), h.end());
  out.insert(out.end(), manifest.begin(), manifest.end());
  out.resize(internal::align_up(out.size(), 8), std::byte{0});
  internal::Footer f;
  f.manifest_offset = internal::kHeaderSize;
  f.manifest_length = out.size() - internal::kHeaderSize;
  f.manifest_sha256 = internal::sha256(std::span(out).subspan(64));
  const auto footer = internal::encode_footer(f);
  out.insert(out.end(), footer.begin(), footer.end());
  return out;
}

// One tensor "w" (U8 [1], empty data) in a manifest built with the
// generated code, so that tests can reach into its vectors.
std::vector<std::byte> one_tensor_manifest() {
  flatbuffers::FlatBufferBuilder fbb;
  const fb::Sha256 digest{};
  const std::vector<std::uint64_t> shape = {0};
  const auto tensor = fb::CreateTensor(fbb, fbb.CreateString("w"), static_cast<std::uint16_t>(DType::kU8),
                                       fbb.CreateVector(shape), fb::Role::Other, 0, 0, fb::Codec::None, &digest);
  const auto tensors = fbb.CreateVector(std::vector{tensor});
  const auto license = fb::CreateLicense(fbb, fbb.CreateString("MIT"));
  fb::FinishManifestBuffer(fbb, fb::CreateManifest(fbb, 64, 0, tensors, 0, 0, license));
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return std::vector<std::byte>(p, p + fbb.GetSize());
}

// Overwrites the u32 length prefix of a vector or string inside `manifest`.
void set_length(std::vector<std::byte>& manifest, const void* vector, std::uint32_t length) {
  const auto at = static_cast<const std::byte*>(vector) - manifest.data();
  REQUIRE(at >= 0);
  REQUIRE(static_cast<std::size_t>(at) + 4 <= manifest.size());
  std::memcpy(manifest.data() + at, &length, 4);
}

ErrorCode open_code(const std::vector<std::byte>& bytes, const Limits& limits = {}) {
  std::vector<std::uint64_t> storage((bytes.size() + 7) / 8);
  std::memcpy(storage.data(), bytes.data(), bytes.size());
  return File::open_buffer(std::span(reinterpret_cast<const std::byte*>(storage.data()), bytes.size()), limits).code();
}

}  // namespace

TEST_CASE("the framing helper builds a file that opens") {
  CHECK(open_code(frame(one_tensor_manifest())) == ErrorCode::kOk);
}

TEST_CASE("declared sizes near 2^64 are refused without allocating from them") {
  const owf::test::AllocationPeak peak;
  SUBCASE("footer: a manifest of 2^63 bytes") {
    auto bytes = frame(one_tensor_manifest());
    const std::uint64_t huge = 1ull << 63;
    std::memcpy(bytes.data() + bytes.size() - 64 + 8, &huge, 8);
    CHECK(open_code(bytes) == ErrorCode::kLimitExceeded);
  }
  SUBCASE("footer: a manifest of 2^64-8 bytes at offset 8") {
    auto bytes = frame(one_tensor_manifest());
    const std::uint64_t offset = 8, huge = ~std::uint64_t{7};
    std::memcpy(bytes.data() + bytes.size() - 64, &offset, 8);
    std::memcpy(bytes.data() + bytes.size() - 64 + 8, &huge, 8);
    Limits unlimited;
    unlimited.max_manifest_bytes = ~std::uint64_t{0};
    CHECK(open_code(bytes, unlimited) == ErrorCode::kManifestOutOfRange);
  }
  SUBCASE("manifest: 10^9 tensors") {
    auto manifest = one_tensor_manifest();
    set_length(manifest, fb::GetManifest(manifest.data())->tensors(), 1'000'000'000);
    CHECK(open_code(frame(manifest)) == ErrorCode::kManifestInvalid);
  }
  SUBCASE("manifest: rank 2^31") {
    auto manifest = one_tensor_manifest();
    set_length(manifest, fb::GetManifest(manifest.data())->tensors()->Get(0)->shape(), 1u << 31);
    CHECK(open_code(frame(manifest)) == ErrorCode::kManifestInvalid);
  }
  SUBCASE("manifest: a name of 2^32-1 bytes") {
    auto manifest = one_tensor_manifest();
    set_length(manifest, fb::GetManifest(manifest.data())->tensors()->Get(0)->name(), 0xFFFFFFFFu);
    CHECK(open_code(frame(manifest)) == ErrorCode::kManifestInvalid);
  }
  SUBCASE("tensor: offset and length near 2^64") {
    flatbuffers::FlatBufferBuilder fbb;
    const fb::Sha256 digest{};
    const std::vector<std::uint64_t> shape = {~std::uint64_t{0} / 2};
    const auto tensor =
        fb::CreateTensor(fbb, fbb.CreateString("w"), static_cast<std::uint16_t>(DType::kU8), fbb.CreateVector(shape),
                         fb::Role::Other, ~std::uint64_t{63}, ~std::uint64_t{0} / 2, fb::Codec::None, &digest);
    const auto tensors = fbb.CreateVector(std::vector{tensor});
    fb::FinishManifestBuffer(
        fbb, fb::CreateManifest(fbb, 64, 0, tensors, 0, 0, fb::CreateLicense(fbb, fbb.CreateString("MIT"))));
    const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
    CHECK(open_code(frame(std::vector<std::byte>(p, p + fbb.GetSize()))) == ErrorCode::kTensorOutOfRange);
  }
  CHECK(peak.peak_growth() < kMaxAllocatedBytes);
}

TEST_CASE("counts within the format but over the reader's limits are limit_exceeded") {
  flatbuffers::FlatBufferBuilder fbb;
  const fb::Sha256 digest{};
  std::vector<flatbuffers::Offset<fb::Tensor>> list;
  for (const char* name : {"a", "b", "c", "d", "e"})
    list.push_back(fb::CreateTensor(fbb, fbb.CreateString(name), static_cast<std::uint16_t>(DType::kU8),
                                    fbb.CreateVector(std::vector<std::uint64_t>{0, 1, 2}), fb::Role::Other, 0, 0,
                                    fb::Codec::None, &digest));
  const auto tensors = fbb.CreateVector(list);
  fb::FinishManifestBuffer(
      fbb, fb::CreateManifest(fbb, 64, 0, tensors, 0, 0, fb::CreateLicense(fbb, fbb.CreateString("MIT"))));
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  const auto bytes = frame(std::vector<std::byte>(p, p + fbb.GetSize()));
  CHECK(open_code(bytes) == ErrorCode::kOk);
  Limits limits;
  limits.max_tensors = 4;
  CHECK(open_code(bytes, limits) == ErrorCode::kLimitExceeded);
  limits = {};
  limits.max_rank = 2;
  CHECK(open_code(bytes, limits) == ErrorCode::kLimitExceeded);
  limits = {};
  limits.max_manifest_bytes = 64;
  CHECK(open_code(bytes, limits) == ErrorCode::kLimitExceeded);
}

TEST_CASE("foreign headers declaring huge sizes are refused without allocating from them") {
  TempDir dir;
  auto put_u64 = [](std::string& s, std::uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); };
  auto refused = [&](const std::string& name, const std::string& content, Format format) {
    const auto path = dir / name;
    owf::test::spit(path, std::as_bytes(std::span(content.data(), content.size())));
    const owf::test::AllocationPeak peak;
    auto source = open_source(path, format);
    INFO(name << ": " << (source.ok() ? std::string("opened") : source.error().to_string()));
    CHECK(!source.ok());
    CHECK(peak.peak_growth() < kMaxAllocatedBytes);
  };
  {
    std::string s;
    put_u64(s, 1ull << 63);
    s += "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    refused("header-2p63.safetensors", s, Format::kSafetensors);
  }
  {
    std::string s;
    put_u64(s, ~std::uint64_t{0} - 7);
    s += "{}      ";
    refused("header-2p64.safetensors", s, Format::kSafetensors);
  }
  {
    std::string s;
    const std::string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}";
    put_u64(s, json.size());
    s += json + std::string(16, '\0');
    refused("shape-overflow.safetensors", s, Format::kSafetensors);
  }
  auto gguf = [&](std::uint64_t tensors, std::uint64_t kvs, const std::string& rest) {
    std::string s = "GGUF";
    const std::uint32_t version = 3;
    s.append(reinterpret_cast<const char*>(&version), 4);
    put_u64(s, tensors);
    put_u64(s, kvs);
    return s + rest;
  };
  refused("tensors-2p63.gguf", gguf(1ull << 63, 0, std::string(64, '\0')), Format::kGguf);
  refused("kvs-2p63.gguf", gguf(0, 1ull << 63, std::string(64, '\0')), Format::kGguf);
  {
    std::string key;
    put_u64(key, ~std::uint64_t{0});  // key length 2^64-1
    refused("key-2p64.gguf", gguf(0, 1, key + "abc"), Format::kGguf);
  }
  {
    std::string kv;
    put_u64(kv, 1);
    kv += "k";
    const std::uint32_t array_type = 9, element_type = 4;  // array of u32
    kv.append(reinterpret_cast<const char*>(&array_type), 4);
    kv.append(reinterpret_cast<const char*>(&element_type), 4);
    put_u64(kv, 1ull << 62);
    refused("array-2p62.gguf", gguf(0, 1, kv + std::string(16, '\0')), Format::kGguf);
  }
  {
    std::string s = "\x93NUMPY\x01\x00";
    s += std::string("\xff\xff", 2);
    s += "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }";
    refused("shape-huge.npy", s + std::string(64, ' '), Format::kNpy);
  }
}
