// OWF shard sets (spec/shards.md): written by convert(), opened from any
// shard or the directory, and every way a set's files can disagree.
#include "file_set.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "alloc_tracking.hpp"
#include "fake_source.hpp"
#include "owf/owf.hpp"
#include "rules.hpp"
#include "test_util.hpp"
#include "writer_access.hpp"

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

namespace {

std::vector<owf::test::FakeTensor> small_tensors(std::size_t n, std::uint64_t elements = 4) {
  std::vector<owf::test::FakeTensor> out;
  for (std::size_t i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "t%06zu", i);
    out.push_back({name, DType::kU8, {elements}});
  }
  return out;
}

}  // namespace

TEST_CASE("attack: a source failing part-way through a set leaves nothing and names the shard") {
  TempDir dir;
  auto tensors = small_tensors(6);
  tensors[4].shape = {1000};  // shard 5 of 6: its read fails past 100 bytes
  owf::test::FakeSource source(tensors, true, 100);
  auto report = convert(source, dir / "m.owf", Format::kOwf, sharded(4));
  REQUIRE(!report.ok());
  CHECK(report.error().code() == ErrorCode::kIoError);
  CHECK_MESSAGE(report.error().message().find("m-00005-of-00006.owf") != std::string::npos, report.error().message());
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("attack: a shard name that is a directory is refused before anything is written") {
  for (bool overwrite : {false, true}) {
    TempDir dir;
    std::filesystem::create_directory(dir / "m-00002-of-00003.owf");
    owf::test::FakeSource source(small_tensors(3), true);
    ConvertOptions o = sharded(4);
    o.write.overwrite = overwrite;
    auto report = convert(source, dir / "m.owf", Format::kOwf, o);
    REQUIRE(!report.ok());
    CHECK_MESSAGE(report.error().message().find("m-00002-of-00003.owf") != std::string::npos, report.error().message());
    std::size_t n = 0;
    for (auto it = std::filesystem::directory_iterator(dir.path()); it != std::filesystem::directory_iterator(); ++it)
      ++n;
    CHECK(n == 1);
  }
}

TEST_CASE("attack: a set of more shards than a reader opens is refused before anything is written") {
  TempDir dir;
  owf::test::FakeSource source(small_tensors(Limits{}.max_shards + 1, 1), true);
  auto report = convert(source, dir / "m.owf", Format::kOwf, sharded(1));
  REQUIRE(!report.ok());
  CHECK(report.error().code() == ErrorCode::kLimitExceeded);
  CHECK_MESSAGE(report.error().message().find("100001 shards") != std::string::npos, report.error().message());
  CHECK(std::filesystem::is_empty(dir.path()));
}

namespace {

// A shard `dir/own` holding tensors `names` (u8 [1] each), stating a set whose
// other entries are `others` (file name, first tensor), placed around it
// by first tensor; the set's digest is made up (R38 does not check it).
std::filesystem::path craft_shard(const std::filesystem::path& dir, const std::string& own,
                                  const std::vector<std::string>& names,
                                  std::vector<std::pair<std::string, std::string>> others, std::uint64_t count = 1) {
  WriteOptions w;
  w.sync = false;
  w.overwrite = true;
  auto writer = Writer::create(dir / own, w);
  REQUIRE(writer.ok());
  REQUIRE(writer->set_license(License{.spdx = "MIT"}).ok());
  for (const auto& n : names) {
    REQUIRE(writer->begin_tensor({n, DType::kU8, {1}}).ok());
    const std::byte b{7};
    REQUIRE(writer->append({&b, 1}).ok());
    REQUIRE(writer->end_tensor().ok());
  }
  ShardSetInfo set;
  set.weights_digest.fill(1);
  others.emplace_back(own, names.front());
  std::sort(others.begin(), others.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& o : others) {
    ShardEntry e;
    e.file_name = o.first;
    e.first_tensor = o.second;
    e.tensor_count = o.first == own ? names.size() : count;
    if (o.first == own) {
      set.index = static_cast<std::uint32_t>(set.shards.size());
      e.weights_digest = weights_digest_of(internal::WriterAccess::digest_entries(*writer));
    }
    set.shards.push_back(std::move(e));
  }
  internal::WriterAccess::set_shard_set(*writer, std::move(set));
  auto s = writer->finish();
  REQUIRE_MESSAGE(s.ok(), s.error().message());
  return dir / own;
}

}  // namespace

TEST_CASE("attack: opening a shard with a large set holds its entries once, not once per copy") {
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> others;
  for (std::size_t k = 1; k < 2000; ++k) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "b%07zu", k);
    others.emplace_back(std::string("s") + buf + ".owf", buf + std::string(1000, 'x'));
  }
  const auto path = craft_shard(dir.path(), "big.owf", {"a"}, others);
  const std::uint64_t entries = 2000 * 1024;  // the set's names, as strings
  std::size_t file_peak = 0, set_peak = 0, source_peak = 0;
  {
    owf::test::AllocationPeak peak;
    CHECK(File::open(path).ok());
    file_peak = peak.peak_growth();
  }
  {
    owf::test::AllocationPeak peak;
    CHECK(FileSet::open(path).ok());
    set_peak = peak.peak_growth();
  }
  {
    owf::test::AllocationPeak peak;
    CHECK(open_source(path).status().code() == ErrorCode::kIoError);  // shard 2 is missing
    source_peak = peak.peak_growth();
  }
  CAPTURE(file_peak);
  CAPTURE(set_peak);
  CAPTURE(source_peak);
  CHECK(file_peak > entries);
  CHECK(set_peak < file_peak + entries / 2);     // no second copy of the entries
  CHECK(source_peak < file_peak + entries / 2);  // the shard is not open twice at once
}

TEST_CASE("attack: a set's shards opened lazily from many threads at once agree with one thread") {
  TempDir dir;
  const auto files = write_set(dir);
  auto reference = FileSet::open(files[1]);
  REQUIRE(reference.ok());
  REQUIRE(reference->open_all().ok());
  std::vector<std::string> names;
  for (std::size_t k = 0; k < reference->shard_count(); ++k) {
    const File* f = *reference->shard_file(k);
    for (std::size_t i = 0; i < f->tensor_count(); ++i) names.emplace_back(f->tensor(i).name);
  }
  for (int round = 0; round < 5; ++round) {
    auto set = FileSet::open(dir.path());
    REQUIRE(set.ok());
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t)
      threads.emplace_back([&, t] {
        for (std::size_t j = 0; j < names.size(); ++j) {
          const std::size_t i = (j * 7 + static_cast<std::size_t>(t) * 5) % names.size();
          auto found = set->find(names[i]);
          auto located = set->locate(i);
          if (!found.ok() || !*found || !located.ok() || (*found)->shard != located->shard ||
              (*found)->tensor != located->tensor)
            ++wrong;
          if (t == 0 && j == names.size() / 2 && !set->verify().ok()) ++wrong;
          if (auto extra = set->find(names[i] + "\x01"); !extra.ok() || extra->has_value()) ++wrong;
        }
      });
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
  }
}

TEST_CASE("attack: a remote set's shard names cannot become a query, fragment or escape of the URL") {
  using internal::shard_location;
  CHECK(shard_location("https://h.example/d", "m-00001-of-00002.owf") == "https://h.example/d/m-00001-of-00002.owf");
  CHECK(shard_location("https://h.example/d", "a?x=1#f.owf") == "https://h.example/d/a%3Fx%3D1%23f.owf");
  CHECK(shard_location("https://h.example/d", "%2e%2e") == "https://h.example/d/%252e%252e");
  CHECK(shard_location("https://h.example/d", "a b\r\nHost: x") == "https://h.example/d/a%20b%0D%0AHost%3A%20x");
  CHECK(shard_location("https://h.example/d", "\xc3\xa9.owf") == "https://h.example/d/%C3%A9.owf");
  CHECK(shard_location("dir", "a?b #.owf") == std::filesystem::path("dir") / "a?b #.owf");
}

TEST_CASE("attack: a source with one name twice, across a shard boundary, fails cleanly") {
  TempDir dir;
  auto tensors = small_tensors(4);
  tensors[2].name = tensors[1].name;
  owf::test::FakeSource source(tensors, true);
  auto report = convert(source, dir / "m.owf", Format::kOwf, sharded(4));
  REQUIRE(!report.ok());
  CHECK(report.error().code() == ErrorCode::kDuplicateTensorName);
  CHECK(report.error().message().find("'t000001'") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("attack: a directory whose first .owf entry is a symbolic link loop names that entry") {
  TempDir dir;
  write_set(dir);
  std::filesystem::create_symlink("a.owf", dir / "a.owf");
  auto set = FileSet::open(dir.path());
  REQUIRE(!set.ok());
  CHECK(set.error().message().find("a.owf") != std::string::npos);
}

TEST_CASE("attack: a target whose shard names R38 refuses is refused before anything is written") {
  TempDir dir;
  owf::test::FakeSource source(small_tensors(3), true);
  for (const std::string& stem : std::vector<std::string>{"a\\b", std::string(240, 'x'), "a\xff"}) {
    CAPTURE(stem);
    auto report = convert(source, dir / (stem + ".owf"), Format::kOwf, sharded(4));
    REQUIRE(!report.ok());
    CHECK(report.error().code() == ErrorCode::kInvalidArgument);
    CHECK(report.error().message().find("rule R38") != std::string::npos);
    CHECK(std::filesystem::is_empty(dir.path()));
  }
}

TEST_CASE("attack: a set opened by a relative path finds its shards after the working directory changes") {
  TempDir dir, elsewhere;
  const auto files = write_set(dir);
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto set = FileSet::open(files[0].filename());
  std::filesystem::current_path(elsewhere.path());
  std::filesystem::copy_file(dir / files[0].filename(), elsewhere / files[0].filename());  // a decoy
  const bool opened = set.ok();
  Status all = opened ? set->open_all() : Status(set.error());
  std::filesystem::current_path(cwd);
  REQUIRE(opened);
  CHECK_MESSAGE(all.ok(), all.error().message());
  CHECK(set->shard_path(1) == dir / files[1].filename());
}

TEST_CASE("attack: R38 on odd shard file names and counts") {
  const auto set_of = [](std::vector<std::string> names, std::uint64_t count = 1) {
    ShardSetInfo set;
    for (std::size_t k = 0; k < names.size(); ++k) {
      ShardEntry e;
      e.file_name = std::move(names[k]);
      e.tensor_count = count;
      e.first_tensor = "t" + std::to_string(k);
      set.shards.push_back(std::move(e));
    }
    return set;
  };
  const auto check = [](const ShardSetInfo& set) { return internal::check_shard_entries(set, Limits{}); };
  // Refused: a NUL, separators, '.', '..', invalid UTF-8, 256 bytes.
  for (const std::string& bad : std::vector<std::string>{std::string("a\0b.owf", 7), "a/b", "a\\b", ".", "..", "\xc3(",
                                                         "\xed\xa0\x80.owf", std::string(256, 'x'), ""}) {
    CAPTURE(bad);
    const Status s = check(set_of({"ok.owf", bad}));
    REQUIRE(!s.ok());
    CHECK(s.code() == ErrorCode::kBadShardSet);
    CHECK(s.error().message().find("shards[1]") != std::string::npos);
  }
  // Plain file names, however odd, are the set's business: accepted.
  CHECK(check(set_of({"-rf", "...", "a b\t.owf", std::string(255, 'x'), "a..b", "~"})).ok());
  // One name in NFC and in NFD: different bytes, two names (a file system
  // that normalizes names opens one file for both, which S3 then refuses).
  CHECK(check(set_of({"\xc3\xa9.owf", "e\xcc\x81.owf"})).ok());
  // Tensor counts whose sum passes 2^64.
  const Status over = check(set_of({"a", "b"}, std::uint64_t{1} << 63));
  REQUIRE(!over.ok());
  CHECK(over.error().message().find("64 bits") != std::string::npos);
  CHECK(check(set_of({"a", "b"}, (std::uint64_t{1} << 63) - 1)).ok());
}
