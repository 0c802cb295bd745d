// rewrite_set_info (owf/edit.hpp): a shard set's information changed in
// every shard or in none (spec/shards.md §5, "Changing a set's information").
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "manifest_rewrite.hpp"
#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kUnsharded = std::filesystem::path(OWF_CORPUS_DIR) / "SafeTensors.jl" / "model.safetensors";

std::vector<std::filesystem::path> write_set(const TempDir& dir) {
  auto source = open_source(kUnsharded);
  REQUIRE(source.ok());
  ConvertOptions o;
  o.license = License{.spdx = "MIT"};
  o.max_shard_bytes = 1000;
  o.write.sync = false;
  auto report = convert(**source, dir / "model.owf", Format::kOwf, o);
  REQUIRE_MESSAGE(report.ok(), report.error().message());
  REQUIRE(report->files.size() >= 3);
  return report->files;
}

// Every file of the directory, hidden ones included, with its bytes.
std::map<std::string, std::vector<std::byte>> snapshot(const std::filesystem::path& dir) {
  std::map<std::string, std::vector<std::byte>> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    files[e.path().filename().string()] = owf::test::slurp(e.path());
  return files;
}

ModelInfo new_info(const std::filesystem::path& shard) {
  auto file = File::open(shard);
  REQUIRE(file.ok());
  ModelInfo info = file->info();
  info.license = License{.spdx = "Apache-2.0"};
  info.metadata["edited"] = "yes";
  info.hyperparameters["layers"] = std::int64_t{4};
  info.provenance.name = "edited set";
  return info;
}

EditOptions no_sync() {
  EditOptions o;
  o.sync = false;
  return o;
}

// Clears the fault hook however the test ends.
struct Fault {
  explicit Fault(std::function<Status(std::string_view, std::size_t)> f) {
    internal::set_edit_fault_for_testing = std::move(f);
  }
  ~Fault() { internal::set_edit_fault_for_testing = nullptr; }
};

}  // namespace

TEST_CASE("rewrite_set_info changes every shard, from any shard or the directory") {
  TempDir dir;
  const auto files = write_set(dir);
  const ModelInfo info = new_info(files[0]);
  auto before = FileSet::open(files[0]);
  REQUIRE(before.ok());
  const Sha256Digest digest = before->weights_digest();
  ::chmod(files[1].c_str(), 0640);

  for (const auto& from : {files[1], dir.path()}) {
    CAPTURE(from);
    ModelInfo changed = info;
    changed.metadata["from"] = from.filename().string();
    auto report = rewrite_set_info(from, changed, no_sync());
    REQUIRE_MESSAGE(report.ok(), report.error().message());
    CHECK(report->files == files);
    CHECK(report->shards.size() == files.size());
    CHECK(report->weights_digest == digest);
    for (const auto& f : files) {
      auto file = File::open(f);
      REQUIRE(file.ok());
      CHECK(file->info() == changed);
      REQUIRE(file->shard_set() != nullptr);
    }
    auto set = FileSet::open(files.back());
    REQUIRE_MESSAGE(set.ok(), set.error().message());
    CHECK(set->verify().ok());
    CHECK(set->info() == changed);
    CHECK(set->weights_digest() == digest);
    // Nothing but the shards is left in the directory.
    CHECK(snapshot(dir.path()).size() == files.size());
  }
  struct stat st {};
  REQUIRE(::stat(files[1].c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
}

TEST_CASE("rewrite_set_info leaves every shard as it was when one fails") {
  TempDir dir;
  const auto files = write_set(dir);
  const ModelInfo info = new_info(files[0]);
  const auto original = snapshot(dir.path());
  const std::size_t last = files.size() - 1;

  SUBCASE("the last shard fails while it is written") {
    Fault fault([&](std::string_view phase, std::size_t k) -> Status {
      if (phase == "stage" && k == last) return Error(ErrorCode::kIoError, "injected write failure");
      return {};
    });
    auto report = rewrite_set_info(files[0], info, no_sync());
    REQUIRE(!report.ok());
    CHECK(report.error().code() == ErrorCode::kIoError);
    CHECK(report.error().message().find("injected write failure") != std::string::npos);
    CHECK(report.error().message().find(files[last].string()) != std::string::npos);
  }
  SUBCASE("the last rename fails, after the others are renamed") {
    Fault fault([&](std::string_view phase, std::size_t k) -> Status {
      if (phase == "rename" && k == last) return Error(ErrorCode::kIoError, "injected rename failure");
      return {};
    });
    auto report = rewrite_set_info(files[0], info, no_sync());
    REQUIRE(!report.ok());
    CHECK(report.error().message().find("injected rename failure") != std::string::npos);
  }
  SUBCASE("a shard is missing") {
    std::filesystem::rename(files[last], dir / "elsewhere");
    auto report = rewrite_set_info(files[0], info, no_sync());
    REQUIRE(!report.ok());
    CHECK(report.error().code() == ErrorCode::kIoError);
    CHECK(report.error().message().find(files[last].filename().string()) != std::string::npos);
    std::filesystem::rename(dir / "elsewhere", files[last]);
  }
  SUBCASE("no license") {
    ModelInfo unlicensed = info;
    unlicensed.license.reset();
    CHECK(rewrite_set_info(files[0], unlicensed, no_sync()).status().code() == ErrorCode::kMissingLicense);
  }
  SUBCASE("a file that is not a shard") {
    TempDir other;
    auto source = open_source(kUnsharded);
    REQUIRE(source.ok());
    ConvertOptions o;
    o.license = License{.spdx = "MIT"};
    REQUIRE(convert(**source, other / "single.owf", Format::kOwf, o).ok());
    CHECK(rewrite_set_info(other / "single.owf", info, no_sync()).status().code() == ErrorCode::kShardSetMismatch);
  }
  // Byte for byte as before, and no temporary file left.
  CHECK(snapshot(dir.path()) == original);
  auto set = FileSet::open(files[0]);
  REQUIRE(set.ok());
  CHECK(set->verify().ok());
}

TEST_CASE("rewrite_set_info keeps each shard's embedded signatures, as rewrite_info does") {
  TempDir dir;
  const auto files = write_set(dir);
  auto key = PrivateKey::load(std::filesystem::path(OWF_SOURCE_DIR) / "tests/data/keys/ed25519.pem");
  REQUIRE(key.ok());
  std::vector<Signature> signed_with;
  for (const auto& f : {files.front(), files.back()}) {
    auto file = File::open(f);
    REQUIRE(file.ok());
    // An embedded signature signs the shard's own weights digest.
    auto signature = sign_digests(*key, Covers::kWeights, file->weights_digest(), {});
    REQUIRE_MESSAGE(signature.ok(), signature.error().message());
    REQUIRE(add_signature(f, *signature, no_sync()).ok());
    signed_with.push_back(*signature);
  }
  auto report = rewrite_set_info(files[1], new_info(files[0]), no_sync());
  REQUIRE_MESSAGE(report.ok(), report.error().message());
  auto first = File::open(files.front());
  auto last = File::open(files.back());
  auto middle = File::open(files[1]);
  REQUIRE((first.ok() && last.ok() && middle.ok()));
  CHECK(embedded_signatures(*first) == std::vector<Signature>{signed_with[0]});
  CHECK(embedded_signatures(*last) == std::vector<Signature>{signed_with[1]});
  CHECK(embedded_signatures(*middle).empty());
}
