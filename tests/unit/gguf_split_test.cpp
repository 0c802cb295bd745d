// GGUF split sets (NAME-00001-of-00003.gguf ..., as llama.cpp's gguf-split
// writes them) read as one Source from any of their splits, and every way a
// set can be broken, one refusal each.
#include "formats/gguf/gguf_split.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fake_source.hpp"
#include "formats/formats.hpp"
#include "owf/owf.hpp"
#include "tensor_selection.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

using owf::test::FakeSource;
using owf::test::FakeTensor;

// F32 tensors whose bytes differ from tensor to tensor.
std::vector<FakeTensor> model_tensors() {
  return {{"token_embd.weight", DType::kF32, {6, 4}, 0, 1},   {"blk.0.attn_q.weight", DType::kF32, {4, 4}, 1, 2},
          {"blk.0.ffn_up.weight", DType::kF32, {8, 4}, 2, 3}, {"blk.0.ffn_down.weight", DType::kF32, {4, 8}, 3, 4},
          {"output_norm.weight", DType::kF32, {4}, 4, 5},     {"output.weight", DType::kF32, {6, 4}, 5, 6}};
}

FakeSource model(std::vector<FakeTensor> tensors, ModelInfo info) {
  return FakeSource(std::move(tensors), true, UINT64_MAX, std::move(info));
}

ModelInfo model_info() {
  ModelInfo info;
  info.provenance.architecture = "llama";
  info.provenance.name = "tiny";
  info.license = owf::test::test_license();
  info.hyperparameters["llama.block_count"] = Value(std::int64_t{1}, IntType::kU32);
  info.hyperparameters["llama.context_length"] = Value(std::int64_t{128}, IntType::kU32);
  return info;
}

// The tensors of each split: 2, 3 and 1 of the 6, in order.
const std::vector<std::vector<std::size_t>> kSplits = {{0, 1}, {2, 3, 4}, {5}};

struct SplitKeyValues {
  std::int64_t no, count, tensors;
  IntType count_type = IntType::kU16;
};

void add_split_keys(ModelInfo& info, const SplitKeyValues& k) {
  info.hyperparameters["split.no"] = Value(k.no, IntType::kU16);
  info.hyperparameters["split.count"] = Value(k.count, k.count_type);
  info.hyperparameters["split.tensors.count"] = Value(k.tensors, IntType::kI32);
}

void write(const Source& s, const std::filesystem::path& path) {
  const Status st = internal::write_gguf(s, path, 0);
  REQUIRE_MESSAGE(st.ok(), st.error().to_string());
}

/// Writes split `i` of the set under `dir`, named PREFIX-0000i-of-00003.gguf:
/// the model's pairs and the split keys in the first split, only the split
/// keys in the others (as gguf-split does).
void write_split(const TempDir& dir, std::size_t i, const std::vector<std::size_t>& which,
                 std::optional<SplitKeyValues> keys = std::nullopt, std::string name = "") {
  const auto all = model_tensors();
  std::vector<FakeTensor> tensors;
  for (std::size_t t : which) tensors.push_back(all[t]);
  ModelInfo info = i == 0 ? model_info() : ModelInfo{};
  add_split_keys(info, keys ? *keys : SplitKeyValues{static_cast<std::int64_t>(i), 3, 6});
  if (name.empty()) name = internal::gguf::split_path("model", static_cast<std::uint32_t>(i), 3);
  write(model(std::move(tensors), std::move(info)), dir / name);
}

void write_set(const TempDir& dir) {
  for (std::size_t i = 0; i < kSplits.size(); ++i) write_split(dir, i, kSplits[i]);
}

std::filesystem::path split_file(const TempDir& dir, std::uint32_t i) {
  return dir / internal::gguf::split_path("model", i, 3);
}

Error open_error(const std::filesystem::path& path) {
  auto s = open_source(path);
  REQUIRE(!s.ok());
  return s.error();
}

void expect_invalid(const std::filesystem::path& path, std::initializer_list<std::string_view> needles,
                    ErrorCode code = ErrorCode::kForeignFormatInvalid) {
  const Error e = open_error(path);
  CHECK_MESSAGE(e.code() == code, e.to_string());
  for (auto needle : needles) CHECK_MESSAGE(e.message().find(needle) != std::string::npos, e.to_string());
}

}  // namespace

TEST_CASE("llama_split_path names: PREFIX-%05d-of-%05d.gguf, counted from 1") {
  CHECK(internal::gguf::split_path("/m/ggml-model-q4_0", 1, 4) == "/m/ggml-model-q4_0-00002-of-00004.gguf");
  CHECK(internal::gguf::split_path("x", 0, 65535) == "x-00001-of-65535.gguf");
}

TEST_CASE("a GGUF split set opens as one Source from any split, with the unsplit file's digest and information") {
  TempDir dir;
  write_set(dir);
  write(model(model_tensors(), model_info()), dir / "whole.gguf");
  auto whole = open_source(dir / "whole.gguf");
  REQUIRE_MESSAGE(whole.ok(), whole.error().to_string());
  const Sha256Digest digest = compute_weights_digest(**whole).value();

  for (std::uint32_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto set = open_source(split_file(dir, i));
    REQUIRE_MESSAGE(set.ok(), set.error().to_string());
    const Source& s = **set;
    CHECK(s.format() == Format::kGguf);
    CHECK(s.tensor_count() == 6);
    for (std::size_t t = 1; t < s.tensor_count(); ++t) CHECK(s.tensor(t - 1).name < s.tensor(t).name);
    CHECK(compute_weights_digest(s).value() == digest);
    // The first split's pairs without split.*, and the tensor order of the
    // whole: exactly what the unsplit file holds.
    CHECK(s.info() == (*whole)->info());
    CHECK(s.info().hyperparameters.count("split.count") == 0);
    CHECK(s.info().metadata.at("gguf.kv_order").find("split.") == std::string::npos);
    CHECK(s.notes().empty());
    REQUIRE(s.files().size() == 3);
    for (std::uint32_t k = 0; k < 3; ++k) CHECK(s.files()[k] == split_file(dir, k));
    CHECK(s.ranged_reads());
    // Reads go to the right split.
    const auto idx = s.find("output.weight").value();
    std::vector<std::byte> bytes(s.tensor(idx).logical_bytes);
    REQUIRE(s.read(idx, bytes).ok());
    CHECK(bytes[0] == std::byte{6});  // output.weight's salt: its own bytes
  }

  // Merged back into one GGUF file (what gguf-split --merge does): the
  // unsplit file, byte for byte.
  auto set = open_source(split_file(dir, 1));
  REQUIRE(set.ok());
  write(**set, dir / "merged.gguf");
  CHECK(owf::test::slurp(dir / "merged.gguf") == owf::test::slurp(dir / "whole.gguf"));
  CHECK(detect_format(split_file(dir, 2)).value() == Format::kGguf);

  // The single-file reader still reads one split alone, keys and all, and says so.
  auto one = internal::open_gguf(split_file(dir, 1), {});
  REQUIRE(one.ok());
  CHECK((*one)->tensor_count() == 3);
  CHECK((*one)->info().hyperparameters.count("split.no") == 1);
  REQUIRE(!(*one)->notes().empty());
  CHECK((*one)->notes().front().find("split 2 of a GGUF split set of 3 files") != std::string::npos);
}

TEST_CASE("GGUF files with split.count 0 or 1 open as single files, keys and all") {
  TempDir dir;
  for (std::int64_t count : {0, 1}) {
    CAPTURE(count);
    ModelInfo info = model_info();
    add_split_keys(info, {0, count, 6});
    // Named like a split, or not: neither matters.
    for (const char* name : {"merged.gguf", "model-00001-of-00001.gguf"}) {
      write(model(model_tensors(), info), dir / name);
      auto s = open_source(dir / name);
      REQUIRE_MESSAGE(s.ok(), s.error().to_string());
      CHECK((*s)->tensor_count() == 6);
      CHECK((*s)->info().hyperparameters.at("split.count") == Value(count, IntType::kU16));
      CHECK((*s)->files().empty());
    }
  }
}

TEST_CASE("GGUF split sets: one refusal per defect") {
  TempDir dir;
  SUBCASE("a missing split is named") {
    write_set(dir);
    std::filesystem::remove(split_file(dir, 2));
    for (std::uint32_t i = 0; i < 2; ++i)
      expect_invalid(split_file(dir, i), {"split 3 of 3", "model-00003-of-00003.gguf", "is missing"});
  }
  SUBCASE("a split whose split.no is not its place in the name") {
    write_split(dir, 0, kSplits[0]);
    write_split(dir, 1, kSplits[1], SplitKeyValues{2, 3, 6});
    write_split(dir, 2, kSplits[2]);
    expect_invalid(split_file(dir, 0), {"model-00002-of-00003.gguf", "'split.no'", "= 2", "split.no 1"});
    // Opened itself, the name and the keys disagree.
    expect_invalid(split_file(dir, 1), {"the name says split 2 of 3", "split 3 of 3"});
  }
  SUBCASE("splits that disagree on split.count") {
    write_split(dir, 0, kSplits[0]);
    write_split(dir, 1, kSplits[1], SplitKeyValues{1, 4, 6});
    write_split(dir, 2, kSplits[2]);
    expect_invalid(split_file(dir, 0), {"model-00002-of-00003.gguf", "'split.count'", "= 4", "say 3"});
  }
  SUBCASE("a split that is no split: split.count 1") {
    write_split(dir, 0, kSplits[0]);
    write_split(dir, 1, kSplits[1], SplitKeyValues{1, 1, 6});
    write_split(dir, 2, kSplits[2]);
    expect_invalid(split_file(dir, 2), {"model-00002-of-00003.gguf", "is no split of a set", "'split.count'"});
  }
  SUBCASE("splits that disagree on split.tensors.count") {
    write_split(dir, 0, kSplits[0]);
    write_split(dir, 1, kSplits[1]);
    write_split(dir, 2, kSplits[2], SplitKeyValues{2, 3, 7});
    expect_invalid(split_file(dir, 0), {"model-00003-of-00003.gguf", "'split.tensors.count'", "= 7", "says 6"});
  }
  SUBCASE("a union with another number of tensors than split.tensors.count") {
    for (std::uint32_t i = 0; i < 3; ++i) write_split(dir, i, kSplits[i], SplitKeyValues{i, 3, 7});
    expect_invalid(split_file(dir, 1), {"the 3 splits hold 6 tensors, but split.tensors.count is 7"});
    // Too many: found without reading the splits after the one that tips it over.
    for (std::uint32_t i = 0; i < 3; ++i) write_split(dir, i, kSplits[i], SplitKeyValues{i, 3, 4});
    std::filesystem::remove(split_file(dir, 2));
    expect_invalid(split_file(dir, 0),
                   {"the first 2 of 3 splits already hold 5 tensors, but split.tensors.count is 4"});
  }
  SUBCASE("a tensor in two splits") {
    // 7 tensors in the files, as split.tensors.count says, 6 names.
    write_split(dir, 0, kSplits[0], SplitKeyValues{0, 3, 7});
    write_split(dir, 1, {1, 2, 3}, SplitKeyValues{1, 3, 7});
    write_split(dir, 2, {4, 5}, SplitKeyValues{2, 3, 7});
    expect_invalid(split_file(dir, 2),
                   {"tensor 'blk.0.attn_q.weight' is in split 'model-00001-of-00003.gguf' and in split "
                    "'model-00002-of-00003.gguf'"});
  }
  SUBCASE("a split whose name does not follow llama.cpp's pattern") {
    write_split(dir, 0, kSplits[0], std::nullopt, "model-part1.gguf");
    expect_invalid(dir / "model-part1.gguf", {"model-part1.gguf", "does not end in", "'-00001-of-00003.gguf'"});
    for (const char* name : {"model-1-of-3.gguf", "model-000001-of-00003.gguf", "-00001-of-00003.gguf",
                             "model-00001-of-00003.GGUF", "model-00001_of-00003.gguf"}) {
      CAPTURE(name);
      write_split(dir, 0, kSplits[0], std::nullopt, name);
      // The prefix is a path's: "dir/-00001-of-00003.gguf" has one (as for llama_split_prefix).
      if (std::string_view(name).starts_with("-")) {
        expect_invalid(dir / name, {"split 2 of 3", "is missing"});
        continue;
      }
      expect_invalid(dir / name, {"does not end in"});
    }
  }
  SUBCASE("split keys of other types than llama.cpp writes") {
    SplitKeyValues k{0, 3, 6};
    k.count_type = IntType::kU32;
    write_split(dir, 0, kSplits[0], k);
    expect_invalid(split_file(dir, 0), {"'split.count'", "must have type u16, not u32"});
  }
  SUBCASE("a split without split.no, or with a negative split.tensors.count") {
    ModelInfo info = model_info();
    info.hyperparameters["split.count"] = Value(std::int64_t{3}, IntType::kU16);
    info.hyperparameters["split.tensors.count"] = Value(std::int64_t{6}, IntType::kI32);
    write(model({model_tensors()[0]}, info), split_file(dir, 0));
    expect_invalid(split_file(dir, 0), {"without the key 'split.no'"});
    info.hyperparameters["split.no"] = Value(std::int64_t{0}, IntType::kU16);
    info.hyperparameters["split.tensors.count"] = Value(std::int64_t{-1}, IntType::kI32);
    write(model({model_tensors()[0]}, info), split_file(dir, 0));
    expect_invalid(split_file(dir, 0), {"'split.tensors.count'", "is negative (-1)"});
  }
  SUBCASE("split.no outside the set") {
    write_split(dir, 0, kSplits[0], SplitKeyValues{3, 3, 6});
    expect_invalid(split_file(dir, 0), {"'split.no'", "not below split.count = 3"});
  }
  SUBCASE("split.tensors.count above the reader's tensor limit") {
    write_split(dir, 0, kSplits[0]);
    Limits limits;
    limits.max_tensors = 5;
    auto s = open_source(split_file(dir, 0), std::nullopt, limits);
    REQUIRE(!s.ok());
    CHECK_MESSAGE(s.code() == ErrorCode::kLimitExceeded, s.error().to_string());
  }
  SUBCASE("a later split with model information of its own is read, with a note") {
    write_set(dir);
    const auto all = model_tensors();
    ModelInfo info = model_info();
    info.provenance.name = "other";
    add_split_keys(info, {2, 3, 6});
    write(model({all[5]}, info), split_file(dir, 2));
    auto s = open_source(split_file(dir, 0));
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(s.value()->info().provenance.name == "tiny");
    REQUIRE(s.value()->notes().size() == 1);
    CHECK(s.value()->notes()[0].find("split 'model-00003-of-00003.gguf' carries other model information") !=
          std::string::npos);
  }
}

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto nl = std::min(text.find('\n', at), text.size());
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

/// The model written by the GGUF writer as a set of splits PREFIX-0000i-of-0000n.gguf.
void write_splits(const TempDir& dir, const std::string& prefix, const std::vector<std::vector<std::size_t>>& splits,
                  std::uint64_t alignment) {
  const auto all = model_tensors();
  const auto count = static_cast<std::uint16_t>(splits.size());
  for (std::uint16_t i = 0; i < count; ++i) {
    std::vector<FakeTensor> tensors;
    for (std::size_t t : splits[i]) tensors.push_back(all[t]);
    const Status st = internal::write_gguf(model(std::move(tensors), model_info()),
                                           dir / internal::gguf::split_path(prefix, i, count), alignment, {},
                                           internal::GgufSplit{i, count, static_cast<std::int32_t>(all.size())});
    REQUIRE_MESSAGE(st.ok(), st.error().to_string());
  }
}

}  // namespace

TEST_CASE("the GGUF writer writes splits as gguf-split does, and they open as one Source") {
  TempDir dir;
  write(model(model_tensors(), model_info()), dir / "whole.gguf");
  auto whole = open_source(dir / "whole.gguf");
  REQUIRE(whole.ok());
  write_splits(dir, "w", kSplits, 0);
  // The first split: the model's pairs, then the split keys; the others:
  // the split keys alone.
  auto first = internal::open_gguf(dir / "w-00001-of-00003.gguf", {});
  REQUIRE(first.ok());
  const auto first_keys = lines((*first)->info().metadata.at("gguf.kv_order"));
  REQUIRE(first_keys.size() == 8);
  CHECK(std::vector(first_keys.end() - 3, first_keys.end()) ==
        std::vector<std::string>{"split.no", "split.count", "split.tensors.count"});
  CHECK((*first)->info().hyperparameters.at("split.tensors.count") == Value(std::int64_t{6}, IntType::kI32));
  auto second = internal::open_gguf(dir / "w-00002-of-00003.gguf", {});
  REQUIRE(second.ok());
  CHECK(lines((*second)->info().metadata.at("gguf.kv_order")) ==
        std::vector<std::string>{"split.no", "split.count", "split.tensors.count"});
  CHECK((*second)->info().hyperparameters.at("split.no") == Value(std::int64_t{1}, IntType::kU16));
  CHECK((*second)->info().provenance.name.empty());

  for (std::uint32_t i = 0; i < 3; ++i) {
    auto set = open_source(dir / internal::gguf::split_path("w", i, 3));
    REQUIRE_MESSAGE(set.ok(), set.error().to_string());
    CHECK((*set)->tensor_count() == 6);
    CHECK(compute_weights_digest(**set).value() == compute_weights_digest(**whole).value());
    CHECK((*set)->info() == (*whole)->info());
    CHECK((*set)->notes().empty());
  }

  SUBCASE("a first split without tensors (gguf-split --no-tensor-first-split) and an alignment of 64") {
    write_splits(dir, "e", {{}, {0, 1, 2}, {3, 4, 5}}, 64);
    auto set = open_source(dir / "e-00003-of-00003.gguf");
    REQUIRE_MESSAGE(set.ok(), set.error().to_string());
    CHECK((*set)->tensor_count() == 6);
    CHECK((*set)->alignment() == 64);
    CHECK(compute_weights_digest(**set).value() == compute_weights_digest(**whole).value());
    auto last = internal::open_gguf(dir / "e-00003-of-00003.gguf", {});
    REQUIRE(last.ok());
    CHECK((*last)->alignment() == 64);
  }
  SUBCASE("an impossible split description is refused before anything is written") {
    const Status st = internal::write_gguf(model(model_tensors(), model_info()), dir / "bad-00003-of-00003.gguf", 0, {},
                                           internal::GgufSplit{3, 3, 6});
    CHECK(st.code() == ErrorCode::kInvalidArgument);
    CHECK(!std::filesystem::exists(dir / "bad-00003-of-00003.gguf"));
    const Status more = internal::write_gguf(model(model_tensors(), model_info()), dir / "bad-00001-of-00003.gguf", 0,
                                             {}, internal::GgufSplit{0, 3, 5});
    CHECK(more.code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("a corpus model split in three by the GGUF writer opens as the model, and merges back byte for byte") {
  const std::filesystem::path original =
      std::filesystem::path(OWF_CORPUS_DIR) / "python-gen-worker" / "stories260K.gguf";
  if (!std::filesystem::exists(original)) return;
  auto model_file = open_source(original);
  REQUIRE_MESSAGE(model_file.ok(), model_file.error().to_string());
  const Source& m = **model_file;
  REQUIRE(m.tensor_count() == 48);
  TempDir dir;
  for (std::uint16_t i = 0; i < 3; ++i) {
    std::vector<std::size_t> part;
    for (std::size_t t = 16u * i; t < 16u * (i + 1); ++t) part.push_back(t);  // GGUF sources are in file order
    const internal::SelectedSource split(m, std::move(part));
    const Status st = internal::write_gguf(split, dir / internal::gguf::split_path("stories260K", i, 3), 0, {},
                                           internal::GgufSplit{i, 3, 48});
    REQUIRE_MESSAGE(st.ok(), st.error().to_string());
  }
  auto set = open_source(dir / "stories260K-00002-of-00003.gguf");
  REQUIRE_MESSAGE(set.ok(), set.error().to_string());
  CHECK((*set)->tensor_count() == 48);
  CHECK(compute_weights_digest(**set).value() == compute_weights_digest(m).value());
  CHECK((*set)->info() == m.info());
  write(**set, dir / "merged.gguf");
  CHECK(owf::test::slurp(dir / "merged.gguf") == owf::test::slurp(original));
}
