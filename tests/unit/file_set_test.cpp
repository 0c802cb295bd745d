// OWF shard sets (spec/shards.md): written by convert(), opened from any
// shard or the directory, and every way a set's files can disagree.
#include <doctest/doctest.h>

#include <filesystem>

#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;
const std::filesystem::path kUnsharded = kCorpus / "SafeTensors.jl" / "model.safetensors";

ConvertOptions sharded(std::uint64_t max_bytes) {
  ConvertOptions o;
  o.license = License{.spdx = "MIT"};
  o.max_shard_bytes = max_bytes;
  o.write.sync = false;
  return o;
}

// The corpus model as an OWF set of `count` shards or more in `dir/model-*.owf`.
std::vector<std::filesystem::path> write_set(const TempDir& dir, std::uint64_t max_bytes = 1000,
                                             const std::string& name = "model.owf") {
  auto source = open_source(kUnsharded);
  REQUIRE(source.ok());
  auto report = convert(**source, dir / name, Format::kOwf, sharded(max_bytes));
  REQUIRE_MESSAGE(report.ok(), report.error().message());
  CHECK(report->checked);
  return report->files;
}

Sha256Digest unsharded_digest() {
  auto source = open_source(kUnsharded);
  REQUIRE(source.ok());
  auto d = compute_weights_digest(**source);
  REQUIRE(d.ok());
  return *d;
}

Error set_error(const std::filesystem::path& path) {
  auto set = FileSet::open(path);
  if (!set.ok()) return set.error();
  auto s = set->verify();
  REQUIRE(!s.ok());
  return s.error();
}

void swap_files(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto t = a.string() + ".swap";
  std::filesystem::rename(a, t);
  std::filesystem::rename(b, a);
  std::filesystem::rename(t, b);
}

}  // namespace

TEST_CASE("a model converted with max_shard_bytes becomes a set with the unsharded weights digest") {
  TempDir dir;
  const auto files = write_set(dir);
  REQUIRE(files.size() > 2);
  CHECK(files.front().filename() == "model-00001-of-" + std::string(5 - std::to_string(files.size()).size(), '0') +
                                        std::to_string(files.size()) + ".owf");
  CHECK(!std::filesystem::exists(dir / "model.owf"));
  const Sha256Digest expected = unsharded_digest();

  for (const auto& from : {files.front(), files.back(), dir.path()}) {
    CAPTURE(from);
    auto set = FileSet::open(from);
    REQUIRE_MESSAGE(set.ok(), set.error().message());
    CHECK(set->shard_count() == files.size());
    CHECK(set->tensor_count() == 36);
    CHECK(set->weights_digest() == expected);
    REQUIRE(set->verify().ok());
    CHECK(set->info().license->spdx == "MIT");
  }

  // Each shard is an ordinary valid file too, of version 1.3.
  std::uint64_t tensors = 0;
  for (std::size_t k = 0; k < files.size(); ++k) {
    auto file = File::open(files[k]);
    REQUIRE(file.ok());
    CHECK(file->version().minor == 3);
    REQUIRE(file->shard_set() != nullptr);
    CHECK(file->shard_set()->index == k);
    CHECK(file->shard_set()->shards[k].weights_digest == file->weights_digest());
    tensors += file->tensor_count();
  }
  CHECK(tensors == 36);

  // As a Source (every tool reads through one): the union, in name order.
  auto source = open_source(files[1]);
  REQUIRE(source.ok());
  CHECK((*source)->tensor_count() == 36);
  CHECK((*source)->files().size() == files.size());
  for (std::size_t i = 1; i < (*source)->tensor_count(); ++i)
    CHECK((*source)->tensor(i - 1).name < (*source)->tensor(i).name);
  auto digest = compute_weights_digest(**source);
  REQUIRE(digest.ok());
  CHECK(*digest == expected);
}

TEST_CASE("a set converts back to one file and to another set, keeping its digest") {
  TempDir dir;
  const auto files = write_set(dir);
  auto set = open_source(dir.path());
  REQUIRE_MESSAGE(set.ok(), set.error().message());
  ConvertOptions one;
  one.write.sync = false;
  TempDir joined;
  auto single = convert(**set, joined / "joined.owf", Format::kOwf, one);
  REQUIRE_MESSAGE(single.ok(), single.error().message());
  CHECK(single->files.size() == 1);
  CHECK(single->weights_digest == unsharded_digest());
  auto file = File::open(joined / "joined.owf");
  REQUIRE(file.ok());
  CHECK(file->shard_set() == nullptr);

  TempDir other;
  auto resharded = convert(**set, other / "m.owf", Format::kOwf, sharded(2500));
  REQUIRE_MESSAGE(resharded.ok(), resharded.error().message());
  CHECK(resharded->files.size() > 1);
  CHECK(resharded->files.size() < files.size());
  CHECK(resharded->weights_digest == unsharded_digest());
}

TEST_CASE("a model that fits one shard is written as one ordinary file") {
  TempDir dir;
  auto source = open_source(kUnsharded);
  REQUIRE(source.ok());
  auto report = convert(**source, dir / "model.owf", Format::kOwf, sharded(1ull << 40));
  REQUIRE(report.ok());
  CHECK(report->files.size() == 1);
  auto file = File::open(dir / "model.owf");
  REQUIRE(file.ok());
  CHECK(file->shard_set() == nullptr);
  CHECK(file->version().minor == 0);
}

TEST_CASE("finding a tensor of a set opens only the shard that holds it") {
  TempDir dir;
  const auto files = write_set(dir);
  auto set = FileSet::open(files.front());
  REQUIRE(set.ok());
  const std::string last_first = set->shard(set->shard_count() - 1).first_tensor;
  // Every other shard gone: a lookup in the last one still works.
  for (std::size_t k = 1; k + 1 < files.size(); ++k) std::filesystem::remove(files[k]);
  auto found = set->find(last_first);
  REQUIRE_MESSAGE(found.ok(), found.error().message());
  REQUIRE(found->has_value());
  CHECK((*found)->shard == set->shard_count() - 1);
  CHECK((*found)->tensor == 0);
  auto absent = set->find("\x01 sorts before every tensor");
  REQUIRE(absent.ok());
  CHECK(!absent->has_value());
  // The whole set needs every shard.
  const Error e = set->open_all().error();
  CHECK(e.code() == ErrorCode::kIoError);
  CHECK(e.message().find(files[1].filename().string()) != std::string::npos);
}

TEST_CASE("every way the files of a set can disagree is refused, naming the shard") {
  SUBCASE("a missing shard") {
    TempDir dir;
    const auto files = write_set(dir);
    std::filesystem::remove(files[2]);
    const Error e = set_error(files[0]);
    CHECK(e.code() == ErrorCode::kIoError);
    CHECK(e.message().find("shard 3 of") != std::string::npos);
    CHECK(e.message().find(files[2].filename().string()) != std::string::npos);
    CHECK(open_source(files[0]).status().code() == ErrorCode::kIoError);
  }
  SUBCASE("a renamed shard (S1)") {
    TempDir dir;
    const auto files = write_set(dir);
    std::filesystem::copy_file(files[1], dir / "copy.owf");
    const Error e = set_error(dir / "copy.owf");
    CHECK(e.code() == ErrorCode::kShardSetMismatch);
    CHECK(e.message().find("rule S1") != std::string::npos);
  }
  SUBCASE("two shards swapped (S1 from one of them or the directory, S3 from another shard)") {
    TempDir dir;
    const auto files = write_set(dir);
    swap_files(files[0], files[1]);
    CHECK(set_error(files[0]).message().find("rule S1") != std::string::npos);
    CHECK(set_error(dir.path()).message().find("rule S1") != std::string::npos);
    const Error e = set_error(files[2]);
    CHECK(e.code() == ErrorCode::kShardSetMismatch);
    CHECK(e.message().find("under another shard's name") != std::string::npos);
  }
  SUBCASE("a shard of another set, or of another write of this one (S3)") {
    TempDir dir, other;
    const auto files = write_set(dir);
    const auto others = write_set(other, 1500);
    std::filesystem::copy_file(others[1], files[1], std::filesystem::copy_options::overwrite_existing);
    const Error e = set_error(files[0]);
    CHECK(e.code() == ErrorCode::kShardSetMismatch);
    CHECK(e.message().find("belongs to another set") != std::string::npos);
    CHECK(e.message().find(files[1].filename().string()) != std::string::npos);
  }
  SUBCASE("a shard whose model information differs (S4)") {
    TempDir dir;
    const auto files = write_set(dir);
    auto file = File::open(files[2]);
    REQUIRE(file.ok());
    ModelInfo info = file->info();
    info.metadata["changed"] = "in one shard only";
    file = Error(ErrorCode::kIoError, "closed");
    EditOptions edit;
    auto edited = rewrite_info(files[2], info, edit);
    REQUIRE_MESSAGE(edited.ok(), edited.error().message());
    const Error e = set_error(files[0]);
    CHECK(e.code() == ErrorCode::kShardSetMismatch);
    CHECK(e.message().find("rule S4") != std::string::npos);
  }
  SUBCASE("an extra .owf file in the set's directory (S6)") {
    TempDir dir, other;
    const auto files = write_set(dir);
    write_set(other, 1ull << 40, "single.owf");
    std::filesystem::copy_file(other / "single.owf", dir / "zz-stray.owf");
    const Error e = set_error(dir.path());
    CHECK(e.code() == ErrorCode::kShardSetMismatch);
    CHECK(e.message().find("zz-stray.owf") != std::string::npos);
    CHECK(e.message().find("rule S6") != std::string::npos);
    // From a shard, the directory's other files are not the set's business.
    auto from_shard = FileSet::open(files[0]);
    REQUIRE(from_shard.ok());
    CHECK(from_shard->verify().ok());
  }
  SUBCASE("a file that is not a shard, and a directory without .owf files") {
    TempDir dir;
    write_set(dir, 1ull << 40, "single.owf");
    CHECK(FileSet::open(dir / "single.owf").status().code() == ErrorCode::kShardSetMismatch);
    TempDir empty;
    CHECK(FileSet::open(empty.path()).status().code() == ErrorCode::kIoError);
    CHECK(open_source(empty.path()).status().error().message().find("no shard set") != std::string::npos);
  }
  SUBCASE("a bit flip in a shard's tensor data fails verification naming the shard") {
    TempDir dir;
    const auto files = write_set(dir);
    auto bytes = owf::test::slurp(files[1]);
    bytes[64] ^= std::byte{1};
    owf::test::spit(files[1], bytes);
    const Error e = set_error(files[0]);
    CHECK(e.code() == ErrorCode::kTensorDigestMismatch);
    CHECK(e.message().find(files[1].filename().string()) != std::string::npos);
    // Through a Source, as every tool reads: checking digests verifies every
    // shard, and a copy of the set checks its bytes as they stream.
    auto source = open_source(files[0]);
    REQUIRE(source.ok());
    CHECK(compute_digests(**source, DigestOptions{.check_stored = true}).status().code() ==
          ErrorCode::kTensorDigestMismatch);
    TempDir out;
    ConvertOptions one;
    one.write.sync = false;
    CHECK(convert(**source, out / "copy.owf", Format::kOwf, one).status().code() == ErrorCode::kTensorDigestMismatch);
    CHECK(convert(**source, out / "copy.safetensors", Format::kSafetensors, one).status().code() ==
          ErrorCode::kTensorDigestMismatch);
    CHECK(std::filesystem::is_empty(out.path()));
  }
}

TEST_CASE("writing a set refuses existing shards unless told to overwrite, and leaves nothing on failure") {
  TempDir dir;
  const auto files = write_set(dir);
  auto source = open_source(kUnsharded);
  REQUIRE(source.ok());
  ConvertOptions o = sharded(1000);
  o.write.overwrite = false;
  auto again = convert(**source, dir / "model.owf", Format::kOwf, o);
  REQUIRE(!again.ok());
  CHECK(again.error().code() == ErrorCode::kAlreadyExists);

  // No license: nothing is written at all.
  TempDir empty;
  ConvertOptions unlicensed;
  unlicensed.max_shard_bytes = 1000;
  auto st = open_source(kUnsharded);
  REQUIRE(st.ok());
  if ((*st)->info().license) return;  // the corpus file carries none today
  CHECK(convert(**st, empty / "m.owf", Format::kOwf, unlicensed).status().code() == ErrorCode::kMissingLicense);
  CHECK(std::filesystem::is_empty(empty.path()));
}

TEST_CASE("the corpus's 6-shard checkpoint becomes an OWF set and a sharded checkpoint again, one digest throughout") {
  const Sha256Digest expected = unsharded_digest();
  auto hf = open_source(kCorpus / "SafeTensors.jl" / "sharded");
  REQUIRE(hf.ok());
  TempDir owf_set, back;
  auto to_set = convert(**hf, owf_set / "model.owf", Format::kOwf, sharded(1500));
  REQUIRE_MESSAGE(to_set.ok(), to_set.error().message());
  CHECK(to_set->files.size() > 2);
  CHECK(to_set->weights_digest == expected);
  auto set = open_source(owf_set.path());
  REQUIRE(set.ok());
  auto to_hf = convert(**set, back / "model.safetensors", Format::kSafetensors, sharded(1500));
  REQUIRE_MESSAGE(to_hf.ok(), to_hf.error().message());
  CHECK(to_hf->files.back().filename() == "model.safetensors.index.json");
  CHECK(to_hf->weights_digest == expected);
  auto reread = open_source(back / "model.safetensors.index.json");
  REQUIRE(reread.ok());
  auto digest = compute_weights_digest(**reread);
  REQUIRE(digest.ok());
  CHECK(*digest == expected);
}

TEST_CASE("an OWF set becomes a GGUF split set that llama.cpp's naming finds, and back") {
  auto gguf = open_source(kCorpus / "python-gen-worker" / "stories260K.gguf");
  REQUIRE(gguf.ok());
  auto expected = compute_weights_digest(**gguf);
  REQUIRE(expected.ok());
  TempDir owf_set, splits;
  auto to_set = convert(**gguf, owf_set / "m.owf", Format::kOwf, sharded(400'000));
  REQUIRE_MESSAGE(to_set.ok(), to_set.error().message());
  CHECK(to_set->files.size() > 1);
  auto set = open_source(to_set->files.back());
  REQUIRE(set.ok());
  auto to_splits = convert(**set, splits / "m.gguf", Format::kGguf, sharded(400'000));
  REQUIRE_MESSAGE(to_splits.ok(), to_splits.error().message());
  REQUIRE(to_splits->files.size() == to_set->files.size());
  CHECK(to_splits->checked);
  CHECK(to_splits->files.front().filename() == "m-00001-of-0000" + std::to_string(to_splits->files.size()) + ".gguf");
  for (const auto& split : to_splits->files) {
    auto reread = open_source(split);
    REQUIRE_MESSAGE(reread.ok(), reread.error().message());
    auto d = compute_weights_digest(**reread);
    REQUIRE(d.ok());
    CHECK(*d == *expected);
  }
}
