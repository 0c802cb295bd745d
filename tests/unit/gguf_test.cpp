// GGUF reader and writer: the corpus files written by llama.cpp's tools,
// round trips through OWF, export of OWF files from other formats, and one
// handcrafted broken file per class of defect.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "formats/formats.hpp"
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
    expect_refused(dir, f, ErrorCode::kLimitExceeded, "max_string_bytes", limits);
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
    expect_refused(dir, f, kInvalid, "duplicate key 'test.block_count'");
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
    expect_refused(dir, f, kUnsupported, "nests arrays");
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
