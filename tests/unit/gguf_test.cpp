// GGUF reader and writer: the corpus files written by llama.cpp's tools,
// round trips through OWF, export of OWF files from other formats, and one
// handcrafted broken file per class of defect.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "fake_source.hpp"
#include "formats/formats.hpp"
#include "formats/gguf/gguf_format.hpp"
#include "formats/gguf/gguf_values.hpp"
#include "owf/convert.hpp"
#include "tensor_pieces.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;

std::vector<std::string> kv_order(const ModelInfo& info) {
  std::vector<std::string> keys;
  auto it = info.metadata.find("gguf.kv_order");
  if (it == info.metadata.end()) return keys;
  std::string_view rest = it->second;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    keys.emplace_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  return keys;
}

License license(std::string spdx) {
  License l;
  l.spdx = std::move(spdx);
  return l;
}

std::unique_ptr<Source> open_ok(const std::filesystem::path& path) {
  auto s = internal::open_gguf(path, {});
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(s).value();
}

std::vector<std::byte> read_tensor(const Source& s, std::size_t i) {
  std::vector<std::byte> bytes(s.tensor(i).logical_bytes);
  REQUIRE(s.read(i, bytes).ok());
  return bytes;
}

/// Writes every tensor of `source` into an OWF file, in source order.
void write_owf(const Source& source, const std::filesystem::path& path) {
  auto w = Writer::create(path);
  REQUIRE(w.ok());
  ModelInfo info = source.info();
  if (!info.license) info.license = license("NOASSERTION");
  auto st = w->set_info(info);
  REQUIRE_MESSAGE(st.ok(), st.error().to_string());
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    TensorSpec spec{std::string(t.name), t.dtype, {t.shape.begin(), t.shape.end()}, t.role};
    REQUIRE(w->add_tensor(spec, read_tensor(source, i)).ok());
  }
  auto done = w->finish();
  REQUIRE_MESSAGE(done.ok(), done.error().to_string());
}

struct CorpusFile {
  const char* path;
  std::size_t tensors;
  std::size_t kvs;
  std::uint32_t version;
  std::size_t q8_tensors;
};

constexpr CorpusFile kCorpusFiles[] = {
    {"llama.cpp/ggml-vocab-bert-bge.gguf", 0, 20, 3, 0},
    {"llama.cpp/ggml-vocab-gpt-2.gguf", 0, 16, 3, 0},
    {"llama.cpp/ggml-vocab-phi-3.gguf", 0, 26, 3, 0},
    {"python-gen-worker/stories260K.gguf", 48, 19, 3, 0},
    {"llama4j/tinyllamas-stories-260k-q8_0.gguf", 48, 20, 2, 37},
};

std::uint32_t version_of(const std::vector<std::byte>& file) {
  std::uint32_t v = 0;
  std::memcpy(&v, file.data() + 4, 4);
  return v;
}

}  // namespace

TEST_CASE("GGUF corpus files open with their tensors, keys and types") {
  for (const auto& cf : kCorpusFiles) {
    CAPTURE(cf.path);
    const auto path = kCorpus / cf.path;
    auto src = open_ok(path);
    CHECK(src->format() == Format::kGguf);
    CHECK(version_of(owf::test::slurp(path)) == cf.version);
    CHECK(src->tensor_count() == cf.tensors);
    CHECK(kv_order(src->info()).size() == cf.kvs);
    CHECK(src->alignment() == 32);
    std::size_t q8 = 0, f32 = 0;
    for (std::size_t i = 0; i < src->tensor_count(); ++i) {
      const TensorInfo t = src->tensor(i);
      q8 += t.dtype == DType::kQ8_0;
      f32 += t.dtype == DType::kF32;
      CHECK(t.logical_bytes == *tensor_byte_size(t.dtype, t.shape));
      CHECK(t.offset % 32 == 0);
    }
    CHECK(q8 == cf.q8_tensors);
    CHECK(f32 == cf.tensors - cf.q8_tensors);
  }

  SUBCASE("stories260K: shapes are row-major, u32 values keep their type") {
    auto src = open_ok(kCorpus / "python-gen-worker/stories260K.gguf");
    const auto& info = src->info();
    CHECK(info.provenance.name == "llama");
    CHECK(info.provenance.architecture == "llama");
    CHECK(!info.license);
    const Value& sep = info.hyperparameters.at("tokenizer.ggml.seperator_token_id");
    CHECK(sep == Value(std::int64_t{4294967295}, IntType::kU32));
    const Value& eps = info.hyperparameters.at("llama.attention.layer_norm_rms_epsilon");
    CHECK(eps.float_type == FloatType::kF32);
    CHECK(static_cast<float>(std::get<double>(eps.data)) == 1e-5f);
    const auto& tokens = std::get<std::vector<std::string>>(info.hyperparameters.at("tokenizer.ggml.tokens").data);
    CHECK(tokens.size() == 512);
    CHECK(tokens[1] == "<s>");
    const auto& scores = info.hyperparameters.at("tokenizer.ggml.scores");
    CHECK(scores.float_type == FloatType::kF32);
    CHECK(std::get<std::vector<double>>(scores.data).size() == 512);
    CHECK(info.hyperparameters.at("tokenizer.ggml.token_type").int_type == IntType::kI32);

    const TensorInfo embd = src->tensor(0);
    CHECK(embd.name == "token_embd.weight");
    CHECK(std::vector<std::uint64_t>(embd.shape.begin(), embd.shape.end()) == std::vector<std::uint64_t>{512, 64});
    CHECK(embd.role == Role::kEmbedding);
    CHECK(embd.offset == 14176);
    CHECK(src->find("output_norm.weight").has_value());
    CHECK(src->tensor(*src->find("output_norm.weight")).role == Role::kNormalization);
  }

  SUBCASE("Q8_0 file: blocks that cross rows are exposed as 1-D, the file shape kept in metadata") {
    auto src = open_ok(kCorpus / "llama4j/tinyllamas-stories-260k-q8_0.gguf");
    const TensorInfo q = src->tensor(*src->find("blk.0.attn_q.weight"));
    CHECK(q.dtype == DType::kQ8_0);
    CHECK(std::vector<std::uint64_t>(q.shape.begin(), q.shape.end()) == std::vector<std::uint64_t>{64, 64});
    CHECK(q.logical_bytes == 64 * 64 / 32 * 34);
    // ffn_down is [64, 172] in the file: 172 is not a multiple of 32.
    const TensorInfo down = src->tensor(*src->find("blk.0.ffn_down.weight"));
    CHECK(down.dtype == DType::kQ8_0);
    CHECK(std::vector<std::uint64_t>(down.shape.begin(), down.shape.end()) == std::vector<std::uint64_t>{11008});
    CHECK(down.logical_bytes == 11008 / 32 * 34);
    CHECK(src->info().metadata.at("gguf.shape.blk.0.ffn_down.weight") == "[64, 172]");
    std::size_t kept = 0;
    for (const auto& [k, v] : src->info().metadata) kept += k.starts_with("gguf.shape.");
    CHECK(kept == 5);
    CHECK(src->info().hyperparameters.at("general.file_type") == Value(std::int64_t{7}, IntType::kU32));
  }

  SUBCASE("vocabulary files: bools, strings and the chat template") {
    auto bert = open_ok(kCorpus / "llama.cpp/ggml-vocab-bert-bge.gguf");
    CHECK(bert->info().hyperparameters.at("bert.attention.causal") == Value(false));
    auto phi = open_ok(kCorpus / "llama.cpp/ggml-vocab-phi-3.gguf");
    CHECK(phi->info().hyperparameters.at("tokenizer.ggml.add_bos_token") == Value(true));
    CHECK(std::get<std::string>(phi->info().hyperparameters.at("tokenizer.chat_template").data).size() > 100);
    auto gpt2 = open_ok(kCorpus / "llama.cpp/ggml-vocab-gpt-2.gguf");
    CHECK(std::get<std::vector<std::string>>(gpt2->info().hyperparameters.at("tokenizer.ggml.merges").data).size() ==
          50000);
  }
}

TEST_CASE("GGUF -> OWF -> GGUF keeps keys, types, values, tensors and alignment") {
  TempDir dir;
  for (const auto& cf : kCorpusFiles) {
    CAPTURE(cf.path);
    const auto original_path = kCorpus / cf.path;
    auto original = open_ok(original_path);
    const auto owf_path = dir / "model.owf";
    write_owf(*original, owf_path);
    auto owf_source = open_source(owf_path);
    REQUIRE(owf_source.ok());
    CHECK((*owf_source)->format() == Format::kOwf);

    const auto back_path = dir / "back.gguf";
    auto st = internal::write_gguf(**owf_source, back_path, 0);
    REQUIRE_MESSAGE(st.ok(), st.error().to_string());
    auto back = open_ok(back_path);

    // Same keys in the same order with the same types and values.
    CHECK(kv_order(back->info()) == kv_order(original->info()));
    CHECK(back->info() == original->info());
    CHECK(back->alignment() == original->alignment());
    REQUIRE(back->tensor_count() == original->tensor_count());
    for (std::size_t i = 0; i < original->tensor_count(); ++i) {
      const TensorInfo a = original->tensor(i), b = back->tensor(i);
      CHECK(a.name == b.name);
      CHECK(a.dtype == b.dtype);
      CHECK(std::equal(a.shape.begin(), a.shape.end(), b.shape.begin(), b.shape.end()));
      CHECK(a.offset == b.offset);
      CHECK(read_tensor(*original, i) == read_tensor(*back, i));
    }

    // The weights digest does not depend on the container.
    auto d_gguf = compute_weights_digest(*original);
    auto d_owf = compute_weights_digest(**owf_source);
    auto d_back = compute_weights_digest(*back);
    REQUIRE(d_gguf.ok());
    REQUIRE(d_owf.ok());
    REQUIRE(d_back.ok());
    CHECK(*d_gguf == *d_owf);
    CHECK(*d_back == *d_gguf);

    // Files llama.cpp's tools wrote canonically come back byte for byte;
    // the v2 file differs only in its version field (the writer writes v3).
    auto original_bytes = owf::test::slurp(original_path);
    auto back_bytes = owf::test::slurp(back_path);
    REQUIRE(back_bytes.size() == original_bytes.size());
    CHECK(version_of(back_bytes) == 3);
    if (cf.version == 2) {
      std::memcpy(back_bytes.data() + 4, original_bytes.data() + 4, 4);
    }
    CHECK(back_bytes == original_bytes);

    // GGUF -> GGUF directly gives the same bytes as the trip through OWF.
    const auto direct_path = dir / "direct.gguf";
    REQUIRE(internal::write_gguf(*original, direct_path, 0).ok());
    CHECK(owf::test::slurp(direct_path) == owf::test::slurp(back_path));
  }
}

TEST_CASE("GGUF writer: alignment, provenance, license and metadata of OWF files from other formats") {
  TempDir dir;
  const auto owf_path = dir / "other.owf";
  const std::vector<std::byte> a = owf::test::pseudo_random_bytes(3 * 5 * 4, 1);
  const std::vector<std::byte> scalar = owf::test::pseudo_random_bytes(8, 2);
  const std::vector<std::byte> half = owf::test::pseudo_random_bytes(2 * 3 * 4 * 2, 3);
  const std::vector<std::byte> q4 = owf::test::pseudo_random_bytes(2 * 18 * 2, 4);
  ModelInfo info;
  info.license = license("Apache-2.0 OR MIT");
  info.provenance.name = "tiny";
  info.provenance.authors = {"A. Author", "B. Author"};
  info.provenance.software = "owf-convert";
  info.hyperparameters["training.learning_rate"] = Value(0.001);
  info.hyperparameters["model.layers"] = Value(std::int64_t{12});
  info.hyperparameters["model.sizes"] = Value(std::vector<std::int64_t>{1, -2, 3}, IntType::kI16);
  info.hyperparameters["model.flags"] = Value(std::vector<bool>{true, false});
  info.hyperparameters["model.names"] = Value(std::vector<std::string>{});
  info.metadata["format"] = "pt";
  {
    auto w = Writer::create(owf_path);
    REQUIRE(w.ok());
    REQUIRE(w->set_info(info).ok());
    // Added in this order, so the data (and the GGUF file) keep it.
    REQUIRE(w->add_tensor({"w", DType::kF32, {3, 5}, Role::kWeight}, a).ok());
    REQUIRE(w->add_tensor({"step", DType::kI64, {1}, Role::kBuffer}, scalar).ok());
    REQUIRE(w->add_tensor({"h", DType::kF16, {2, 3, 4}, Role::kWeight}, half).ok());
    REQUIRE(w->add_tensor({"q", DType::kQ4_0, {2, 64}, Role::kWeight}, q4).ok());
    REQUIRE(w->finish().ok());
  }
  auto src = open_source(owf_path);
  REQUIRE_MESSAGE(src.ok(), src.error().to_string());

  SUBCASE("default alignment 32, no general.alignment key") {
    const auto out = dir / "out.gguf";
    auto st = internal::write_gguf(**src, out, 0);
    REQUIRE_MESSAGE(st.ok(), st.error().to_string());
    auto g = open_ok(out);
    CHECK(g->alignment() == 32);
    CHECK(g->info().hyperparameters.count("general.alignment") == 0);
    REQUIRE(g->tensor_count() == 4);
    const char* order[] = {"w", "step", "h", "q"};
    for (std::size_t i = 0; i < 4; ++i) CHECK(g->tensor(i).name == order[i]);
    CHECK(std::vector<std::uint64_t>(g->tensor(1).shape.begin(), g->tensor(1).shape.end()) ==
          std::vector<std::uint64_t>{1});
    CHECK(read_tensor(*g, 0) == a);
    CHECK(read_tensor(*g, 1) == scalar);
    CHECK(read_tensor(*g, 2) == half);
    CHECK(read_tensor(*g, 3) == q4);
    CHECK(std::vector<std::uint64_t>(g->tensor(2).shape.begin(), g->tensor(2).shape.end()) ==
          std::vector<std::uint64_t>{2, 3, 4});
    const ModelInfo& gi = g->info();
    REQUIRE(gi.license);
    CHECK(gi.license->spdx == "Apache-2.0 OR MIT");
    CHECK(gi.provenance.name == "tiny");
    CHECK(gi.provenance.authors == std::vector<std::string>{"A. Author, B. Author"});
    for (const auto& [k, v] : info.hyperparameters) CHECK(gi.hyperparameters.at(k) == v);
    CHECK(gi.metadata.at("format") == "pt");
    auto d1 = compute_weights_digest(**src);
    auto d2 = compute_weights_digest(*g);
    CHECK(*d1 == *d2);
  }

  SUBCASE("an explicit alignment is written as general.alignment and honoured") {
    const auto out = dir / "out64.gguf";
    REQUIRE(internal::write_gguf(**src, out, 256).ok());
    auto g = open_ok(out);
    CHECK(g->alignment() == 256);
    CHECK(g->info().hyperparameters.at("general.alignment") == Value(std::int64_t{256}, IntType::kU32));
    for (std::size_t i = 0; i < g->tensor_count(); ++i) CHECK(g->tensor(i).offset % 256 == 0);
    // ... and kept when written again without an explicit alignment.
    const auto again = dir / "again.gguf";
    REQUIRE(internal::write_gguf(*g, again, 0).ok());
    CHECK(owf::test::slurp(again) == owf::test::slurp(out));
    CHECK(internal::write_gguf(**src, dir / "bad.gguf", 48).code() == ErrorCode::kBadAlignment);
  }
}

TEST_CASE("a scalar tensor is written with n_dims 0 and read back as a scalar") {
  TempDir dir;
  const auto owf_path = dir / "scalar.owf";
  const std::vector<std::byte> value = owf::test::pseudo_random_bytes(8, 5);
  {
    auto w = Writer::create(owf_path);
    REQUIRE(w.ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->add_tensor({"num_batches_tracked", DType::kI64, {}, Role::kBuffer}, value).ok());
    REQUIRE(w->add_tensor({"w", DType::kF32, {2}, Role::kWeight}, std::vector<std::byte>(8)).ok());
    REQUIRE(w->finish().ok());
  }
  auto src = open_source(owf_path);
  REQUIRE_MESSAGE(src.ok(), src.error().to_string());
  REQUIRE(internal::write_gguf(**src, dir / "scalar.gguf", 0).ok());
  auto g = open_ok(dir / "scalar.gguf");
  auto i = g->find("num_batches_tracked");
  REQUIRE(i.has_value());
  CHECK(g->tensor(*i).shape.empty());
  CHECK(g->tensor(*i).element_count == 1);
  CHECK(read_tensor(*g, *i) == value);
}

TEST_CASE("GGUF writer refuses what GGUF cannot hold") {
  TempDir dir;
  auto make = [&](const TensorSpec& spec) {
    const auto path = dir / "in.owf";
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    auto size = tensor_byte_size(spec.dtype, spec.shape);
    REQUIRE(w->add_tensor(spec, std::vector<std::byte>(*size)).ok());
    REQUIRE(w->finish().ok());
    auto src = open_source(path);
    REQUIRE(src.ok());
    return internal::write_gguf(**src, dir / "out.gguf", 0);
  };
  for (DType d : {DType::kU8, DType::kU16, DType::kU32, DType::kU64, DType::kBool, DType::kC64, DType::kF8_E4M3FN,
                  DType::kF4_E2M1, DType::kF6_E2M3}) {
    CAPTURE(dtype_name(d));
    auto st = make({"bad.tensor", d, {4}, Role::kWeight});
    REQUIRE(!st.ok());
    CHECK(st.code() == ErrorCode::kForeignFormatUnsupported);
    CHECK(st.error().message().find("bad.tensor") != std::string::npos);
    CHECK(st.error().message().find(std::string(dtype_name(d))) != std::string::npos);
  }
  auto rank5 = make({"r5", DType::kF32, {1, 2, 1, 2, 1}, Role::kWeight});
  CHECK(rank5.code() == ErrorCode::kForeignFormatUnsupported);
  auto long_name = make({std::string(64, 'n'), DType::kF32, {1}, Role::kWeight});
  CHECK(long_name.code() == ErrorCode::kForeignFormatUnsupported);
  CHECK(!std::filesystem::exists(dir / "out.gguf"));
}

// ---------------------------------------------------------------------------
// Handcrafted files.

namespace {

struct Bytes {
  std::vector<std::byte> b;
  template <class T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(std::string_view s) {
    put<std::uint64_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    b.insert(b.end(), p, p + s.size());
    return *this;
  }
};

struct Kv {
  std::string key;
  std::vector<std::byte> typed;  // type field + payload
};
Kv kv_u32(std::string key, std::uint32_t v) { return {std::move(key), Bytes().put<std::uint32_t>(4).put(v).b}; }
Kv kv_u64(std::string key, std::uint64_t v) { return {std::move(key), Bytes().put<std::uint32_t>(10).put(v).b}; }
Kv kv_str(std::string key, std::string_view v) { return {std::move(key), Bytes().put<std::uint32_t>(8).str(v).b}; }

struct TensorDesc {
  std::string name;
  std::vector<std::int64_t> ne;  // innermost first
  std::uint32_t type = 0;        // F32
  std::uint64_t offset = 0;
};

struct FileDesc {
  std::string magic = "GGUF";
  std::uint32_t version = 3;
  std::vector<Kv> kvs;
  std::vector<TensorDesc> tensors;
  std::uint64_t alignment = 32;
  std::uint64_t data_bytes = 64;
};

std::vector<std::byte> build(const FileDesc& f) {
  Bytes out;
  for (char c : f.magic) out.put(c);
  out.put(f.version).put<std::uint64_t>(f.tensors.size()).put<std::uint64_t>(f.kvs.size());
  for (const auto& kv : f.kvs) {
    out.str(kv.key);
    out.b.insert(out.b.end(), kv.typed.begin(), kv.typed.end());
  }
  for (const auto& t : f.tensors) {
    out.str(t.name).put<std::uint32_t>(static_cast<std::uint32_t>(t.ne.size()));
    for (auto ne : t.ne) out.put(ne);
    out.put(t.type).put(t.offset);
  }
  out.b.resize((out.b.size() + f.alignment - 1) / f.alignment * f.alignment);
  out.b.resize(out.b.size() + f.data_bytes);
  return out.b;
}

FileDesc good_file() {
  FileDesc f;
  f.kvs = {kv_str("general.architecture", "test"), kv_u32("test.block_count", 2)};
  f.tensors = {{"a.weight", {4, 2}, 0, 0}, {"b.bias", {4}, 0, 32}};
  return f;
}

Result<std::unique_ptr<Source>> open_bytes(const TempDir& dir, const std::vector<std::byte>& bytes,
                                           const Limits& limits = {}) {
  const auto path = dir / "case.gguf";
  owf::test::spit(path, bytes);
  return internal::open_gguf(path, limits);
}

void expect_refused(const TempDir& dir, const FileDesc& f, ErrorCode code, std::string_view needle,
                    const Limits& limits = {}) {
  auto r = open_bytes(dir, build(f), limits);
  REQUIRE(!r.ok());
  CHECK_MESSAGE(r.code() == code, r.error().to_string());
  CHECK_MESSAGE(r.error().message().find(needle) != std::string::npos, r.error().to_string());
}

}  // namespace

TEST_CASE("GGUF reader refuses broken files, one defect at a time") {
  TempDir dir;
  {
    auto ok = open_bytes(dir, build(good_file()));
    REQUIRE_MESSAGE(ok.ok(), ok.error().to_string());
    CHECK((*ok)->tensor_count() == 2);
  }
  const auto kInvalid = ErrorCode::kForeignFormatInvalid;
  const auto kUnsupported = ErrorCode::kForeignFormatUnsupported;

  SUBCASE("bad magic") {
    FileDesc f = good_file();
    f.magic = "GGUX";
    expect_refused(dir, f, kInvalid, "magic");
  }
  SUBCASE("version 1") {
    FileDesc f = good_file();
    f.version = 1;
    expect_refused(dir, f, kUnsupported, "version 1");
  }
  SUBCASE("version 4 and big-endian files") {
    FileDesc f = good_file();
    f.version = 4;
    expect_refused(dir, f, kUnsupported, "version 4");
    f.version = 0x03000000;
    expect_refused(dir, f, kUnsupported, "big-endian");
  }
  SUBCASE("string length beyond the file") {
    FileDesc f = good_file();
    f.kvs.push_back({"huge", Bytes().put<std::uint32_t>(8).put<std::uint64_t>(1ull << 60).b});
    expect_refused(dir, f, kInvalid, "length 1152921504606846976");
  }
  SUBCASE("string length beyond max_string_bytes") {
    FileDesc f = good_file();
    f.kvs.push_back(kv_str("long", std::string(100, 'x')));
    Limits limits;
    limits.max_string_bytes = 99;
    expect_refused(dir, f, ErrorCode::kLimitExceeded, "over the limit of 99", limits);
  }
  SUBCASE("array length beyond the file") {
    FileDesc f = good_file();
    f.kvs.push_back({"arr", Bytes().put<std::uint32_t>(9).put<std::uint32_t>(4).put<std::uint64_t>(1ull << 61).b});
    expect_refused(dir, f, kInvalid, "array length");
  }
  SUBCASE("tensor count over the limit") {
    Limits limits;
    limits.max_tensors = 1;
    expect_refused(dir, good_file(), ErrorCode::kLimitExceeded, "max_tensors", limits);
  }
  SUBCASE("key/value count over the limit") {
    Limits limits;
    limits.max_metadata_entries = 1;
    expect_refused(dir, good_file(), ErrorCode::kLimitExceeded, "max_metadata_entries", limits);
  }
  SUBCASE("duplicate key") {
    FileDesc f = good_file();
    f.kvs.push_back(kv_u32("test.block_count", 3));
    expect_refused(dir, f, kInvalid, "duplicate key 'test.block_count', first at byte");
  }
  SUBCASE("empty key") {
    FileDesc f = good_file();
    f.kvs.push_back(kv_u32("", 3));
    expect_refused(dir, f, kInvalid, "empty");
  }
  SUBCASE("unknown value type") {
    FileDesc f = good_file();
    f.kvs.push_back({"odd", Bytes().put<std::uint32_t>(13).put<std::uint32_t>(0).b});
    expect_refused(dir, f, kUnsupported, "unknown value type 13");
  }
  SUBCASE("bool that is neither 0 nor 1") {
    FileDesc f = good_file();
    f.kvs.push_back({"flag", Bytes().put<std::uint32_t>(7).put<std::uint8_t>(2).b});
    expect_refused(dir, f, kInvalid, "bool");
  }
  SUBCASE("arrays nested too deep") {
    FileDesc f = good_file();
    Bytes deep;
    deep.put<std::uint32_t>(9);
    for (int i = 0; i < 20; ++i) deep.put<std::uint32_t>(9).put<std::uint64_t>(1);
    deep.put<std::uint32_t>(4).put<std::uint64_t>(0);
    f.kvs.push_back({"deep", deep.b});
    expect_refused(dir, f, kUnsupported, "nested deeper than 8");
  }
  SUBCASE("duplicate tensor name") {
    FileDesc f = good_file();
    f.tensors[1].name = "a.weight";
    expect_refused(dir, f, kInvalid, "duplicate tensor name 'a.weight'");
  }
  SUBCASE("unknown ggml type names the tensor") {
    FileDesc f = good_file();
    f.tensors[1].type = 99;
    expect_refused(dir, f, kUnsupported, "tensor 'b.bias' has unknown or unsupported ggml type 99");
    f.tensors[1].type = 4;  // Q4_2, removed from ggml
    expect_refused(dir, f, kUnsupported, "ggml type 4");
  }
  SUBCASE("more than 4 dimensions") {
    FileDesc f = good_file();
    f.tensors[1].ne = {1, 1, 1, 1, 4};
    expect_refused(dir, f, kInvalid, "5 dimensions");
  }
  SUBCASE("rank above max_rank") {
    FileDesc f = good_file();
    f.tensors[0].ne = {4, 2, 1};
    Limits limits;
    limits.max_rank = 2;
    expect_refused(dir, f, ErrorCode::kLimitExceeded, "max_rank", limits);
  }
  SUBCASE("negative dimension") {
    FileDesc f = good_file();
    f.tensors[1].ne = {-4};
    expect_refused(dir, f, kInvalid, "negative");
  }
  SUBCASE("dimension product overflows") {
    FileDesc f = good_file();
    f.tensors[1].ne = {1ll << 40, 1ll << 40};
    expect_refused(dir, f, kInvalid, "overflows");
  }
  SUBCASE("quantized row not a whole number of blocks") {
    FileDesc f = good_file();
    f.tensors[1].type = 8;  // Q8_0, 32 elements per block
    f.tensors[1].ne = {4};
    expect_refused(dir, f, kInvalid, "tensor 'b.bias'");
  }
  SUBCASE("misaligned offset") {
    FileDesc f = good_file();
    f.tensors[1].offset = 36;
    expect_refused(dir, f, kInvalid, "not a multiple of the alignment");
  }
  SUBCASE("offset beyond the file") {
    FileDesc f = good_file();
    f.tensors[1].offset = 1ull << 20;
    expect_refused(dir, f, kInvalid, "outside");
    f.tensors[1].offset = UINT64_MAX - 31;  // offset + size would wrap
    expect_refused(dir, f, kInvalid, "outside");
  }
  SUBCASE("tensor data past the end of the file") {
    FileDesc f = good_file();
    f.data_bytes = 40;  // b.bias needs [32, 48)
    expect_refused(dir, f, kInvalid, "outside");
  }
  SUBCASE("data section beyond the end of the file") {
    FileDesc f = good_file();
    auto bytes = build(f);
    bytes.resize(bytes.size() - f.data_bytes - 1);
    auto r = open_bytes(dir, bytes);
    REQUIRE(!r.ok());
    CHECK(r.code() == kInvalid);
  }
  SUBCASE("overlapping tensors") {
    FileDesc f = good_file();
    f.tensors[1].offset = 0;
    expect_refused(dir, f, kInvalid, "overlaps");
  }
  SUBCASE("bad alignment value") {
    FileDesc f = good_file();
    f.kvs.push_back(kv_u32("general.alignment", 48));
    expect_refused(dir, f, kInvalid, "not a power of two");
    f.kvs.back() = kv_u32("general.alignment", 0);
    expect_refused(dir, f, kInvalid, "not a power of two");
    f.kvs.back() = kv_u64("general.alignment", 64);
    expect_refused(dir, f, kInvalid, "must have type u32");
  }
  SUBCASE("truncated header") {
    auto bytes = build(good_file());
    bytes.resize(30);
    auto r = open_bytes(dir, bytes);
    REQUIRE(!r.ok());
    CHECK(r.code() == kInvalid);
    auto empty = open_bytes(dir, {});
    CHECK(empty.code() == kInvalid);
  }
}

TEST_CASE("GGUF keys without an owf::Value counterpart survive the trip through OWF") {
  TempDir dir;
  FileDesc f = good_file();
  // A nested array, a string that is not UTF-8, a key that is not a valid
  // hyperparameter key, a non-SPDX license and an empty general.name.
  Bytes nested;
  nested.put<std::uint32_t>(9).put<std::uint32_t>(9).put<std::uint64_t>(2);
  nested.put<std::uint32_t>(4).put<std::uint64_t>(1).put<std::uint32_t>(7);
  nested.put<std::uint32_t>(8).put<std::uint64_t>(1).str("x");
  f.kvs.push_back({"test.nested", nested.b});
  f.kvs.push_back(kv_str("test.bytes", "\xff\xfe"));
  f.kvs.push_back(kv_u32("test/slash key", 7));
  f.kvs.push_back(kv_str("general.license", "my own licence"));
  f.kvs.push_back(kv_str("general.name", ""));
  f.kvs.push_back({"test.empty_strings", Bytes().put<std::uint32_t>(9).put<std::uint32_t>(8).put<std::uint64_t>(0).b});
  f.kvs.push_back(kv_u32("general.alignment", 64));
  f.alignment = 64;
  f.tensors[1].offset = 64;
  f.data_bytes = 128;
  const auto original = build(f);
  const auto path = dir / "odd.gguf";
  owf::test::spit(path, original);
  auto src = open_ok(path);
  const ModelInfo& info = src->info();
  CHECK(info.metadata.count("gguf.kv.test.nested") == 1);
  CHECK(info.metadata.count("gguf.kv.test.bytes") == 1);
  CHECK(info.metadata.count("gguf.kv.test/slash key") == 1);
  // The example of spec/interchange.md, "GGUF".
  CHECK(info.metadata.at("gguf.kv.test.nested") ==
        "arr:CQAAAAIAAAAAAAAABAAAAAEAAAAAAAAABwAAAAgAAAABAAAAAAAAAAEAAAAAAAAAeA==");
  CHECK(info.metadata.at("gguf.kv.test.bytes") == "str:AgAAAAAAAAD//g==");
  CHECK(!info.license);
  CHECK(info.hyperparameters.at("general.license") == Value("my own licence"));
  CHECK(info.hyperparameters.at("general.name") == Value(""));
  CHECK(info.hyperparameters.at("test.empty_strings") == Value(std::vector<std::string>{}));
  CHECK(src->alignment() == 64);

  write_owf(*src, dir / "odd.owf");
  auto owf_src = open_source(dir / "odd.owf");
  REQUIRE(owf_src.ok());
  REQUIRE(internal::write_gguf(**owf_src, dir / "back.gguf", 0).ok());
  auto back = owf::test::slurp(dir / "back.gguf");
  // build() pads the last tensor with 64 bytes of data; the writer pads to the alignment.
  CHECK(back == original);
}

TEST_CASE("GGUF ranged reads match whole reads; large tensors are written in pieces") {
  auto src = open_ok(kCorpus / "python-gen-worker/stories260K.gguf");
  CHECK(src->ranged_reads());
  const std::vector<std::byte> whole = read_tensor(*src, 0);
  std::vector<std::byte> piece(1000);
  REQUIRE(src->read_range(0, 4321, piece).ok());
  CHECK(std::equal(piece.begin(), piece.end(), whole.begin() + 4321));
  CHECK(src->read_range(0, whole.size() - 10, piece).code() == ErrorCode::kInvalidArgument);

  // 9 MiB of F32 (above the 8 MiB piece size), followed by a small tensor.
  TempDir dir;
  FileDesc f;
  f.kvs = {kv_u32("test.n", 1)};
  f.tensors = {{"big.weight", {1024, 9 * 256}, 0, 0}, {"small.bias", {4}, 0, 9ull << 20}};
  f.data_bytes = (9ull << 20) + 32;
  auto bytes = build(f);
  const auto data = owf::test::pseudo_random_bytes(static_cast<std::size_t>(f.data_bytes) - 16, 9);
  std::copy(data.begin(), data.end(), bytes.end() - static_cast<std::ptrdiff_t>(f.data_bytes));
  owf::test::spit(dir / "big.gguf", bytes);
  auto big = open_ok(dir / "big.gguf");
  REQUIRE(internal::write_gguf(*big, dir / "copy.gguf", 0).ok());
  CHECK(owf::test::slurp(dir / "copy.gguf") == bytes);
}

// ---------------------------------------------------------------------------
// Error positions, names, truncation, bounded writing.

namespace {

std::uint64_t kv_bytes(const Kv& kv) { return 8 + kv.key.size() + kv.typed.size(); }

/// Offset of key/value pair `i` in build(f).
std::uint64_t kv_offset(const FileDesc& f, std::size_t i) {
  std::uint64_t at = 24;
  for (std::size_t k = 0; k < i; ++k) at += kv_bytes(f.kvs[k]);
  return at;
}

/// Offset of tensor info `i` in build(f).
std::uint64_t info_offset(const FileDesc& f, std::size_t i) {
  std::uint64_t at = kv_offset(f, f.kvs.size());
  for (std::size_t k = 0; k < i; ++k) at += 8 + f.tensors[k].name.size() + 4 + 8 * f.tensors[k].ne.size() + 4 + 8;
  return at;
}

std::string at_byte(std::uint64_t offset) { return "at byte " + std::to_string(offset); }

}  // namespace

TEST_CASE("GGUF errors name the offset of the key/value pair or tensor info at fault") {
  TempDir dir;
  const auto kInvalid = ErrorCode::kForeignFormatInvalid;
  FileDesc f = good_file();

  SUBCASE("a wrong-typed general.alignment") {
    f.kvs.push_back(kv_u64("general.alignment", 64));
    expect_refused(dir, f, kInvalid, at_byte(kv_offset(f, 2)) + ": key 'general.alignment' must have type u32");
    expect_refused(dir, f, kInvalid, "u64 (key/value pair 2)");
  }
  SUBCASE("an alignment that is not a power of two") {
    f.kvs.insert(f.kvs.begin(), kv_u32("general.alignment", 48));
    expect_refused(dir, f, kInvalid, at_byte(kv_offset(f, 0)) + ": key 'general.alignment' 48 is not a power of two");
  }
  SUBCASE("a bad value inside a pair: the value's byte and the pair") {
    f.kvs.push_back({"flag", Bytes().put<std::uint32_t>(7).put<std::uint8_t>(2).b});
    const std::uint64_t pair = kv_offset(f, 2);
    expect_refused(dir, f, kInvalid,
                   at_byte(pair + 8 + 4 + 4) + ": bool value 2 is neither 0 nor 1 (in the value of key 'flag', " +
                       "key/value pair 2 at byte " + std::to_string(pair) + ")");
  }
  SUBCASE("a pair cut short by the end of the file") {
    auto bytes = build(f);
    bytes.resize(kv_offset(f, 1) + 8 + 16 + 2);  // inside the value type of the second pair
    auto r = open_bytes(dir, bytes);
    REQUIRE(!r.ok());
    CHECK(r.code() == kInvalid);
    CHECK_MESSAGE(
        r.error().message().find("key/value pair 1 at byte " + std::to_string(kv_offset(f, 1))) != std::string::npos,
        r.error().message());
  }
  SUBCASE("tensor infos: type, offsets, overlap, duplicate name") {
    f.tensors[1].type = 99;
    expect_refused(dir, f, ErrorCode::kForeignFormatUnsupported,
                   "tensor 'b.bias' has unknown or unsupported ggml type 99 (tensor info 1 at byte " +
                       std::to_string(info_offset(f, 1)) + ")");
    f = good_file();
    f.tensors[1].offset = 36;
    expect_refused(
        dir, f, kInvalid,
        at_byte(info_offset(f, 1)) + ": tensor 'b.bias' has data offset 36, not a multiple of the alignment");
    f.tensors[1].offset = 1ull << 20;
    expect_refused(dir, f, kInvalid, at_byte(info_offset(f, 1)) + ": tensor 'b.bias' has data [1048576, +16) outside");
    f.tensors[1].offset = 0;
    expect_refused(dir, f, kInvalid, at_byte(info_offset(f, 1)) + ": tensor 'b.bias' has data [0, 16) that overlaps");
    f = good_file();
    f.tensors[1].name = "a.weight";
    expect_refused(
        dir, f, kInvalid,
        at_byte(info_offset(f, 1)) + ": duplicate tensor name 'a.weight', first in tensor info 0 (tensor info 1)");
  }
}

TEST_CASE("GGUF reader applies the tensor-name rule; the writer refuses what GGUF or OWF cannot hold") {
  TempDir dir;
  FileDesc f = good_file();
  SUBCASE("a NUL byte") {
    f.tensors[1].name = std::string("b\0bias", 6);
    expect_refused(dir, f, ErrorCode::kBadTensorName,
                   at_byte(info_offset(f, 1)) + ": bad tensor name: the name has a NUL byte at byte 1 (tensor info 1");
  }
  SUBCASE("an empty name") {
    f.tensors[0].name = "";
    expect_refused(dir, f, ErrorCode::kBadTensorName, "the name is empty (tensor info 0");
  }
  SUBCASE("not UTF-8") {
    f.tensors[0].name = "a\xff";
    expect_refused(dir, f, ErrorCode::kBadUtf8, "not valid UTF-8");
  }
  SUBCASE("longer than max_name_bytes") {
    f.tensors[0].name = std::string(300, 'a');
    Limits limits;
    limits.max_name_bytes = 299;
    expect_refused(dir, f, ErrorCode::kLimitExceeded, "over the limit of 299", limits);
  }
  SUBCASE("the writer") {
    const auto out = dir / "out.gguf";
    for (const auto& [name, code] :
         std::vector<std::pair<std::string, ErrorCode>>{{std::string("a\0b", 3), ErrorCode::kBadTensorName},
                                                        {"", ErrorCode::kBadTensorName},
                                                        {"\xc3", ErrorCode::kBadUtf8},
                                                        {std::string(64, 'n'), ErrorCode::kForeignFormatUnsupported}}) {
      owf::test::FakeSource src({{name, DType::kF32, {2}}}, true);
      auto st = internal::write_gguf(src, out, 0);
      CHECK(st.code() == code);
      CHECK(!std::filesystem::exists(out));
    }
    owf::test::FakeSource ok({{std::string(63, 'n'), DType::kF32, {2}}}, true);
    CHECK(internal::write_gguf(ok, out, 0).ok());
  }
}

TEST_CASE("GGUF: a file that shrinks after it was opened is an io_error, never a signal") {
  TempDir dir;
  FileDesc f = good_file();
  f.data_bytes = 4096;
  const auto path = dir / "shrinks.gguf";
  owf::test::spit(path, build(f));
  auto src = open_ok(path);
  const std::uint64_t data_start = src->tensor(0).offset;
  std::filesystem::resize_file(path, data_start + 8);  // a.weight is 32 bytes from data_start

  std::vector<std::byte> a(src->tensor(0).logical_bytes);
  CHECK(src->read(0, a).code() == ErrorCode::kIoError);
  std::vector<std::byte> piece(16);
  CHECK(src->read_range(1, 0, piece).code() == ErrorCode::kIoError);
  CHECK(compute_weights_digest(*src).code() == ErrorCode::kIoError);
  auto st = internal::write_gguf(*src, dir / "copy.gguf", 0);
  CHECK(st.code() == ErrorCode::kIoError);
  CHECK(st.error().message().find("tensor 'a.weight'") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "copy.gguf"));
  CHECK(internal::write_safetensors(*src, dir / "copy.safetensors").code() == ErrorCode::kIoError);
  CHECK(!std::filesystem::exists(dir / "copy.safetensors"));
}

TEST_CASE("GGUF writer streams tensors in bounded pieces and checks the size of its data section") {
  TempDir dir;
  const auto out = dir / "out.gguf";
  SUBCASE("a tensor declared far larger than memory, from a source that reads pieces") {
    // 16 GiB declared; reads fail after 20 MiB, so the writer must be streaming.
    owf::test::FakeSource src({{"huge", DType::kF32, {1ull << 32}}}, true, 20ull << 20);
    auto st = internal::write_gguf(src, out, 0);
    CHECK(st.code() == ErrorCode::kIoError);
    CHECK(src.largest_read() <= internal::kPieceBytes);
    CHECK(!std::filesystem::exists(out));
  }
  SUBCASE("from a source without ranged reads: a clear error, not an exception") {
    owf::test::FakeSource src({{"huge", DType::kI8, {2, 1ull << 62}}}, false);  // 2^63 bytes
    CHECK(internal::write_gguf(src, out, 0).code() == ErrorCode::kLimitExceeded);
    CHECK(!std::filesystem::exists(out));
  }
  SUBCASE("a data section above 2^64 bytes") {
    const std::uint64_t half = (1ull << 63) - 6;  // 2 x that many I8: 2^64 - 12 bytes
    owf::test::FakeSource src({{"a", DType::kI8, {2, half}, 0}, {"b", DType::kI8, {1}, 1}}, true, 1u << 20);
    CHECK(internal::write_gguf(src, out, 0).code() == ErrorCode::kShapeOverflow);
    CHECK(!std::filesystem::exists(out));
  }
}

// ---------------------------------------------------------------------------
// Lossless interchange: float bits, tensor order, every ggml type.

namespace {

Kv kv_f32(std::string key, std::uint32_t bits) { return {std::move(key), Bytes().put<std::uint32_t>(6).put(bits).b}; }
Kv kv_f32_array(std::string key, const std::vector<std::uint32_t>& bits) {
  Bytes b;
  b.put<std::uint32_t>(9).put<std::uint32_t>(6).put<std::uint64_t>(bits.size());
  for (auto x : bits) b.put(x);
  return {std::move(key), b.b};
}

/// GGUF -> OWF (tensors added in GGUF order) -> GGUF, returning the bytes.
std::vector<std::byte> round_trip(const TempDir& dir, const std::vector<std::byte>& gguf) {
  owf::test::spit(dir / "in.gguf", gguf);
  auto src = open_ok(dir / "in.gguf");
  write_owf(*src, dir / "mid.owf");
  auto owf_source = open_source(dir / "mid.owf");
  REQUIRE_MESSAGE(owf_source.ok(), owf_source.error().to_string());
  auto st = internal::write_gguf(**owf_source, dir / "out.gguf", 0);
  REQUIRE_MESSAGE(st.ok(), st.error().to_string());
  return owf::test::slurp(dir / "out.gguf");
}

std::vector<std::string> names_of(const Source& s) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < s.tensor_count(); ++i) names.emplace_back(s.tensor(i).name);
  return names;
}

/// A file with these tensors in this order, laid out canonically.
FileDesc file_with(std::vector<TensorDesc> tensors, std::uint64_t elem_bytes = 4) {
  FileDesc f;
  f.kvs = {kv_str("general.architecture", "test")};
  std::uint64_t at = 0;
  for (auto& t : tensors) {
    std::uint64_t n = 1;
    for (auto ne : t.ne) n *= static_cast<std::uint64_t>(ne);
    t.offset = at;
    at = (at + n * elem_bytes + 31) / 32 * 32;
  }
  f.tensors = std::move(tensors);
  f.data_bytes = at;
  return f;
}

}  // namespace

TEST_CASE("FLOAT32 metadata keeps every bit: all NaN payloads, both zeros") {
  using internal::gguf::f32_from_double;
  using internal::gguf::f32_to_double;
  SUBCASE("the carrying double: every NaN (both signs, every payload, signalling or quiet) comes back") {
    std::uint64_t wrong = 0;
    for (std::uint32_t sign = 0; sign < 2; ++sign)
      for (std::uint32_t fraction = 1; fraction < (1u << 23); ++fraction) {
        const std::uint32_t bits = sign << 31 | 0x7F800000u | fraction;
        const double d = f32_to_double(bits);
        wrong += !std::isnan(d) || f32_from_double(d) != bits;
      }
    CHECK(wrong == 0);
    // Numbers are carried as their own value.
    for (std::uint32_t bits :
         {0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x3F800000u, 0x7F7FFFFFu, 0x7F800000u, 0xFF800000u}) {
      CAPTURE(bits);
      CHECK(std::bit_cast<std::uint64_t>(f32_to_double(bits)) ==
            std::bit_cast<std::uint64_t>(static_cast<double>(std::bit_cast<float>(bits))));
      CHECK(f32_from_double(f32_to_double(bits)) == bits);
    }
    // A double NaN whose payload a float cannot hold becomes a quiet NaN.
    CHECK(f32_from_double(std::bit_cast<double>(0x7FF0000000000001ull)) == 0x7FC00000u);
  }

  SUBCASE("GGUF -> OWF -> GGUF is byte-identical, scalars and arrays") {
    TempDir dir;
    const std::vector<std::uint32_t> bits = {
        0x7F800001u, 0xFF800001u,  // smallest signalling NaNs
        0xFF9807F3u, 0x7FBFFFFFu,  // signalling NaNs with payloads
        0x7FC00000u, 0xFFC00000u,  // the default quiet NaNs
        0x7FC00001u, 0xFFFFFFFFu,  // quiet NaNs with payloads
        0x00000000u, 0x80000000u,  // both zeros
        0x00000001u, 0x80400000u,  // subnormals
        0x7F800000u, 0xFF800000u,  // infinities
        0x3DCCCCCDu, 0xC2F6E979u,  // ordinary numbers
    };
    FileDesc f = file_with({{"w", {4}}});
    for (std::size_t i = 0; i < bits.size(); ++i) f.kvs.push_back(kv_f32("test.f" + std::to_string(i), bits[i]));
    f.kvs.push_back(kv_f32_array("test.all", bits));
    // FLOAT64 values are carried as they are: negative zero and NaN payloads too.
    f.kvs.push_back({"test.f64.neg_zero", Bytes().put<std::uint32_t>(12).put<std::uint64_t>(1ull << 63).b});
    f.kvs.push_back({"test.f64.snan", Bytes().put<std::uint32_t>(12).put<std::uint64_t>(0x7FF0000000000001ull).b});
    const auto original = build(f);
    CHECK(round_trip(dir, original) == original);
    // In OWF the value is an F32 hyperparameter whose double carries the bits.
    auto owf_file = open_source(dir / "mid.owf");
    REQUIRE(owf_file.ok());
    const Value& snan = (*owf_file)->info().hyperparameters.at("test.f2");
    CHECK(snan.float_type == FloatType::kF32);
    CHECK(f32_from_double(std::get<double>(snan.data)) == 0xFF9807F3u);
  }
}

TEST_CASE("GGUF tensor order survives GGUF -> OWF -> GGUF in every case") {
  TempDir dir;
  SUBCASE("all tensors empty") {
    const auto original = build(file_with({{"zeta", {0}}, {"alpha", {0, 4}}, {"mid", {3, 0}}}));
    CHECK(round_trip(dir, original) == original);
  }
  SUBCASE("empty and non-empty tensors interleaved, not in name order") {
    const auto original = build(file_with({{"c", {8}}, {"empty.b", {0}}, {"a", {4, 2}}, {"empty.a", {0}}}));
    CHECK(round_trip(dir, original) == original);
  }
  SUBCASE("through an OWF -> OWF conversion, which writes tensors in name order") {
    const auto original = build(file_with({{"c", {8}}, {"b", {0}}, {"a", {4}}}));
    owf::test::spit(dir / "in.gguf", original);
    auto src = open_ok(dir / "in.gguf");
    write_owf(*src, dir / "one.owf");
    auto one = open_source(dir / "one.owf");
    REQUIRE(one.ok());
    REQUIRE(convert(**one, dir / "two.owf", Format::kOwf).ok());
    auto two = open_source(dir / "two.owf");
    REQUIRE(two.ok());
    CHECK(names_of(**two) == std::vector<std::string>{"a", "b", "c"});
    REQUIRE(internal::write_gguf(**two, dir / "out.gguf", 0).ok());
    CHECK(owf::test::slurp(dir / "out.gguf") == original);
  }
  SUBCASE("names with line feeds and backslashes") {
    const auto original = build(file_with({{"z\\n", {1}}, {"a\nb", {1}}, {"\\", {1}}, {"a", {1}}}));
    CHECK(round_trip(dir, original) == original);
    auto back = open_ok(dir / "out.gguf");
    CHECK(names_of(*back) == std::vector<std::string>{"z\\n", "a\nb", "\\", "a"});
  }
  SUBCASE("the order is recorded in metadata; renamed or added tensors follow in data order") {
    owf::test::spit(dir / "in.gguf", build(file_with({{"b", {1}}, {"a", {1}}})));
    auto src = open_ok(dir / "in.gguf");
    CHECK(src->info().metadata.at("gguf.tensor_order") == "b\na");
    owf::test::FakeSource extra({{"c", DType::kF32, {1}, 0}, {"a", DType::kF32, {1}, 1}, {"b", DType::kF32, {1}, 2}},
                                true);
    ModelInfo info;
    info.metadata["gguf.tensor_order"] = "b\ngone\na";
    const internal::OutputOptions output;
    // FakeSource has no info to set; the order comes from a wrapper.
    struct WithInfo final : Source {
      const Source& base;
      ModelInfo model;
      WithInfo(const Source& b, ModelInfo m) : base(b), model(std::move(m)) {}
      Format format() const override { return base.format(); }
      std::size_t tensor_count() const override { return base.tensor_count(); }
      TensorInfo tensor(std::size_t i) const override { return base.tensor(i); }
      Status read(std::size_t i, std::span<std::byte> out) const override { return base.read(i, out); }
      const ModelInfo& info() const override { return model; }
    } with_order(extra, info);
    REQUIRE(internal::write_gguf(with_order, dir / "out.gguf", 0, output).ok());
    CHECK(names_of(*open_ok(dir / "out.gguf")) == std::vector<std::string>{"b", "a", "c"});
  }
}

TEST_CASE("every ggml type OWF knows round-trips GGUF -> OWF -> GGUF byte for byte") {
  TempDir dir;
  FileDesc f;
  f.kvs = {kv_str("general.architecture", "test"), kv_f32("test.snan", 0xFF9807F3u),
           kv_f32_array("test.bits", {0x7FA00000u, 0x80000000u, 0x00000000u})};
  std::uint64_t at = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // tensor bytes; the padding stays zero
  for (const auto& g : internal::gguf::ggml_types()) {
    const auto info = dtype_info(g.dtype);
    REQUIRE(info.has_value());
    const auto block = static_cast<std::int64_t>(info->block_elements);
    f.tensors.push_back({"t" + std::to_string(g.id), {2 * block, 3}, g.id, at});
    const std::uint64_t shape[] = {3, static_cast<std::uint64_t>(2 * block)};
    const std::uint64_t size = *tensor_byte_size(g.dtype, shape);
    ranges.emplace_back(at, size);
    at = (at + size + 31) / 32 * 32;
  }
  f.data_bytes = at;
  auto original = build(f);
  const auto data = owf::test::pseudo_random_bytes(static_cast<std::size_t>(at), 42);
  const std::size_t data_start = original.size() - static_cast<std::size_t>(at);
  for (const auto& [offset, size] : ranges)
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), size,
                original.begin() + static_cast<std::ptrdiff_t>(data_start + offset));
  CHECK(round_trip(dir, original) == original);
  auto src = open_ok(dir / "in.gguf");
  CHECK(src->tensor_count() == internal::gguf::ggml_types().size());
  CHECK(src->notes().empty());
}

// ---------------------------------------------------------------------------
// Deliberate differences from ggml's reader (spec/interchange.md, GGUF
// "Differences from ggml").

TEST_CASE("GGUF differences from ggml: refused here, or read with a compatibility note") {
  TempDir dir;
  const auto notes_of = [&](const FileDesc& f) {
    auto r = open_bytes(dir, build(f));
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    return (*r)->notes();
  };
  const auto has_note = [](const std::vector<std::string>& notes, std::string_view needle) {
    return std::any_of(notes.begin(), notes.end(), [&](const std::string& n) { return n.find(needle) != n.npos; });
  };

  SUBCASE("a canonical file has no notes; nor do the corpus files llama.cpp wrote") {
    CHECK(notes_of(good_file()).empty());
    CHECK(open_ok(kCorpus / "python-gen-worker/stories260K.gguf")->notes().empty());
    CHECK(open_ok(kCorpus / "llama.cpp/ggml-vocab-gpt-2.gguf")->notes().empty());
  }
  SUBCASE("refused here, accepted by ggml: bool bytes other than 0 and 1") {
    FileDesc f = good_file();
    f.kvs.push_back({"flag", Bytes().put<std::uint32_t>(7).put<std::uint8_t>(255).b});
    expect_refused(dir, f, ErrorCode::kForeignFormatInvalid, "bool value 255 is neither 0 nor 1");
  }
  SUBCASE("refused by both: version 1") {
    FileDesc f = good_file();
    f.version = 1;
    expect_refused(dir, f, ErrorCode::kForeignFormatUnsupported, "version 1");
  }
  SUBCASE("names of 64 bytes or more: read with a note, refused by the writer") {
    FileDesc f = good_file();
    f.tensors[1].name = std::string(64, 'x');
    auto r = open_bytes(dir, build(f));
    REQUIRE(r.ok());
    CHECK((*r)->tensor(1).name == f.tensors[1].name);
    const auto notes = (*r)->notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0] == "tensor '" + f.tensors[1].name + "' has a name of 64 bytes; ggml's reader refuses names of 64 " +
                          "bytes or more (tensor info 1 at byte " + std::to_string(info_offset(f, 1)) + ")");
    CHECK(internal::write_gguf(**r, dir / "out.gguf", 0).code() == ErrorCode::kForeignFormatUnsupported);
    f.tensors[1].name = std::string(63, 'x');
    CHECK(notes_of(f).empty());
  }
  SUBCASE("no padding after the last tensor: read with a note") {
    FileDesc f = good_file();
    f.data_bytes = 48;  // b.bias is [32, 48); ggml wants the file to run to 64
    const auto notes = notes_of(f);
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("before the padding of its last tensor ends") != std::string::npos);
  }
  SUBCASE("a data layout other than ggml's: read with a note") {
    FileDesc f = good_file();
    f.tensors[0].offset = 32;  // b.bias first in the data
    f.tensors[1].offset = 0;
    CHECK(has_note(notes_of(f), "tensor 'a.weight' has data offset 32 where ggml's reader expects 0"));
    f = good_file();
    f.tensors[1].offset = 64;  // a gap
    f.data_bytes = 96;
    CHECK(has_note(notes_of(f), "tensor 'b.bias' has data offset 64 where ggml's reader expects 32"));
  }
  SUBCASE("rows that are not whole blocks: read as 1-D with a note") {
    FileDesc f;
    f.tensors = {{"q", {16, 2}, 8, 0}};  // Q8_0: 32-element blocks, rows of 16
    f.data_bytes = 64;
    CHECK(has_note(notes_of(f), "tensor 'q' has rows of 16 elements, not whole Q8_0 blocks"));
    auto q8 = open_ok(kCorpus / "llama4j/tinyllamas-stories-260k-q8_0.gguf");
    CHECK(q8->notes().size() == 5);
  }
  SUBCASE("nested arrays, alignment above 1 MiB: read with a note") {
    FileDesc f = good_file();
    Bytes nested;
    nested.put<std::uint32_t>(9).put<std::uint32_t>(9).put<std::uint64_t>(1);
    nested.put<std::uint32_t>(4).put<std::uint64_t>(0);
    f.kvs.push_back({"test.nested", nested.b});
    CHECK(has_note(notes_of(f), "key 'test.nested' holds nested arrays"));
    f = good_file();
    f.kvs.push_back(kv_u32("general.alignment", 2u << 20));
    f.alignment = 2u << 20;
    f.tensors[1].offset = 2u << 20;
    f.data_bytes = (2u << 20) + 16;
    CHECK(has_note(notes_of(f), "above ggml's maximum alignment"));
  }
  SUBCASE("notes are bounded") {
    FileDesc f;
    for (int i = 0; i < 100; ++i) f.tensors.push_back({std::string(64, 'n') + std::to_string(i), {0}, 0, 0});
    f.data_bytes = 0;
    const auto notes = notes_of(f);
    CHECK(notes.size() == 65);
    CHECK(notes.back() == "36 more notes like these");
  }
}
