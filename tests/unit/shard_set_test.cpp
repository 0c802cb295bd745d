// Hugging Face shard sets (an index.json and its shards) read as one Source,
// and every way an index and its shards can disagree.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;
const std::filesystem::path kSharded = kCorpus / "SafeTensors.jl" / "sharded";

// A copy of the corpus's 6-shard checkpoint whose index is `index`.
void shard_copy(const TempDir& dir, const std::string& index) {
  for (const auto& entry : std::filesystem::directory_iterator(kSharded))
    if (entry.path().extension() == ".safetensors")
      std::filesystem::copy_file(entry.path(), dir / entry.path().filename().string());
  std::ofstream(dir / "model.safetensors.index.json") << index;
}

std::string corpus_index() {
  std::ifstream in(kSharded / "model.safetensors.index.json");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Error open_error(const std::filesystem::path& path) {
  auto s = open_source(path);
  REQUIRE(!s.ok());
  return s.error();
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the corpus's 6-shard checkpoint reads as one model with the unsharded file's weights digest") {
  if (!std::filesystem::exists(kSharded)) return;
  auto whole = open_source(kCorpus / "SafeTensors.jl" / "model.safetensors");
  REQUIRE(whole.ok());
  for (const auto& path : {kSharded, kSharded / "model.safetensors.index.json"}) {
    CAPTURE(path);
    auto set = open_source(path);
    REQUIRE_MESSAGE(set.ok(), set.error().to_string());
    CHECK((*set)->format() == Format::kSafetensors);
    CHECK((*set)->tensor_count() == 36);
    CHECK((*set)->files().size() == 7);
    CHECK((*set)->ranged_reads());
    CHECK(compute_weights_digest(**set).value() == compute_weights_digest(**whole).value());
    CHECK(detect_format(path).value() == Format::kSafetensors);
    for (std::size_t i = 1; i < (*set)->tensor_count(); ++i) CHECK((*set)->tensor(i - 1).name < (*set)->tensor(i).name);
  }
}

TEST_CASE("an index and its shards must agree, and shards stay in the index's directory") {
  if (!std::filesystem::exists(kSharded)) return;
  const std::string index = corpus_index();
  TempDir dir;
  const auto path = dir / "model.safetensors.index.json";
  SUBCASE("a copy opens") {
    shard_copy(dir, index);
    CHECK(open_source(dir.path()).ok());
  }
  SUBCASE("a missing shard") {
    shard_copy(dir, index);
    std::filesystem::remove(dir / "model-00003-of-00006.safetensors");
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kIoError);
    CHECK(e.message().find("shard 'model-00003-of-00006.safetensors'") != std::string::npos);
  }
  SUBCASE("a shard name with a directory part") {
    shard_copy(dir, replaced(index, "\"float16_3\": \"model-00001-of-00006.safetensors\"",
                             "\"float16_3\": \"../model-00001-of-00006.safetensors\""));
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(e.message().find("plain file name") != std::string::npos);
    CHECK(e.message().find("'float16_3'") != std::string::npos);
  }
  SUBCASE("an absolute shard name") {
    shard_copy(
        dir, replaced(index, "\"float16_3\": \"model-00001-of-00006.safetensors\"", "\"float16_3\": \"/etc/passwd\""));
    CHECK(open_error(path).code() == ErrorCode::kForeignFormatInvalid);
  }
  SUBCASE("a tensor the index places in another shard (shards swapped)") {
    shard_copy(dir, replaced(index, "\"float16_3\": \"model-00001-of-00006.safetensors\"",
                             "\"float16_3\": \"model-00002-of-00006.safetensors\""));
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(e.message().find("index places in shard 'model-00002-of-00006.safetensors'") != std::string::npos);
  }
  SUBCASE("a tensor in a shard that the index does not list") {
    shard_copy(dir, replaced(index, "\"float16_3\": \"model-00001-of-00006.safetensors\",", ""));
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(e.message().find("'float16_3', which the index does not list") != std::string::npos);
  }
  SUBCASE("a tensor the index lists that no shard holds") {
    shard_copy(
        dir, replaced(index, "\"weight_map\": {", "\"weight_map\": {\"ghost\": \"model-00002-of-00006.safetensors\","));
    const Error e = open_error(path);
    CHECK(e.message().find("'ghost' in shard 'model-00002-of-00006.safetensors', which does not hold it") !=
          std::string::npos);
  }
  SUBCASE("a tensor listed twice") {
    shard_copy(dir, replaced(index, "\"weight_map\": {",
                             "\"weight_map\": {\"float16_3\": \"model-00002-of-00006.safetensors\","));
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(e.message().find("lists tensor 'float16_3' more than once") != std::string::npos);
  }
  SUBCASE("not JSON, or JSON without a weight_map") {
    shard_copy(dir, "{\"weight_map\": ");
    CHECK(open_error(path).message().find("not a JSON index") != std::string::npos);
    std::ofstream(path) << "{\"metadata\": {}}";
    CHECK(open_error(path).message().find("\"weight_map\"") != std::string::npos);
    std::ofstream(path) << "{\"weight_map\": {\"a\": 3}}";
    CHECK(open_error(path).code() == ErrorCode::kForeignFormatInvalid);
  }
  SUBCASE("JSON that is not the index's shape, read in linear time and bounded memory") {
    shard_copy(dir, "[1, 2]");
    CHECK(open_error(path).message().find("must be a JSON object") != std::string::npos);
    std::ofstream(path) << "{\"weight_map\": {}, \"weight_map\": {}}";
    CHECK(open_error(path).message().find("\"weight_map\" appears twice") != std::string::npos);
    std::ofstream(path) << "{\"metadata\": " << std::string(100, '[') << std::string(100, ']') << "}";
    CHECK(open_error(path).message().find("nested more than 64 levels") != std::string::npos);
    std::ofstream(path) << "{\"metadata\": {\"total_size\": 1e999999}, \"weight_map\": {}}";
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(e.message().find("not a JSON index (at byte") != std::string::npos);
    // 200,000 empty objects before the weight_map: quadratic parsing would
    // take minutes here.
    std::string many = "{\"metadata\": [";
    for (int i = 0; i < 200000; ++i) many += i ? ",{}" : "{}";
    std::ofstream(path) << many << "], " << index.substr(index.find("\"weight_map\""));
    CHECK(open_source(path).ok());
  }
  SUBCASE("a shard of another format") {
    shard_copy(dir, index);
    std::filesystem::remove(dir / "model-00002-of-00006.safetensors");
    std::filesystem::copy_file(kCorpus / "numpy" / "python3.npy", dir / "model-00002-of-00006.safetensors");
    const Error e = open_error(path);
    CHECK(e.code() == ErrorCode::kForeignFormatInvalid);
    CHECK(e.message().find("is a npy file; the set's shards are safetensors files") != std::string::npos);
  }
  SUBCASE("a directory without an index") {
    const Error e = open_error(dir.path());
    CHECK(e.code() == ErrorCode::kIoError);
    CHECK(e.message().find("no *.index.json") != std::string::npos);
  }
  SUBCASE("a directory with two indexes") {
    shard_copy(dir, index);
    std::ofstream(dir / "other.safetensors.index.json") << index;
    const Error e = open_error(dir.path());
    CHECK(e.code() == ErrorCode::kInvalidArgument);
    CHECK(e.message().find("several shard indexes") != std::string::npos);
  }
}
