// The writer hashes uncompressed tensors of 1 MiB or more on other threads,
// read back from the file it writes (lib/src/written_tensor_hasher.hpp):
// digests must be those of the bytes, in whatever order and pieces they
// arrive, with any thread count; a wrong expected digest must still stop
// the file; an abandoned writer must not wait for bytes that never come.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "file_access.hpp"
#include "owf/owf.hpp"
#include "sha256.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;

struct Planned {
  std::string name;
  std::vector<std::byte> bytes;  // U8 tensor of this many elements
};

// Tensors on both sides of the 1 MiB threshold, added out of name order.
std::vector<Planned> plan() {
  std::vector<Planned> p;
  const std::uint64_t sizes[] = {3 * kMiB + 5, 100, kMiB, kMiB - 1, 5 * kMiB, 0, 2 * kMiB + 64, 17};
  std::uint32_t seed = 1;
  for (std::uint64_t size : sizes) {
    p.push_back({"t" + std::to_string(100 - seed), owf::test::pseudo_random_bytes(size, seed)});
    ++seed;
  }
  return p;
}

// Writes `tensors`, streaming each in pieces of `piece` bytes (0: whole).
Status write_all(const std::filesystem::path& path, const std::vector<Planned>& tensors, unsigned threads,
                 std::size_t piece) {
  WriteOptions options;
  options.sync = false;
  options.threads = threads;
  OWF_ASSIGN_OR_RETURN(Writer w, Writer::create(path, options));
  OWF_RETURN_IF_ERROR(w.set_license(owf::test::test_license()));
  for (const Planned& t : tensors) {
    const TensorSpec spec{t.name, DType::kU8, {t.bytes.size()}};
    if (piece == 0) {
      OWF_RETURN_IF_ERROR(w.add_tensor(spec, t.bytes));
      continue;
    }
    OWF_RETURN_IF_ERROR(w.begin_tensor(spec));
    for (std::size_t at = 0; at < t.bytes.size(); at += piece)
      OWF_RETURN_IF_ERROR(w.append(std::span(t.bytes).subspan(at, std::min(piece, t.bytes.size() - at))));
    OWF_RETURN_IF_ERROR(w.end_tensor());
  }
  return w.finish();
}

}  // namespace

TEST_CASE("background digests are the digests of the bytes, for any thread count and piece size") {
  TempDir dir;
  const auto tensors = plan();
  std::vector<std::byte> reference;
  for (unsigned threads : {1u, 2u, 5u}) {
    for (std::size_t piece : {std::size_t{0}, std::size_t{64} << 10, std::size_t{3 * kMiB + 1}}) {
      CAPTURE(threads);
      CAPTURE(piece);
      const auto path = dir / ("m" + std::to_string(threads) + "-" + std::to_string(piece) + ".owf");
      REQUIRE(write_all(path, tensors, threads, piece).ok());
      auto f = File::open(path);
      REQUIRE(f.ok());
      for (const Planned& t : tensors) {
        const auto info = f->tensor(t.name);
        REQUIRE(info.ok());
        CHECK(info->sha256 == internal::sha256(t.bytes));
      }
      CHECK(f->verify().ok());
      // The file does not depend on threads or pieces.
      const auto bytes = owf::test::slurp(path);
      if (reference.empty()) reference = bytes;
      CHECK(bytes == reference);
    }
  }
}

TEST_CASE("a large tensor whose bytes differ from its expected digest stops the file") {
  TempDir dir;
  const auto path = dir / "model.owf";
  const auto big = owf::test::pseudo_random_bytes(4 * kMiB, 3);
  const auto small = owf::test::pseudo_random_bytes(64, 4);
  WriteOptions options;
  options.sync = false;
  auto w = Writer::create(path, options);
  REQUIRE(w.ok());
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  TensorSpec spec{"big", DType::kU8, {big.size()}};
  spec.expected_sha256 = internal::sha256(small);  // not the digest of `big`
  // Hashed in the background: end_tensor() may return before the digest
  // is known; a later call reports it, at the latest finish().
  Status s = w->add_tensor(spec, big);
  if (s.ok()) s = w->add_tensor({"small", DType::kU8, {small.size()}}, small);
  if (s.ok()) s = w->finish();
  CHECK(s.code() == ErrorCode::kTensorDigestMismatch);
  CHECK(s.error().message().find("tensor 'big'") != std::string::npos);
  CHECK(!std::filesystem::exists(path));
  CHECK(w->finish().code() != ErrorCode::kOk);  // the writer stays failed
}

TEST_CASE("a writer destroyed in the middle of a large tensor returns at once and leaves nothing") {
  TempDir dir;
  const auto path = dir / "model.owf";
  const auto half = owf::test::pseudo_random_bytes(2 * kMiB, 5);
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->begin_tensor({"t", DType::kU8, {4 * kMiB}}).ok());
    REQUIRE(w->append(half).ok());  // its hashing waits for the other half
  }
  // Not a timing test: a hang here would be the writer waiting forever for
  // bytes it will never get; seconds are far above any real teardown.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60));
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("a read-back check leaves out exactly the tensors marked as hashed from the file") {
  // convert() marks the tensors its writer hashed from the written file;
  // every other tensor (small ones, hashed from the caller's bytes) is
  // hashed again.
  TempDir dir;
  const auto tensors = plan();
  const auto path = dir / "m.owf";
  REQUIRE(write_all(path, tensors, 2, 0).ok());
  std::size_t tiny = 0;
  {
    auto f = File::open(path);
    REQUIRE(f.ok());
    tiny = f->find("t98").value();  // 100 bytes
    auto bytes = owf::test::slurp(path);
    bytes[f->tensor(tiny).offset] ^= std::byte{1};
    owf::test::spit(dir / "damaged.owf", bytes);
  }
  auto f = File::open(dir / "damaged.owf");
  REQUIRE(f.ok());
  auto marks = std::make_unique<bool[]>(f->tensor_count());
  const std::span<const bool> none(marks.get(), f->tensor_count());
  CHECK(internal::FileAccess::verify(*f, {}, none).code() == ErrorCode::kTensorDigestMismatch);
  for (std::size_t i = 0; i < f->tensor_count(); ++i) marks[i] = i != tiny;
  CHECK(internal::FileAccess::verify(*f, {}, none).code() == ErrorCode::kTensorDigestMismatch);
  marks[tiny] = true;
  CHECK(internal::FileAccess::verify(*f, {}, none).ok());
}

TEST_CASE("convert of a model with large tensors reads back and keeps the weights digest") {
  TempDir dir;
  REQUIRE(write_all(dir / "m.owf", plan(), 2, 0).ok());
  auto source = open_source(dir / "m.owf");
  REQUIRE(source.ok());
  for (bool check : {true, false}) {
    ConvertOptions options;
    options.write.sync = false;
    options.check_output = check;
    const auto out = dir / (check ? "checked.owf" : "unchecked.owf");
    const auto report = convert(**source, out, Format::kOwf, options);
    REQUIRE(report.ok());
    CHECK(report->checked == check);
    CHECK(report->weights_digest == (*source)->stored_weights_digest().value());
    CHECK(File::open(out)->verify().ok());
  }
}
