// Rule R35: every manifest byte belongs to exactly one object. Manifests
// built with the generated FlatBuffers code but with offsets shared between
// objects, hidden bytes or fields from a newer schema.
#include <doctest/doctest.h>

#include <cstring>

#include "alloc_tracking.hpp"
#include "layout.hpp"
#include "owf/owf.hpp"
#include "owf_generated.h"
#include "sha256.hpp"
#include "test_util.hpp"

using namespace owf;

namespace {

std::vector<std::byte> bytes_of(const flatbuffers::FlatBufferBuilder& fbb) {
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return std::vector<std::byte>(p, p + fbb.GetSize());
}

// A complete file around `manifest`, no tensor data, version 1.`minor`.
std::vector<std::byte> frame(std::vector<std::byte> manifest, std::uint16_t minor = 0) {
  auto h = internal::encode_header();
  std::memcpy(h.data() + 10, &minor, 2);
  std::vector<std::byte> out(h.begin(), h.end());
  manifest.resize(internal::align_up(manifest.size(), 8), std::byte{0});
  out.insert(out.end(), manifest.begin(), manifest.end());
  internal::Footer f;
  f.manifest_offset = internal::kHeaderSize;
  f.manifest_length = manifest.size();
  f.manifest_sha256 = internal::sha256(manifest);
  f.version.minor = minor;
  const auto footer = internal::encode_footer(f);
  out.insert(out.end(), footer.begin(), footer.end());
  return out;
}

Result<File> open_bytes(const std::vector<std::byte>& bytes, std::vector<std::uint64_t>& storage) {
  storage.assign((bytes.size() + 7) / 8, 0);
  std::memcpy(storage.data(), bytes.data(), bytes.size());
  return File::open_buffer(std::span(reinterpret_cast<const std::byte*>(storage.data()), bytes.size()));
}

ErrorCode open_code(const std::vector<std::byte>& bytes) {
  std::vector<std::uint64_t> storage;
  return open_bytes(bytes, storage).code();
}

std::string open_message(const std::vector<std::byte>& bytes) {
  std::vector<std::uint64_t> storage;
  auto f = open_bytes(bytes, storage);
  return f.ok() ? std::string("ok") : f.error().message();
}

flatbuffers::Offset<fb::License> mit(flatbuffers::FlatBufferBuilder& fbb) {
  return fb::CreateLicense(fbb, fbb.CreateString("MIT"));
}

flatbuffers::Offset<fb::Tensor> empty_tensor(flatbuffers::FlatBufferBuilder& fbb,
                                             flatbuffers::Offset<flatbuffers::String> name,
                                             flatbuffers::Offset<flatbuffers::Vector<std::uint64_t>> shape) {
  const fb::Sha256 digest{};
  return fb::CreateTensor(fbb, name, static_cast<std::uint16_t>(DType::kU8), shape, fb::Role::Other, 0, 0,
                          fb::Codec::None, &digest);
}

}  // namespace

TEST_CASE("R35: a manifest built normally has every byte accounted for") {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fb::Tensor>> list;
  for (const char* name : {"a", "b", "c"})
    list.push_back(empty_tensor(fbb, fbb.CreateString(name), fbb.CreateVector(std::vector<std::uint64_t>{0, 3})));
  const auto tensors = fbb.CreateVector(list);
  fb::FinishManifestBuffer(fbb, fb::CreateManifest(fbb, 64, 0, tensors, 0, 0, mit(fbb)));
  // Three tensors share one vtable, as every FlatBuffers builder writes them.
  CHECK(open_code(frame(bytes_of(fbb))) == ErrorCode::kOk);
}

TEST_CASE("R35: objects reached by more than one offset are refused") {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<fb::Tensor>> list;
  SUBCASE("two tensors share one shape vector") {
    const auto shape = fbb.CreateVector(std::vector<std::uint64_t>{0, 7});
    list.push_back(empty_tensor(fbb, fbb.CreateString("a"), shape));
    list.push_back(empty_tensor(fbb, fbb.CreateString("b"), shape));
  }
  SUBCASE("one tensor table listed twice") {
    const auto t = empty_tensor(fbb, fbb.CreateString("a"), fbb.CreateVector(std::vector<std::uint64_t>{0}));
    list = {t, t};
  }
  SUBCASE("two tensors share one name string") {
    const auto name = fbb.CreateString("a");
    list.push_back(empty_tensor(fbb, name, fbb.CreateVector(std::vector<std::uint64_t>{0})));
    list.push_back(empty_tensor(fbb, name, fbb.CreateVector(std::vector<std::uint64_t>{0})));
  }
  SUBCASE("two compressed tensors share one chunk table") {
    const std::vector<fb::Chunk> chunks = {fb::Chunk(0, 10)};
    const auto table = fbb.CreateVectorOfStructs(chunks);
    const fb::Sha256 digest{};
    for (const char* name : {"a", "b"})
      list.push_back(fb::CreateTensor(fbb, fbb.CreateString(name), static_cast<std::uint16_t>(DType::kU8),
                                      fbb.CreateVector(std::vector<std::uint64_t>{100}), fb::Role::Other, 64, 10,
                                      fb::Codec::Zstd, &digest, 1 << 20, table));
  }
  const auto tensors = fbb.CreateVector(list);
  fb::FinishManifestBuffer(fbb, fb::CreateManifest(fbb, 64, 0, tensors, 0, 0, mit(fbb)));
  const auto file = frame(bytes_of(fbb));
  CHECK(open_code(file) == ErrorCode::kManifestInvalid);
  CHECK(open_message(file).find("exactly one offset") != std::string::npos);
  CHECK(open_message(file).find("manifest.tensors[1]") != std::string::npos);
}

TEST_CASE("R35: one string shared by 20,000 metadata values is refused without copying it 20,000 times") {
  // Decoded naively this 1.4 MB manifest holds 20,000 x 64 KiB = 1.3 GB.
  flatbuffers::FlatBufferBuilder fbb;
  const auto big = fbb.CreateString(std::string(64 << 10, 'x'));
  std::vector<flatbuffers::Offset<fb::KeyValue>> entries;
  for (int i = 0; i < 20'000; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%06d", i);
    entries.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(key), big));
  }
  const auto metadata = fbb.CreateVector(entries);
  fb::FinishManifestBuffer(fbb, fb::CreateManifest(fbb, 64, 0, 0, 0, metadata, mit(fbb)));
  const auto file = frame(bytes_of(fbb));
  CHECK(file.size() < (2u << 20));
  std::vector<std::uint64_t> storage;
  storage.assign((file.size() + 7) / 8, 0);
  std::memcpy(storage.data(), file.data(), file.size());
  const test::AllocationPeak peak;
  const auto opened = File::open_buffer(std::span(reinterpret_cast<const std::byte*>(storage.data()), file.size()));
  CHECK(opened.code() == ErrorCode::kManifestInvalid);
  CHECK(peak.peak_growth() < 8u * file.size());
}

TEST_CASE("R35: hidden bytes inside the manifest are refused") {
  flatbuffers::FlatBufferBuilder fbb;
  const auto tensors = fbb.CreateVector(
      std::vector{empty_tensor(fbb, fbb.CreateString("a"), fbb.CreateVector(std::vector<std::uint64_t>{0}))});
  fb::FinishManifestBuffer(fbb, fb::CreateManifest(fbb, 64, 0, tensors, 0, 0, mit(fbb)));
  auto manifest = bytes_of(fbb);

  SUBCASE("zero bytes after the last object are padding") {
    manifest.resize(manifest.size() + 16, std::byte{0});
    CHECK(open_code(frame(manifest)) == ErrorCode::kOk);
  }
  SUBCASE("non-zero bytes after the last object") {
    const char hidden[] = "HIDDEN!!";
    for (char c : std::string_view(hidden, 8)) manifest.push_back(static_cast<std::byte>(c));
    const auto file = frame(manifest);
    CHECK(open_code(file) == ErrorCode::kManifestInvalid);
    CHECK(open_message(file).find("hidden content") != std::string::npos);
  }
  SUBCASE("a non-zero padding byte inside a table") {
    // IntValue {value: long; type: ubyte}: the table holds padding between
    // its 4-byte vtable offset, its 1-byte type and its 8-aligned value.
    flatbuffers::FlatBufferBuilder b;
    const auto value = fb::CreateIntValue(b, 5, fb::IntType::U8);
    const auto h = fb::CreateHyperparameter(b, b.CreateString("x"), fb::Value::IntValue, value.Union());
    const auto hparams = b.CreateVector(std::vector{h});
    fb::FinishManifestBuffer(b, fb::CreateManifest(b, 64, 0, 0, hparams, 0, mit(b)));
    auto bytes = bytes_of(b);
    CHECK(open_code(frame(bytes)) == ErrorCode::kOk);
    const auto* m = fb::GetManifest(bytes.data());
    const auto* iv = m->hyperparameters()->Get(0)->value_as_IntValue();
    const auto* table = reinterpret_cast<const std::uint8_t*>(iv);
    const auto* vtable = table - flatbuffers::ReadScalar<std::int32_t>(table);
    const auto object_size = flatbuffers::ReadScalar<std::uint16_t>(vtable + 2);
    const auto value_at = flatbuffers::ReadScalar<std::uint16_t>(vtable + 4 + 2 * 0);
    const auto type_at = flatbuffers::ReadScalar<std::uint16_t>(vtable + 4 + 2 * 1);
    std::optional<std::size_t> padding;
    for (std::size_t b2 = 4; b2 < object_size && !padding; ++b2)
      if (!(b2 >= value_at && b2 < value_at + 8u) && b2 != type_at) padding = b2;
    REQUIRE(padding.has_value());
    bytes[static_cast<std::size_t>(table - reinterpret_cast<const std::uint8_t*>(bytes.data())) + *padding] =
        std::byte{0x5A};
    CHECK(open_code(frame(bytes)) == ErrorCode::kManifestInvalid);
  }
}

TEST_CASE(
    "R35: a field this version's schema lacks is refused in a file of a version it implements and skipped in a newer "
    "minor version") {
  flatbuffers::FlatBufferBuilder fbb;
  const auto license = mit(fbb);
  const auto extra = fbb.CreateString("from a future version");
  fb::ManifestBuilder builder(fbb);
  builder.add_license(license);
  // Field id 9 (voffset 4 + 2 x 9): past signatures (7) and shard_set (8).
  static_assert(fb::Manifest::VT_SHARD_SET == 4 + 2 * 8);
  fbb.AddOffset(4 + 2 * 9, extra);
  fb::FinishManifestBuffer(fbb, builder.Finish());
  const auto manifest = bytes_of(fbb);
  CHECK(open_code(frame(manifest, 0)) == ErrorCode::kManifestInvalid);
  CHECK(open_message(frame(manifest, 0)).find("not in this version's schema") != std::string::npos);
  CHECK(open_code(frame(manifest, 1)) == ErrorCode::kManifestInvalid);  // 1.1 to 1.3 are implemented too
  CHECK(open_code(frame(manifest, 2)) == ErrorCode::kManifestInvalid);
  CHECK(open_code(frame(manifest, 3)) == ErrorCode::kManifestInvalid);
  CHECK(open_code(frame(manifest, 4)) == ErrorCode::kOk);
}

TEST_CASE("R35: the signatures field (1.2) is refused in a 1.0 or 1.1 file") {
  flatbuffers::FlatBufferBuilder fbb;
  const auto license = mit(fbb);
  const std::vector<std::uint8_t> sig(64, 7);
  const auto entry = fb::CreateSignature(fbb, fbb.CreateString("ed25519"), fbb.CreateString(std::string(64, 'a')),
                                         fbb.CreateString("weights"), fbb.CreateVector(sig));
  const auto sigs = fbb.CreateVector(std::vector{entry});
  fb::ManifestBuilder builder(fbb);
  builder.add_license(license);
  builder.add_signatures(sigs);
  fb::FinishManifestBuffer(fbb, builder.Finish());
  const auto manifest = bytes_of(fbb);
  CHECK(open_code(frame(manifest, 0)) == ErrorCode::kManifestInvalid);
  CHECK(open_message(frame(manifest, 1)).find("'signatures' is not in version 1.1") != std::string::npos);
  CHECK(open_code(frame(manifest, 2)) == ErrorCode::kOk);
}
