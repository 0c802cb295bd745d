// Writing Hugging Face safetensors shard sets (ConvertOptions::
// max_shard_bytes): the plan, the names, the index, and that a set appears
// complete and checked or not at all.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "fake_source.hpp"
#include "formats/shard_set.hpp"
#include "owf/owf.hpp"
#include "shard_plan.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::FakeSource;
using owf::test::FakeTensor;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;
const std::filesystem::path kWhole = kCorpus / "SafeTensors.jl" / "model.safetensors";
const std::filesystem::path kShardedIndex = kCorpus / "SafeTensors.jl" / "sharded" / "model.safetensors.index.json";

// An F32 tensor of `elements` elements (4 bytes each).
FakeTensor f32(std::string name, std::uint64_t elements) { return {std::move(name), DType::kF32, {elements}}; }

// The names of the plan's shards, each shard's names joined by ','.
std::vector<std::string> planned_names(const Source& source, std::uint64_t max_shard_bytes) {
  std::vector<std::string> out;
  for (const auto& shard : internal::plan_shards(source, max_shard_bytes)) {
    std::string names;
    for (std::size_t i : shard) names += (names.empty() ? "" : ",") + std::string(source.tensor(i).name);
    out.push_back(names);
  }
  return out;
}

std::vector<std::string> directory_listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Sha256Digest digest_of(const std::filesystem::path& path) {
  auto source = open_source(path);
  REQUIRE_MESSAGE(source.ok(), source.error().to_string());
  auto d = compute_weights_digest(**source);
  REQUIRE(d.ok());
  return *d;
}

// Checks that `index` has transformers' layout and names every tensor of
// `source` in an existing shard; returns the shards' file names.
std::set<std::string> check_index(const std::filesystem::path& index, const Source& source) {
  const std::string text = read_text(index);
  const auto json = nlohmann::json::parse(text);
  REQUIRE(json.is_object());
  CHECK(json.size() == 2);
  REQUIRE(json.contains("metadata"));
  REQUIRE(json.contains("weight_map"));
  CHECK(json["metadata"].size() == 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) total += source.tensor(i).logical_bytes;
  CHECK(json["metadata"]["total_size"].get<std::uint64_t>() == total);
  const auto& map = json["weight_map"];
  CHECK(map.size() == source.tensor_count());
  std::set<std::string> shards;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const std::string name(source.tensor(i).name);
    REQUIRE_MESSAGE(map.contains(name), name);
    shards.insert(map[name].get<std::string>());
  }
  for (const auto& shard : shards) CHECK_MESSAGE(std::filesystem::is_regular_file(index.parent_path() / shard), shard);
  // json.dumps(index, indent=2, sort_keys=True) + "\n": nlohmann's objects
  // keep keys sorted, so its dump of the parsed index is the same text.
  CHECK(text == json.dump(2, ' ', true) + "\n");
  CHECK(text.starts_with("{\n  \"metadata\": {\n    \"total_size\": " + std::to_string(total) +
                         "\n  },\n  \"weight_map\": {\n    \""));
  return shards;
}

}  // namespace

TEST_CASE("plan_shards: name order, a new shard when the next tensor would go over, never an empty shard") {
  SUBCASE("no tensors: one empty shard") {
    const FakeSource source({}, true);
    const auto plan = internal::plan_shards(source, 100);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].empty());
  }
  SUBCASE("tensors taken in name order, whatever the source's order") {
    const FakeSource source({f32("c", 1), f32("a", 1), f32("b.2", 1), f32("b.10", 1), f32("B", 1)}, true);
    CHECK(planned_names(source, 8) == std::vector<std::string>{"B,a", "b.10,b.2", "c"});
    CHECK(planned_names(source, 0) == std::vector<std::string>{"B,a,b.10,b.2,c"});
    CHECK(planned_names(source, 1000) == std::vector<std::string>{"B,a,b.10,b.2,c"});
  }
  SUBCASE("byte order, not locale order: non-ASCII after ASCII") {
    const FakeSource source({f32("\xc3\xa9", 1), f32("z", 1)}, true);
    CHECK(planned_names(source, 4) == std::vector<std::string>{"z", "\xc3\xa9"});
  }
  SUBCASE("exact fits stay together") {
    const FakeSource source({f32("a", 2), f32("b", 2), f32("c", 4), f32("d", 1)}, true);
    CHECK(planned_names(source, 16) == std::vector<std::string>{"a,b", "c", "d"});
    CHECK(planned_names(source, 20) == std::vector<std::string>{"a,b", "c,d"});
  }
  SUBCASE("a tensor larger than the limit is a shard of its own") {
    const FakeSource source({f32("a", 1), f32("big", 100), f32("c", 1), f32("d", 1)}, true);
    CHECK(planned_names(source, 8) == std::vector<std::string>{"a", "big", "c,d"});
    CHECK(planned_names(source, 1) == std::vector<std::string>{"a", "big", "c", "d"});
  }
  SUBCASE("sizes near 2^64 do not wrap") {
    const FakeSource source({{"a", DType::kU8, {UINT64_MAX - 2}}, {"b", DType::kU8, {3}}, {"c", DType::kU8, {1}}},
                            true);
    CHECK(planned_names(source, UINT64_MAX - 1) == std::vector<std::string>{"a", "b,c"});
  }
}

TEST_CASE("shard_path names shards as transformers does") {
  CHECK(internal::shard_path("dir/model.safetensors", 0, 3) == "dir/model-00001-of-00003.safetensors");
  CHECK(internal::shard_path("dir/model.safetensors", 2, 3) == "dir/model-00003-of-00003.safetensors");
  CHECK(internal::shard_path("model.safetensors", 11, 12) == "model-00012-of-00012.safetensors");
  CHECK(internal::shard_path("/a/b.c/my.model.safetensors", 0, 2) == "/a/b.c/my.model-00001-of-00002.safetensors");
  CHECK(internal::shard_path("weights", 0, 2) == "weights-00001-of-00002");
  CHECK(internal::shard_path("m.safetensors", 99998, 99999) == "m-99999-of-99999.safetensors");
  CHECK(internal::shard_path("m.safetensors", 0, 100000) == "m-00001-of-100000.safetensors");
}

TEST_CASE("the index text is json.dumps(index, indent=2, sort_keys=True) with a newline") {
  auto text = internal::shard_index_json({{"b", "m-00002-of-00002.safetensors"},
                                          {"a", "m-00001-of-00002.safetensors"},
                                          {"\xc3\xa9\xf0\x9f\x98\x80\"\x7f", "m-00001-of-00002.safetensors"}},
                                         12);
  REQUIRE(text.ok());
  // What Python prints for the same dict.
  CHECK(*text ==
        "{\n  \"metadata\": {\n    \"total_size\": 12\n  },\n  \"weight_map\": {\n"
        "    \"a\": \"m-00001-of-00002.safetensors\",\n"
        "    \"b\": \"m-00002-of-00002.safetensors\",\n"
        "    \"\\u00e9\\ud83d\\ude00\\\"\\u007f\": \"m-00001-of-00002.safetensors\"\n  }\n}\n");
  CHECK(internal::shard_index_json({{"\xff", "x"}}, 1).code() == ErrorCode::kBadUtf8);
}

TEST_CASE("the corpus model written as a shard set reads back with the source's weights digest") {
  if (!std::filesystem::exists(kWhole)) return;
  auto source = open_source(kWhole);
  REQUIRE(source.ok());
  const Sha256Digest expected = compute_weights_digest(**source).value();
  TempDir dir;
  ConvertOptions options;
  options.max_shard_bytes = 1000;
  options.license = test::test_license();  // model information goes into every shard
  auto report = convert(**source, dir / "model.safetensors", Format::kSafetensors, options);
  REQUIRE_MESSAGE(report.ok(), report.error().to_string());
  CHECK(report->checked);
  CHECK(report->weights_digest == expected);
  CHECK(report->tensor_count == 36);
  const auto plan = internal::plan_shards(**source, 1000);
  REQUIRE(plan.size() >= 2);
  REQUIRE(report->files.size() == plan.size() + 1);
  CHECK(report->files.back() == dir / "model.safetensors.index.json");
  for (std::size_t k = 0; k < plan.size(); ++k)
    CHECK(report->files[k] == internal::shard_path(dir / "model.safetensors", k, plan.size()));
  CHECK(!std::filesystem::exists(dir / "model.safetensors"));
  CHECK(directory_listing(dir.path()).size() == plan.size() + 1);  // no temporary file left

  auto set = open_source(dir / "model.safetensors.index.json");
  REQUIRE_MESSAGE(set.ok(), set.error().to_string());
  CHECK(compute_weights_digest(**set).value() == expected);
  CHECK(digest_of(dir.path()) == expected);
  CHECK((*set)->notes().empty());  // every shard carries the same model information
  CHECK(check_index(dir / "model.safetensors.index.json", **source).size() == plan.size());
  // Each shard holds the tensors of its plan, and the model information a
  // single file would.
  auto single = convert(**source, dir / "single.safetensors", Format::kSafetensors,
                        ConvertOptions{.license = test::test_license()});
  REQUIRE(single.ok());
  const ModelInfo single_info = (*open_source(dir / "single.safetensors"))->info();
  CHECK(single_info.license);
  for (std::size_t k = 0; k < plan.size(); ++k) {
    auto shard = open_source(report->files[k]);
    REQUIRE(shard.ok());
    CHECK((*shard)->tensor_count() == plan[k].size());
    CHECK((*shard)->info() == single_info);
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < (*shard)->tensor_count(); ++i) bytes += (*shard)->tensor(i).logical_bytes;
    CHECK((bytes <= 1000 || (*shard)->tensor_count() == 1));
  }
}

TEST_CASE("the corpus's 6-shard checkpoint, through one OWF file, back to a shard set: the same weights") {
  if (!std::filesystem::exists(kShardedIndex)) return;
  auto sharded = open_source(kShardedIndex);
  REQUIRE(sharded.ok());
  const Sha256Digest expected = compute_weights_digest(**sharded).value();
  TempDir dir;
  auto owf = convert(**sharded, dir / "model.owf", Format::kOwf, ConvertOptions{.license = test::test_license()});
  REQUIRE_MESSAGE(owf.ok(), owf.error().to_string());
  CHECK(owf->weights_digest == expected);
  auto file = open_source(dir / "model.owf");
  REQUIRE(file.ok());
  std::filesystem::create_directory(dir / "out");
  auto report =
      convert(**file, dir / "out" / "model.safetensors", Format::kSafetensors, ConvertOptions{.max_shard_bytes = 700});
  REQUIRE_MESSAGE(report.ok(), report.error().to_string());
  CHECK(report->weights_digest == expected);
  CHECK(report->files.size() > 2);
  CHECK(digest_of(dir / "out" / "model.safetensors.index.json") == expected);
  check_index(dir / "out" / "model.safetensors.index.json", **sharded);
  // And straight from the set to another set.
  auto again =
      convert(**sharded, dir / "again.safetensors", Format::kSafetensors, ConvertOptions{.max_shard_bytes = 2000});
  REQUIRE(again.ok());
  CHECK(digest_of(dir / "again.safetensors.index.json") == expected);
}

TEST_CASE("sharding with tensors chosen and cast, and a plan of one shard") {
  if (!std::filesystem::exists(kWhole)) return;
  auto source = open_source(kWhole);
  REQUIRE(source.ok());
  TempDir dir;
  SUBCASE("include and cast: the transformed tensors are sharded") {
    ConvertOptions options;
    options.include = {"float*"};
    options.exclude = {"float64*"};
    options.cast_to = DType::kF16;
    options.max_shard_bytes = 100;
    auto report = convert(**source, dir / "m.safetensors", Format::kSafetensors, options);
    REQUIRE_MESSAGE(report.ok(), report.error().to_string());
    CHECK(report->files.size() > 2);
    auto set = open_source(dir / "m.safetensors.index.json");
    REQUIRE(set.ok());
    CHECK((*set)->tensor_count() == report->tensor_count);
    CHECK(report->left_out == 36 - report->tensor_count);
    CHECK(compute_weights_digest(**set).value() == report->weights_digest);
    for (std::size_t i = 0; i < (*set)->tensor_count(); ++i) CHECK((*set)->tensor(i).dtype == DType::kF16);
    check_index(dir / "m.safetensors.index.json", **set);
  }
  SUBCASE("everything fits: one ordinary file, no index") {
    auto report =
        convert(**source, dir / "m.safetensors", Format::kSafetensors, ConvertOptions{.max_shard_bytes = 1u << 20});
    REQUIRE(report.ok());
    CHECK(report->files == std::vector<std::filesystem::path>{dir / "m.safetensors"});
    CHECK(directory_listing(dir.path()) == std::vector<std::string>{"m.safetensors"});
  }
  SUBCASE("other formats refuse a shard size") {
    ConvertOptions options{.license = test::test_license(), .max_shard_bytes = 100};
    CHECK(convert(**source, dir / "m.npz", Format::kNpz, options).code() == ErrorCode::kUnsupported);
    CHECK(directory_listing(dir.path()).empty());
  }
}

TEST_CASE("a shard set appears complete or not at all") {
  TempDir dir;
  const auto target = dir / "model.safetensors";
  // 16-byte tensors a and b fill shard 1; c (32 bytes) is shard 2, and its
  // read fails past byte 16.
  const FakeSource failing({f32("c", 8), f32("a", 4), f32("b", 4)}, true, 16);
  const FakeSource good({f32("c", 8), f32("a", 4), f32("b", 4)}, true);
  ConvertOptions options;
  options.max_shard_bytes = 32;

  SUBCASE("a read failing in the second shard leaves no file of the set") {
    auto report = convert(failing, target, Format::kSafetensors, options);
    REQUIRE(!report.ok());
    CHECK(report.code() == ErrorCode::kIoError);
    CHECK(report.error().message().find("shard 2 of 2 (" + (dir / "model-00002-of-00002.safetensors").string() + ")") !=
          std::string::npos);
    CHECK(directory_listing(dir.path()).empty());
  }
  SUBCASE("an existing name is refused before anything is written") {
    options.write.overwrite = false;
    for (const std::string name :
         {"model-00002-of-00002.safetensors", "model.safetensors.index.json", "model.safetensors"}) {
      CAPTURE(name);
      std::ofstream(dir / name) << "old";
      auto report = convert(good, target, Format::kSafetensors, options);
      CHECK(report.code() == ErrorCode::kAlreadyExists);
      CHECK(report.error().message().find(name) != std::string::npos);
      CHECK(directory_listing(dir.path()) == std::vector<std::string>{name});
      CHECK(read_text(dir / name) == "old");
      std::filesystem::remove(dir / name);
    }
  }
  SUBCASE("a directory under a shard's name is never replaced") {
    std::filesystem::create_directory(dir / "model-00001-of-00002.safetensors");
    options.write.overwrite = true;
    auto report = convert(good, target, Format::kSafetensors, options);
    CHECK(report.code() == ErrorCode::kInvalidArgument);
    CHECK(directory_listing(dir.path()) == std::vector<std::string>{"model-00001-of-00002.safetensors"});
  }
  SUBCASE("with overwrite, an old set and a single file under the target's name are replaced") {
    std::ofstream(dir / "model.safetensors.index.json") << "{}";
    std::ofstream(dir / "model-00001-of-00002.safetensors") << "old";
    std::ofstream(target) << "old";
    options.write.overwrite = true;
    auto report = convert(good, target, Format::kSafetensors, options);
    REQUIRE_MESSAGE(report.ok(), report.error().to_string());
    CHECK(directory_listing(dir.path()) == std::vector<std::string>{"model-00001-of-00002.safetensors",
                                                                    "model-00002-of-00002.safetensors",
                                                                    "model.safetensors.index.json"});
    CHECK(digest_of(dir / "model.safetensors.index.json") == compute_weights_digest(good).value());
  }
  SUBCASE("with overwrite, a failure removes the old index first: no mixture of old and new shards") {
    std::ofstream(dir / "model.safetensors.index.json") << "{}";
    options.write.overwrite = true;
    auto report = convert(failing, target, Format::kSafetensors, options);
    CHECK(!report.ok());
    CHECK(directory_listing(dir.path()).empty());
  }
  SUBCASE("ShardSetOutput destroyed before commit removes what it wrote") {
    {
      auto set = internal::ShardSetOutput::create({dir / "a", dir / "b"}, dir / "i", {.replace = false});
      REQUIRE(set.ok());
      CHECK(set->write_shard(0,
                             [](const std::filesystem::path& p) -> Status {
                               std::ofstream(p) << "x";
                               return {};
                             })
                .ok());
      CHECK(directory_listing(dir.path()) == std::vector<std::string>{"a"});
    }
    CHECK(directory_listing(dir.path()).empty());
  }
  SUBCASE("a failing index removes the shards, and the error names the index") {
    auto set = internal::ShardSetOutput::create({dir / "a", dir / "b"}, dir / "i", {.replace = false});
    REQUIRE(set.ok());
    const auto write = [](const std::filesystem::path& p) -> Status {
      std::ofstream(p) << "x";
      return {};
    };
    REQUIRE(set->write_shard(0, write).ok());
    REQUIRE(set->write_shard(1, write).ok());
    CHECK(set->written() == std::vector<std::filesystem::path>{dir / "a", dir / "b"});
    const Status s = set->write_index(
        [](const std::filesystem::path&) -> Status { return Error(ErrorCode::kIoError, "disk full"); });
    REQUIRE(!s.ok());
    CHECK(s.error().message() == "index " + (dir / "i").string() + ": disk full");
    CHECK(directory_listing(dir.path()).empty());
  }
}

TEST_CASE("attack: replacing a set that fails part-way leaves the old shards as they were") {
  TempDir dir;
  const auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto write_new = [](const std::filesystem::path& p) -> Status {
    std::ofstream(p.string() + ".tmp") << "new";
    std::filesystem::rename(p.string() + ".tmp", p);  // as OutputFile does
    return {};
  };
  for (const char* name : {"a", "b", "c"}) std::ofstream(dir / name) << "old " << name;
  SUBCASE("a failing shard") {
    auto set = internal::ShardSetOutput::create({dir / "a", dir / "b", dir / "c"}, {}, {.replace = true});
    REQUIRE(set.ok());
    REQUIRE(set->write_shard(0, write_new).ok());
    CHECK(read(dir / "a") == "new");
    const Status s =
        set->write_shard(1, [](const std::filesystem::path&) -> Status { return Error(ErrorCode::kIoError, "full"); });
    REQUIRE(!s.ok());
  }
  SUBCASE("destroyed before commit") {
    auto set = internal::ShardSetOutput::create({dir / "a", dir / "b", dir / "c"}, {}, {.replace = true});
    REQUIRE(set.ok());
    REQUIRE(set->write_shard(0, write_new).ok());
    REQUIRE(set->write_shard(1, write_new).ok());
  }
  CHECK(read(dir / "a") == "old a");
  CHECK(read(dir / "b") == "old b");
  CHECK(read(dir / "c") == "old c");
  CHECK(directory_listing(dir.path()) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("attack: a replaced set, once committed, keeps no old shard aside") {
  TempDir dir;
  for (const char* name : {"a", "b"}) std::ofstream(dir / name) << "old";
  {
    auto set = internal::ShardSetOutput::create({dir / "a", dir / "b"}, {}, {.replace = true});
    REQUIRE(set.ok());
    const auto write_new = [](const std::filesystem::path& p) -> Status {
      std::ofstream(p.string() + ".tmp") << "new";
      std::filesystem::rename(p.string() + ".tmp", p);
      return {};
    };
    REQUIRE(set->write_shard(0, write_new).ok());
    REQUIRE(set->write_shard(1, write_new).ok());
    set->commit();
  }
  CHECK(directory_listing(dir.path()) == std::vector<std::string>{"a", "b"});
}
