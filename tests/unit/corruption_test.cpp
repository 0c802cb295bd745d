// Damaged files: every single-bit flip and every truncation of a small
// valid file is reported invalid (never OK, never a crash), every byte of a
// tensor or of the manifest is covered by a digest, and random corruptions
// and splices of valid files, with a fixed seed, are never accepted as
// something they are not.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <set>

#include "manifest.hpp"
#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

// Open and verify an in-memory file; the error code, or kOk. The bytes are
// copied to 8-aligned storage, as a mapping would be.
ErrorCode open_and_verify(std::span<const std::byte> bytes) {
  std::vector<std::uint64_t> storage((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(storage.data(), bytes.data(), bytes.size());
  auto file = File::open_buffer(std::span(reinterpret_cast<const std::byte*>(storage.data()), bytes.size()));
  if (!file.ok()) return file.code();
  return file->verify({.threads = 1, .progress = {}}).code();
}

std::vector<std::byte> write_file(const TempDir& dir, const std::string& name, std::uint64_t alignment,
                                  const std::vector<std::pair<TensorSpec, std::vector<std::byte>>>& tensors,
                                  const std::map<std::string, std::string>& metadata = {}) {
  const auto path = dir / name;
  WriteOptions options;
  options.alignment = alignment;
  options.sync = false;
  auto w = Writer::create(path, options);
  REQUIRE(w.ok());
  for (const auto& [spec, data] : tensors) REQUIRE(w->add_tensor(spec, data).ok());
  for (const auto& [k, v] : metadata) REQUIRE(w->set_metadata(k, v).ok());
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  REQUIRE(w->finish().ok());
  return owf::test::slurp(path);
}

// Two small tensors, padding between them and before the manifest.
std::vector<std::byte> small_file(const TempDir& dir) {
  return write_file(dir, "small.owf", 16,
                    {{{"a", DType::kF32, {3}, Role::kWeight}, owf::test::pseudo_random_bytes(12, 1)},
                     {{"b", DType::kU8, {5}, Role::kBias}, owf::test::pseudo_random_bytes(5, 2)}},
                    {{"k", "v"}});
}

}  // namespace

TEST_CASE("every single-bit flip of a small file is reported, and digests cover tensors and manifest") {
  TempDir dir;
  const auto good = small_file(dir);
  REQUIRE(open_and_verify(good) == ErrorCode::kOk);
  auto file = File::open_buffer(good);
  REQUIRE(file.ok());
  // Bytes that only a digest protects: tensor data and the manifest.
  std::set<std::uint64_t> digested;
  for (std::size_t i = 0; i < file->tensor_count(); ++i) {
    const auto t = file->tensor(i);
    for (std::uint64_t k = 0; k < t.stored_bytes; ++k) digested.insert(t.offset + k);
  }
  const auto manifest_at = static_cast<std::uint64_t>(file->manifest_bytes().data() - good.data());
  for (std::uint64_t k = 0; k < file->manifest_bytes().size(); ++k) digested.insert(manifest_at + k);

  std::set<ErrorCode> seen;
  auto bytes = good;
  for (std::size_t at = 0; at < bytes.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes[at] ^= std::byte(1u << bit);
      const ErrorCode code = open_and_verify(bytes);
      INFO("offset " << at << " bit " << bit << ": " << error_code_name(code));
      CHECK(code != ErrorCode::kOk);
      if (digested.count(at))
        CHECK((code == ErrorCode::kTensorDigestMismatch || code == ErrorCode::kManifestDigestMismatch));
      bytes[at] ^= std::byte(1u << bit);
      seen.insert(code);
    }
  }
  // Every part of the file was reached: magic, header, footer, manifest
  // digest, tensor digests.
  for (const ErrorCode expected :
       {ErrorCode::kBadMagic, ErrorCode::kUnsupportedVersion, ErrorCode::kBadHeader, ErrorCode::kBadFooterMagic,
        ErrorCode::kManifestDigestMismatch, ErrorCode::kTensorDigestMismatch})
    CHECK_MESSAGE(seen.count(expected) == 1, error_code_name(expected), " never reported");
  CHECK(digested.size() > good.size() / 2);
}

TEST_CASE("every truncation of a small file is reported") {
  TempDir dir;
  const auto good = small_file(dir);
  for (std::size_t n = 0; n < good.size(); ++n) {
    const ErrorCode code = open_and_verify(std::span(good).first(n));
    INFO("length " << n << ": " << error_code_name(code));
    CHECK(code != ErrorCode::kOk);
    if (n < 128) CHECK(code == ErrorCode::kTruncated);
  }
}

TEST_CASE("random multi-byte corruptions are never accepted (fixed seed)") {
  TempDir dir;
  const auto good = small_file(dir);
  std::mt19937_64 rng(20240601);
  std::size_t tried = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bytes = good;
    const int n = 2 + static_cast<int>(rng() % 7);
    for (int k = 0; k < n; ++k) bytes[rng() % bytes.size()] = static_cast<std::byte>(rng() & 0xFF);
    if (bytes == good) continue;
    ++tried;
    const ErrorCode code = open_and_verify(bytes);
    INFO("round " << round << ": " << error_code_name(code));
    CHECK(code != ErrorCode::kOk);
  }
  CHECK(tried > 2900);
}

TEST_CASE("splices of two valid files open only when they are one of them (fixed seed)") {
  TempDir dir;
  std::vector<std::vector<std::byte>> files;
  files.push_back(small_file(dir));
  files.push_back(write_file(dir, "wide.owf", 64,
                             {{{"a", DType::kF32, {3}, Role::kWeight}, owf::test::pseudo_random_bytes(12, 1)},
                              {{"c", DType::kI64, {2, 2}, Role::kOther}, owf::test::pseudo_random_bytes(32, 3)}}));
  files.push_back(write_file(dir, "empty.owf", 8, {}));
  files.push_back(write_file(dir, "scalar.owf", 1,
                             {{{"s", DType::kF64, {}, Role::kOther}, owf::test::pseudo_random_bytes(8, 4)}},
                             {{"a", "b"}, {"c", "d"}}));
  for (const auto& f : files) REQUIRE(open_and_verify(f) == ErrorCode::kOk);
  std::mt19937_64 rng(7);
  std::size_t accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    const auto& a = files[rng() % files.size()];
    const auto& b = files[rng() % files.size()];
    const std::size_t i = rng() % (a.size() + 1);
    const std::size_t j = rng() % (b.size() + 1);
    std::vector<std::byte> spliced(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(i));
    spliced.insert(spliced.end(), b.begin() + static_cast<std::ptrdiff_t>(j), b.end());
    if (open_and_verify(spliced) != ErrorCode::kOk) continue;
    ++accepted;
    INFO("round " << round << ": a[0, " << i << ") + b[" << j << ", end)");
    CHECK((spliced == a || spliced == b));
  }
  MESSAGE(accepted << " of 3000 splices reproduced one of the inputs");
}

TEST_CASE("a manifest with a misaligned 64-bit vector is refused, not read") {
  // Found by fuzzing (fuzz/regressions/manifest/): a shape vector at 4 mod 8
  // passes the FlatBuffers verifier, which checks 4-byte alignment only.
  const auto bytes =
      owf::test::slurp(std::filesystem::path(OWF_SOURCE_DIR) / "fuzz/regressions/manifest/misaligned-shape-vector");
  REQUIRE(!bytes.empty());
  std::vector<std::uint64_t> storage((bytes.size() + 7) / 8);
  std::memcpy(storage.data(), bytes.data(), bytes.size());
  auto m =
      internal::decode_manifest(std::span(reinterpret_cast<const std::byte*>(storage.data()), bytes.size()), Limits{});
  REQUIRE(!m.ok());
  CHECK(m.code() == ErrorCode::kManifestInvalid);
  CHECK(m.error().message().find("not 8-byte aligned") != std::string::npos);
}
