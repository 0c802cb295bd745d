// safetensors: the corpus files open with the shapes, dtypes and values
// their sources document, the writer reproduces the official layout byte
// for byte, model information survives OWF -> safetensors -> OWF, and every
// class of malformed header is refused.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "fake_source.hpp"
#include "formats/formats.hpp"
#include "tensor_pieces.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;

std::vector<std::byte> st_file(const std::string& header, std::size_t data_bytes, bool pad = true) {
  std::string h = header;
  if (pad) h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<std::byte> out(8 + h.size() + data_bytes);
  const std::uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, h.data(), h.size());
  for (std::size_t i = 0; i < data_bytes; ++i) out[8 + h.size() + i] = static_cast<std::byte>(i * 7 + 1);
  return out;
}

Result<std::unique_ptr<Source>> open_bytes(const TempDir& dir, std::span<const std::byte> bytes) {
  const auto path = dir / "t.safetensors";
  owf::test::spit(path, bytes);
  return internal::open_safetensors(path, {});
}

Result<std::unique_ptr<Source>> open_header(const TempDir& dir, const std::string& header, std::size_t data_bytes) {
  return open_bytes(dir, st_file(header, data_bytes));
}

template <class T>
std::vector<T> read_as(const Source& s, std::size_t index) {
  const TensorInfo t = s.tensor(index);
  std::vector<T> out(t.logical_bytes / sizeof(T));
  REQUIRE(s.read(index, std::as_writable_bytes(std::span(out))).ok());
  return out;
}

std::vector<std::uint64_t> shape_of(const TensorInfo& t) { return {t.shape.begin(), t.shape.end()}; }

// An OWF file with every tensor of `src`, added through owf::Writer.
void write_owf_copy(const Source& src, const ModelInfo& info, const std::filesystem::path& path) {
  auto w = Writer::create(path);
  REQUIRE(w.ok());
  REQUIRE(w->set_info(info).ok());
  std::vector<std::byte> buf;
  for (std::size_t i = 0; i < src.tensor_count(); ++i) {
    const TensorInfo t = src.tensor(i);
    buf.resize(t.logical_bytes);
    REQUIRE(src.read(i, buf).ok());
    REQUIRE(w->add_tensor({std::string(t.name), t.dtype, shape_of(t), t.role}, buf).ok());
  }
  REQUIRE(w->finish().ok());
}

const std::vector<std::string> kCorpusFiles = {
    "burn/mnist.safetensors",
    "burn/multi_layer.safetensors",
    "candle/mel_filters.safetensors",
    "candle/jfk-codes.safetensors",
    "SafeTensors.jl/model.safetensors",
    "SafeTensors.jl/model.with_metadata.safetensors",
    "SafeTensors.jl/sharded/model-00001-of-00006.safetensors",
    "SafeTensors.jl/sharded/model-00002-of-00006.safetensors",
    "SafeTensors.jl/sharded/model-00003-of-00006.safetensors",
    "SafeTensors.jl/sharded/model-00004-of-00006.safetensors",
    "SafeTensors.jl/sharded/model-00005-of-00006.safetensors",
    "SafeTensors.jl/sharded/model-00006-of-00006.safetensors",
};

}  // namespace

TEST_CASE("safetensors corpus: tensors, shapes, dtypes and values") {
  SUBCASE("burn/mnist: 18 F32 and 2 0-d I64, in data-offset order") {
    auto s = internal::open_safetensors(kCorpus / "burn/mnist.safetensors", {});
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    const Source& src = **s;
    CHECK(src.format() == Format::kSafetensors);
    REQUIRE(src.tensor_count() == 20);
    int f32 = 0, i64 = 0;
    for (std::size_t i = 0; i < src.tensor_count(); ++i) {
      f32 += src.tensor(i).dtype == DType::kF32;
      i64 += src.tensor(i).dtype == DType::kI64;
    }
    CHECK(f32 == 18);
    CHECK(i64 == 2);
    const TensorInfo first = src.tensor(0);
    CHECK(first.name == "norm1.num_batches_tracked");
    CHECK(first.shape.empty());
    CHECK(first.element_count == 1);
    CHECK(first.role == Role::kBuffer);
    CHECK(read_as<std::int64_t>(src, 0) == std::vector<std::int64_t>{7504});
    CHECK(src.tensor(2).name == "conv1.bias");
    CHECK(src.tensor(2).role == Role::kBias);
    CHECK(read_as<float>(src, 2)[0] == doctest::Approx(0.10854442f));
    auto fc1 = src.find("fc1.weight");
    REQUIRE(fc1);
    CHECK(shape_of(src.tensor(*fc1)) == std::vector<std::uint64_t>{32, 11616});
    CHECK(src.tensor(*fc1).offset == 8 + 1520 + 19056);
    CHECK(src.info().metadata.empty());
    CHECK(!src.info().license);
  }
  SUBCASE("candle: mel filters and JFK codes") {
    auto mel = internal::open_safetensors(kCorpus / "candle/mel_filters.safetensors", {});
    REQUIRE(mel.ok());
    REQUIRE((*mel)->tensor_count() == 1);
    CHECK((*mel)->tensor(0).name == "mel_80");
    CHECK(shape_of((*mel)->tensor(0)) == std::vector<std::uint64_t>{80, 201});
    auto m = read_as<float>(**mel, 0);
    CHECK(m[1] == doctest::Approx(0.02486259f));
    CHECK(m[201 + 2] == doctest::Approx(0.022871772f));
    auto jfk = internal::open_safetensors(kCorpus / "candle/jfk-codes.safetensors", {});
    REQUIRE(jfk.ok());
    CHECK((*jfk)->tensor(0).dtype == DType::kI64);
    CHECK(shape_of((*jfk)->tensor(0)) == std::vector<std::uint64_t>{1, 2, 828});
    auto codes = read_as<std::int64_t>(**jfk, 0);
    CHECK(std::vector<std::int64_t>(codes.begin(), codes.begin() + 5) ==
          std::vector<std::int64_t>{865, 62, 408, 408, 475});
    CHECK(codes.back() == 889);
  }
  SUBCASE("SafeTensors.jl: every common dtype, metadata") {
    auto s = internal::open_safetensors(kCorpus / "SafeTensors.jl/model.safetensors", {});
    REQUIRE(s.ok());
    const Source& src = **s;
    REQUIRE(src.tensor_count() == 36);
    std::set<DType> dtypes;
    for (std::size_t i = 0; i < 36; ++i) dtypes.insert(src.tensor(i).dtype);
    CHECK(dtypes == std::set<DType>{DType::kBool, DType::kU8, DType::kI8, DType::kI16, DType::kI32, DType::kI64,
                                    DType::kF8_E4M3FN, DType::kF8_E5M2, DType::kF16, DType::kBF16, DType::kF32,
                                    DType::kF64});
    CHECK(read_as<std::int64_t>(src, *src.find("int64_3")) == std::vector<std::int64_t>{64, 64, 30});
    CHECK(read_as<std::uint8_t>(src, *src.find("uint8_3")) == std::vector<std::uint8_t>{0x13, 0x36, 0x26});
    CHECK(read_as<std::uint8_t>(src, *src.find("float8_e4m3fn_3")) == std::vector<std::uint8_t>{0xae, 0xa9, 0xb8});
    CHECK(read_as<std::uint16_t>(src, *src.find("bfloat16_3")) == std::vector<std::uint16_t>{0xbf53, 0xbebf, 0x3f58});
    CHECK(shape_of(src.tensor(*src.find("bool_357"))) == std::vector<std::uint64_t>{3, 5, 7});

    auto meta = internal::open_safetensors(kCorpus / "SafeTensors.jl/model.with_metadata.safetensors", {});
    REQUIRE(meta.ok());
    CHECK((*meta)->tensor_count() == 36);
    CHECK((*meta)->info().metadata == std::map<std::string, std::string>{{"test", "metadata"}, {"version", "2.2"}});
  }
  SUBCASE("SafeTensors.jl shards") {
    const std::size_t counts[] = {19, 1, 2, 4, 7, 3};
    for (int i = 1; i <= 6; ++i) {
      const auto name = "SafeTensors.jl/sharded/model-0000" + std::to_string(i) + "-of-00006.safetensors";
      auto s = internal::open_safetensors(kCorpus / name, {});
      REQUIRE_MESSAGE(s.ok(), name);
      CHECK((*s)->tensor_count() == counts[i - 1]);
      CHECK((*s)->info().metadata == std::map<std::string, std::string>{{"format", "pt"}});
    }
  }
  SUBCASE("open_source detects safetensors") {
    auto s = open_source(kCorpus / "candle/jfk-codes.safetensors");
    REQUIRE(s.ok());
    CHECK((*s)->format() == Format::kSafetensors);
  }
}

TEST_CASE("safetensors writer reproduces the official layout byte for byte") {
  TempDir dir;
  std::vector<std::string> identical, different;
  for (const auto& name : kCorpusFiles) {
    auto s = internal::open_safetensors(kCorpus / name, {});
    REQUIRE_MESSAGE(s.ok(), name);
    const auto out = dir / "out.safetensors";
    auto st = internal::write_safetensors(**s, out);
    REQUIRE_MESSAGE(st.ok(), name << ": " << st.error().to_string());
    if (owf::test::slurp(out) == owf::test::slurp(kCorpus / name))
      identical.push_back(name);
    else
      different.push_back(name);
    // Whatever the layout, the content is the same.
    auto back = internal::open_safetensors(out, {});
    REQUIRE(back.ok());
    CHECK(*compute_weights_digest(**back) == *compute_weights_digest(**s));
    CHECK((*back)->info() == (*s)->info());
  }
  MESSAGE("byte-identical: " << identical.size() << " of " << kCorpusFiles.size());
  for (const auto& d : different) MESSAGE("differs: " << d);
  CHECK(different.empty());
}

TEST_CASE("every corpus safetensors file and the OWF file written from it have the same weights digest") {
  TempDir dir;
  for (const auto& name : kCorpusFiles) {
    auto st = internal::open_safetensors(kCorpus / name, {});
    REQUIRE(st.ok());
    const Source& src = **st;
    const auto path = dir / "c.owf";
    ModelInfo info = src.info();
    info.license = owf::test::test_license();
    write_owf_copy(src, info, path);
    auto f = File::open(path);
    REQUIRE_MESSAGE(f.ok(), name << ": " << f.error().to_string());
    CHECK_MESSAGE(f->weights_digest() == *compute_weights_digest(src), name);
    CHECK(f->info().metadata == src.info().metadata);
  }
}

TEST_CASE("safetensors -> OWF keeps the weights digest; model information survives OWF -> safetensors -> OWF") {
  TempDir dir;
  auto st = internal::open_safetensors(kCorpus / "SafeTensors.jl/model.with_metadata.safetensors", {});
  REQUIRE(st.ok());
  const Source& src = **st;
  const auto owf_path = dir / "m.owf";
  ModelInfo info = src.info();
  License license;
  license.spdx = "MIT";
  license.name = "MIT License";
  license.copyright = {"Copyright (c) \"FluxML\"", "line\nbreak \x01 ctrl"};
  info.license = license;
  info.provenance.name = "SafeTensors.jl test model";
  info.provenance.authors = {"a", "b"};
  info.provenance.base_models.push_back({"base", {}});
  info.provenance.base_models[0].weights_digest[0] = 0xAB;
  info.provenance.created = "2026-01-01T00:00:00Z";
  info.hyperparameters["bool"] = Value(true);
  info.hyperparameters["i64"] = Value(std::int64_t{-5});
  info.hyperparameters["u64"] = Value(static_cast<std::int64_t>(UINT64_MAX), IntType::kU64);
  info.hyperparameters["u8"] = Value(std::int64_t{255}, IntType::kU8);
  info.hyperparameters["f64"] = Value(0.1);
  info.hyperparameters["f32"] = Value(static_cast<double>(0.1f), FloatType::kF32);
  info.hyperparameters["inf"] = Value(-HUGE_VAL);
  info.hyperparameters["s"] = Value("x \"y\" \\ é");
  info.hyperparameters["vb"] = Value(std::vector<bool>{true, false});
  info.hyperparameters["vi"] = Value(std::vector<std::int64_t>{1, -2, 3}, IntType::kI16);
  info.hyperparameters["vf"] = Value(std::vector<double>{1.5, 1e300, -0.0}, FloatType::kF64);
  info.hyperparameters["vs"] = Value(std::vector<std::string>{"a", ""});
  info.hyperparameters["vu"] = Value(std::vector<std::int64_t>{0, 4000000000}, IntType::kU32);
  write_owf_copy(src, info, owf_path);
  auto owf_file = open_source(owf_path);
  REQUIRE_MESSAGE(owf_file.ok(), owf_file.error().to_string());
  CHECK(*compute_weights_digest(**owf_file) == *compute_weights_digest(src));

  const auto back_path = dir / "back.safetensors";
  REQUIRE(internal::write_safetensors(**owf_file, back_path).ok());
  auto back = internal::open_safetensors(back_path, {});
  REQUIRE_MESSAGE(back.ok(), back.error().to_string());
  CHECK((*back)->info() == (*owf_file)->info());
  CHECK((*back)->info().metadata.at("test") == "metadata");
  CHECK(*compute_weights_digest(**back) == *compute_weights_digest(src));
  // Same tensors, same layout as the original file; only the header grew.
  CHECK((*back)->tensor_count() == 36);
}

TEST_CASE("safetensors writer refuses what the format cannot hold") {
  TempDir dir;
  auto make = [&](DType dtype, std::vector<std::uint64_t> shape, const std::string& name) {
    const auto p = dir / "src.owf";
    auto w = Writer::create(p);
    REQUIRE(w.ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    std::vector<std::byte> data(*tensor_byte_size(dtype, shape));
    REQUIRE(w->add_tensor({name, dtype, shape, Role::kWeight}, data).ok());
    REQUIRE(w->finish().ok());
    auto s = open_source(p);
    REQUIRE(s.ok());
    return std::move(*s);
  };
  SUBCASE("quantized") {
    auto s = make(DType::kQ4_0, {2, 32}, "q");
    auto st = internal::write_safetensors(*s, dir / "o.safetensors");
    CHECK(st.code() == ErrorCode::kForeignFormatUnsupported);
    CHECK(st.error().message().find("'q'") != std::string::npos);
    CHECK(st.error().message().find("Q4_0") != std::string::npos);
    CHECK(!std::filesystem::exists(dir / "o.safetensors"));
  }
  SUBCASE("C128") {
    auto s = make(DType::kC128, {2}, "c");
    CHECK(internal::write_safetensors(*s, dir / "o.safetensors").code() == ErrorCode::kForeignFormatUnsupported);
  }
  SUBCASE("F4 with an odd element count") {
    auto s = make(DType::kF4_E2M1, {3}, "f4");
    CHECK(internal::write_safetensors(*s, dir / "o.safetensors").code() == ErrorCode::kForeignFormatUnsupported);
  }
  SUBCASE("sub-byte floats with whole bytes round-trip") {
    auto s = make(DType::kF6_E3M2, {2, 4}, "f6");
    REQUIRE(internal::write_safetensors(*s, dir / "o.safetensors").ok());
    auto back = internal::open_safetensors(dir / "o.safetensors", {});
    REQUIRE(back.ok());
    CHECK((*back)->tensor(0).dtype == DType::kF6_E3M2);
    CHECK((*back)->tensor(0).logical_bytes == 6);
  }
}

TEST_CASE("safetensors reader accepts every dtype, empty files and zero-size tensors") {
  TempDir dir;
  const std::pair<const char*, DType> all[] = {
      {"BOOL", DType::kBool},       {"U8", DType::kU8},           {"I8", DType::kI8},
      {"U16", DType::kU16},         {"I16", DType::kI16},         {"U32", DType::kU32},
      {"I32", DType::kI32},         {"U64", DType::kU64},         {"I64", DType::kI64},
      {"F16", DType::kF16},         {"BF16", DType::kBF16},       {"F32", DType::kF32},
      {"F64", DType::kF64},         {"C64", DType::kC64},         {"F8_E4M3", DType::kF8_E4M3FN},
      {"F8_E5M2", DType::kF8_E5M2}, {"F8_E8M0", DType::kF8_E8M0}, {"F4", DType::kF4_E2M1},
      {"F6_E2M3", DType::kF6_E2M3}, {"F6_E3M2", DType::kF6_E3M2},
  };
  for (const auto& entry : all) {
    // Plain variables: clang 14 lambdas (REQUIRE_MESSAGE) cannot capture structured bindings.
    const auto name = entry.first;
    const DType dtype = entry.second;
    const std::uint64_t bytes = *tensor_byte_size(dtype, std::vector<std::uint64_t>{4});
    const std::string h = std::string("{\"t\":{\"dtype\":\"") + name + "\",\"shape\":[4],\"data_offsets\":[0," +
                          std::to_string(bytes) + "]}}";
    auto s = open_header(dir, h, bytes);
    REQUIRE_MESSAGE(s.ok(), name << ": " << s.error().to_string());
    CHECK((*s)->tensor(0).dtype == dtype);
  }
  auto empty = open_header(dir, "{}", 0);
  REQUIRE(empty.ok());
  CHECK((*empty)->tensor_count() == 0);
  auto zero = open_header(
      dir,
      R"({"b":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
      4);
  REQUIRE(zero.ok());
  CHECK((*zero)->tensor(0).name == "a");
  CHECK((*zero)->tensor(1).name == "b");
  CHECK((*zero)->tensor(1).logical_bytes == 0);
}

TEST_CASE("safetensors reader refuses malformed files") {
  TempDir dir;
  const std::string ok_tensor = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  auto expect = [&](const std::string& header, std::size_t data, ErrorCode code, const char* needle) {
    auto s = open_header(dir, header, data);
    REQUIRE_FALSE_MESSAGE(s.ok(), header);
    CHECK_MESSAGE(s.code() == code, s.error().to_string());
    CHECK_MESSAGE(s.error().message().find(needle) != std::string::npos, s.error().to_string());
  };
  SUBCASE("sanity: the well-formed base opens") { CHECK(open_header(dir, "{" + ok_tensor + "}", 8).ok()); }
  SUBCASE("file shorter than the length field") {
    std::vector<std::byte> b(5);
    CHECK(open_bytes(dir, b).code() == ErrorCode::kTruncated);
  }
  SUBCASE("header length above 100 MB") {
    auto b = st_file("{}", 0);
    const std::uint64_t n = 100'000'001;
    std::memcpy(b.data(), &n, 8);
    CHECK(open_bytes(dir, b).code() == ErrorCode::kLimitExceeded);
  }
  SUBCASE("header length beyond the file") {
    auto b = st_file("{}", 0);
    const std::uint64_t n = 1000;
    std::memcpy(b.data(), &n, 8);
    CHECK(open_bytes(dir, b).code() == ErrorCode::kTruncated);
  }
  SUBCASE("header not UTF-8") { expect("{\"\xff\":1}", 0, ErrorCode::kForeignFormatInvalid, "not UTF-8"); }
  SUBCASE("header not JSON") { expect("{\"t\":", 0, ErrorCode::kForeignFormatInvalid, "not valid JSON"); }
  SUBCASE("header not an object") {
    auto b = st_file("[1, 2]", 0);
    auto s = open_bytes(dir, b);
    CHECK(s.code() == ErrorCode::kForeignFormatInvalid);
  }
  SUBCASE("duplicate tensor name") {
    expect("{" + ok_tensor + "," + ok_tensor + "}", 8, ErrorCode::kForeignFormatInvalid, "duplicate key \"t\"");
  }
  SUBCASE("duplicate field") {
    expect(R"({"t":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8,
           ErrorCode::kForeignFormatInvalid, "duplicate key \"dtype\"");
  }
  SUBCASE("duplicate shape, data_offsets, __metadata__") {
    expect(R"({"t":{"dtype":"F32","shape":[2],"shape":[2],"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid,
           "duplicate key \"shape\"");
    expect(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"data_offsets":[0,8]}})", 8,
           ErrorCode::kForeignFormatInvalid, "duplicate key \"data_offsets\"");
    expect(R"({"__metadata__":{},"__metadata__":{}})", 0, ErrorCode::kForeignFormatInvalid,
           "duplicate key \"__metadata__\"");
  }
  SUBCASE("a repeated name among many tensors, far apart") {
    std::string header = "{";
    for (int i = 0; i < 1000; ++i)
      header += "\"n" + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},";
    header += "\"n17\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    expect(header, 0, ErrorCode::kForeignFormatInvalid, "duplicate key \"n17\"");
  }
  SUBCASE("duplicate metadata key") {
    expect(R"({"__metadata__":{"a":"1","a":"2"}})", 0, ErrorCode::kForeignFormatInvalid, "duplicate key \"a\"");
  }
  SUBCASE("metadata value not a string") {
    expect(R"({"__metadata__":{"a":1}})", 0, ErrorCode::kForeignFormatInvalid, "must be a string");
  }
  SUBCASE("metadata not an object") {
    expect(R"({"__metadata__":"x"})", 0, ErrorCode::kForeignFormatInvalid, "__metadata__");
  }
  SUBCASE("unknown dtype") {
    expect(R"({"t":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid,
           "unknown dtype");
  }
  SUBCASE("dtype without an OWF equivalent") {
    expect(R"({"t":{"dtype":"F8_E4M3FNUZ","shape":[2],"data_offsets":[0,2]}})", 2, ErrorCode::kForeignFormatUnsupported,
           "F8_E4M3FNUZ");
  }
  SUBCASE("shape not a list") {
    expect(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid, "shape");
  }
  SUBCASE("negative dimension") {
    expect(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid, "shape");
  }
  SUBCASE("fractional dimension") {
    expect(R"({"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid, "shape");
  }
  SUBCASE("nested shape") {
    expect(R"({"t":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid, "shape");
  }
  SUBCASE("data_offsets of one entry") {
    expect(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", 8, ErrorCode::kForeignFormatInvalid,
           "[begin, end]");
  }
  SUBCASE("data_offsets of three entries") {
    expect(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", 8, ErrorCode::kForeignFormatInvalid,
           "more than 2");
  }
  SUBCASE("begin > end") {
    expect(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8, ErrorCode::kForeignFormatInvalid,
           "begin > end");
  }
  SUBCASE("missing field") {
    expect(R"({"t":{"dtype":"F32","shape":[2]}})", 8, ErrorCode::kForeignFormatInvalid, "no data_offsets");
  }
  SUBCASE("unknown field") {
    expect(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8, ErrorCode::kForeignFormatInvalid,
           "unknown field");
  }
  SUBCASE("size differs from dtype x shape") {
    expect(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, ErrorCode::kForeignFormatInvalid,
           "needs 12");
  }
  SUBCASE("shape overflow") {
    expect(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8,
           ErrorCode::kForeignFormatInvalid, "overflow");
  }
  SUBCASE("F4 elements that do not fill whole bytes") {
    expect(R"({"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2, ErrorCode::kForeignFormatInvalid,
           "whole bytes");
  }
  SUBCASE("overlapping tensors") {
    expect(
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
        12, ErrorCode::kForeignFormatInvalid, "overlaps");
  }
  SUBCASE("gap between tensors") {
    expect(
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
        12, ErrorCode::kForeignFormatInvalid, "gap of 4 bytes");
  }
  SUBCASE("gap at the start") {
    expect(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, ErrorCode::kForeignFormatInvalid, "gap");
  }
  SUBCASE("trailing bytes") { expect("{" + ok_tensor + "}", 12, ErrorCode::kForeignFormatInvalid, "trailing bytes"); }
  SUBCASE("offsets beyond the file") { expect("{" + ok_tensor + "}", 4, ErrorCode::kTruncated, "beyond the end"); }
  SUBCASE("too many tensors for the limits") {
    auto b = st_file("{" + ok_tensor + "}", 8);
    owf::test::spit(dir / "l.safetensors", b);
    Limits limits;
    limits.max_tensors = 0;
    CHECK(internal::open_safetensors(dir / "l.safetensors", limits).code() == ErrorCode::kLimitExceeded);
  }
  SUBCASE("rank above the limit") {
    std::string shape = "[";
    for (int i = 0; i < 65; ++i) shape += i ? ",1" : "1";
    expect(R"({"t":{"dtype":"U8","shape":)" + shape + R"(],"data_offsets":[0,1]}})", 1, ErrorCode::kLimitExceeded,
           "dimensions");
  }
  SUBCASE("malformed OWF model information") {
    expect(R"({"__metadata__":{"owf.hparam.x":"{\"i8\":300}"}})", 0, ErrorCode::kBadMetadata, "owf.hparam.x");
    expect(R"({"__metadata__":{"owf.hparam.x":"{\"i8\":1,\"i8\":2}"}})", 0, ErrorCode::kBadMetadata, "duplicate");
    expect(R"({"__metadata__":{"owf.hparam.x":"{\"i64[]\":[[1]]}"}})", 0, ErrorCode::kBadMetadata, "deeper");
    expect(R"({"__metadata__":{"owf.hparam.x":"{\"q8\":1}"}})", 0, ErrorCode::kBadMetadata, "unknown value type");
    expect(R"({"__metadata__":{"owf.hparam.bad..key":"{\"i8\":1}"}})", 0, ErrorCode::kBadMetadata, "bad..key");
    expect(R"({"__metadata__":{"owf.provenance.base_models":"[{\"name\":\"b\",\"weights_digest\":\"00\"}]"}})", 0,
           ErrorCode::kBadMetadata, "64 hex digits");
    expect(R"({"__metadata__":{"owf.license.name":"x"}})", 0, ErrorCode::kBadLicense, "owf.license.spdx");
    expect(R"({"__metadata__":{"owf.license.spdx":"Not-A-License"}})", 0, ErrorCode::kBadLicense, "Not-A-License");
  }
}

TEST_CASE("safetensors __metadata__ keeps a foreign license as plain metadata") {
  TempDir dir;
  auto s = open_header(dir, R"({"__metadata__":{"license":"apache-2.0","format":"pt"}})", 0);
  REQUIRE(s.ok());
  CHECK(!(*s)->info().license);
  CHECK((*s)->info().metadata.at("license") == "apache-2.0");
}

TEST_CASE("safetensors: ranged reads return the same bytes as whole reads") {
  auto src = open_source(kCorpus / "candle/mel_filters.safetensors");
  REQUIRE_MESSAGE(src.ok(), src.error().to_string());
  CHECK((*src)->ranged_reads());
  const TensorInfo t = (*src)->tensor(0);
  std::vector<std::byte> whole(t.logical_bytes);
  REQUIRE((*src)->read(0, whole).ok());
  for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4093}, t.logical_bytes - 17}) {
    CAPTURE(offset);
    std::vector<std::byte> piece(std::min<std::uint64_t>(17, t.logical_bytes - offset));
    REQUIRE((*src)->read_range(0, offset, piece).ok());
    CHECK(std::equal(piece.begin(), piece.end(), whole.begin() + static_cast<std::ptrdiff_t>(offset)));
  }
  std::vector<std::byte> past(2);
  CHECK((*src)->read_range(0, t.logical_bytes - 1, past).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("safetensors reader applies the tensor-name rule; the writer refuses names it cannot hold") {
  TempDir dir;
  auto expect = [&](const std::string& header, std::size_t data, ErrorCode code, const char* needle) {
    auto s = open_header(dir, header, data);
    REQUIRE_FALSE_MESSAGE(s.ok(), header);
    CHECK_MESSAGE(s.code() == code, s.error().to_string());
    CHECK_MESSAGE(s.error().message().find(needle) != std::string::npos, s.error().to_string());
  };
  SUBCASE("a NUL byte") {
    expect(
        R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b\u0000c":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
        2, ErrorCode::kBadTensorName, "the name of tensor 1 (in header order): the name has a NUL byte at byte 1");
  }
  SUBCASE("an empty name") {
    expect(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1, ErrorCode::kBadTensorName,
           "the name of tensor 0 (in header order): the name is empty");
  }
  SUBCASE("a name above max_name_bytes") {
    const std::string name(300, 'n');
    auto b = st_file("{\"" + name + R"(":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1);
    owf::test::spit(dir / "l.safetensors", b);
    Limits limits;
    limits.max_name_bytes = 299;
    auto s = internal::open_safetensors(dir / "l.safetensors", limits);
    CHECK(s.code() == ErrorCode::kLimitExceeded);
  }
  SUBCASE("the writer") {
    const auto out = dir / "out.safetensors";
    for (const auto& [name, code] :
         std::vector<std::pair<std::string, ErrorCode>>{{std::string("a\0b", 3), ErrorCode::kBadTensorName},
                                                        {"", ErrorCode::kBadTensorName},
                                                        {"\xc3", ErrorCode::kBadUtf8},
                                                        {"__metadata__", ErrorCode::kForeignFormatUnsupported}}) {
      owf::test::FakeSource src({{name, DType::kF32, {2}}}, true);
      CHECK(internal::write_safetensors(src, out).code() == code);
      CHECK(!std::filesystem::exists(out));
    }
  }
}

TEST_CASE("safetensors: a file that shrinks after it was opened is an io_error") {
  TempDir dir;
  const auto path = dir / "shrinks.safetensors";
  owf::test::spit(path, st_file(R"({"a":{"dtype":"F32","shape":[256],"data_offsets":[0,1024]}})", 1024));
  auto s = internal::open_safetensors(path, {});
  REQUIRE(s.ok());
  std::filesystem::resize_file(path, (*s)->tensor(0).offset + 100);
  std::vector<std::byte> out(1024);
  CHECK((*s)->read(0, out).code() == ErrorCode::kIoError);
  CHECK(compute_weights_digest(**s).code() == ErrorCode::kIoError);
  CHECK(internal::write_safetensors(**s, dir / "copy.safetensors").code() == ErrorCode::kIoError);
  CHECK(!std::filesystem::exists(dir / "copy.safetensors"));
}

TEST_CASE("safetensors writer streams tensors in bounded pieces and checks the size of its data buffer") {
  TempDir dir;
  const auto out = dir / "out.safetensors";
  SUBCASE("a tensor declared far larger than memory, from a source that reads pieces") {
    owf::test::FakeSource src({{"huge", DType::kF32, {1ull << 32}}}, true, 20ull << 20);
    CHECK(internal::write_safetensors(src, out).code() == ErrorCode::kIoError);
    CHECK(src.largest_read() <= internal::kPieceBytes);
    CHECK(!std::filesystem::exists(out));
  }
  SUBCASE("pieces are written in order") {
    owf::test::FakeSource src({{"t", DType::kU8, {(20ull << 20) + 3}}}, true);
    REQUIRE(internal::write_safetensors(src, out).ok());
    auto back = internal::open_safetensors(out, {});
    REQUIRE(back.ok());
    const auto bytes = read_as<std::uint8_t>(**back, 0);
    bool in_order = true;
    for (std::size_t i = 0; i < bytes.size(); ++i) in_order = in_order && bytes[i] == (i & 0xFF);
    CHECK(in_order);
    CHECK(src.largest_read() <= internal::kPieceBytes);
  }
  SUBCASE("from a source without ranged reads: a clear error, not an exception") {
    owf::test::FakeSource src({{"huge", DType::kI8, {2, 1ull << 62}}}, false);  // 2^63 bytes
    CHECK(internal::write_safetensors(src, out).code() == ErrorCode::kLimitExceeded);
    CHECK(!std::filesystem::exists(out));
  }
  SUBCASE("a data buffer above 2^64 bytes") {
    const std::uint64_t half = (1ull << 63) - 6;
    owf::test::FakeSource src({{"a", DType::kI8, {2, half}}, {"b", DType::kI8, {16}}}, true, 1u << 20);
    CHECK(internal::write_safetensors(src, out).code() == ErrorCode::kShapeOverflow);
    CHECK(!std::filesystem::exists(out));
  }
}
