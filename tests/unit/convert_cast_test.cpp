// convert() with tensors chosen by name (include, exclude) and cast to
// another dtype (cast_to): values against independent references, the
// provenance a cast records, what is left as it is, and sources that are
// corrupt or cannot be cast.
#include <doctest/doctest.h>
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "fake_source.hpp"
#include "owf/owf.hpp"
#include "reference_values.hpp"
#include "tensor_pieces.hpp"
#include "tensor_selection.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;

std::unique_ptr<Source> open_or_fail(const std::filesystem::path& path) {
  auto s = open_source(path);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(*s);
}

ConvertReport convert_or_fail(const Source& source, const std::filesystem::path& path, Format to,
                              ConvertOptions options) {
  if (!options.license) options.license = owf::test::test_license();
  auto r = convert(source, path, to, options);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  return *r;
}

std::vector<std::byte> tensor_bytes(const Source& source, std::size_t index) {
  std::vector<std::byte> out(source.tensor(index).logical_bytes);
  REQUIRE(source.read(index, out).ok());
  return out;
}

std::uint64_t data_bytes(const Source& source) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) n += source.tensor(i).logical_bytes;
  return n;
}

// A corpus file converted with a cast, both opened.
struct Cast {
  std::unique_ptr<Source> source, target;
  ConvertReport report;
};
Cast cast_file(const std::filesystem::path& corpus_file, const std::filesystem::path& target, Format to, DType dtype) {
  Cast c;
  c.source = open_or_fail(kCorpus / corpus_file);
  ConvertOptions options;
  options.cast_to = dtype;
  c.report = convert_or_fail(*c.source, target, to, options);
  c.target = open_or_fail(target);
  return c;
}

// f(tensor, index in source, index of the same name in target) for every
// tensor of `source`.
template <class F>
void for_each_counterpart(const Source& source, const Source& target, F f) {
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    CAPTURE(t.name);
    const auto j = target.find(t.name);
    REQUIRE(j);
    f(t, i, *j);
  }
}

std::set<std::string> names_of(const Source& source) {
  std::set<std::string> out;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) out.emplace(source.tensor(i).name);
  return out;
}

}  // namespace

TEST_CASE("convert: a BF16 cast of the corpus's F32 model rounds every value to nearest, in half the bytes") {
  TempDir dir;
  const Cast c = cast_file("python-gen-worker/stories260K.gguf", dir / "bf16.owf", Format::kOwf, DType::kBF16);
  const Source& f32 = *c.source;
  const Source& bf16 = *c.target;
  const ConvertReport& report = c.report;
  const auto source_digest = compute_weights_digest(f32);
  REQUIRE(source_digest.ok());
  CHECK(report.cast_count == 48);
  CHECK(report.left_out == 0);
  CHECK(report.checked);
  REQUIRE(report.source_weights_digest);
  CHECK(*report.source_weights_digest == *source_digest);
  CHECK(report.weights_digest != *source_digest);
  CHECK(bf16.owf_file()->weights_digest() == report.weights_digest);
  REQUIRE(bf16.owf_file()->verify().ok());
  CHECK(data_bytes(bf16) * 2 == data_bytes(f32));
  CHECK(names_of(bf16) == names_of(f32));
  for_each_counterpart(f32, bf16, [&](const TensorInfo& t, std::size_t i, std::size_t j) {
    REQUIRE(bf16.tensor(j).dtype == DType::kBF16);
    CHECK(std::ranges::equal(bf16.tensor(j).shape, t.shape));
    const auto original = tensor_bytes(f32, i);
    const auto cast = tensor_bytes(bf16, j);
    bool nearest = true;
    for (std::size_t k = 0; k < t.element_count; ++k) {
      float x;
      std::uint16_t y;
      std::memcpy(&x, original.data() + 4 * k, 4);
      std::memcpy(&y, cast.data() + 2 * k, 2);
      nearest = nearest && y == owf::test::bf16_nearest(x);
    }
    CHECK(nearest);
  });

  // The cast is recorded: the source as a base model, and two metadata keys.
  const ModelInfo& info = bf16.info();
  REQUIRE(info.provenance.base_models.size() == 1);
  CHECK(info.provenance.base_models[0].weights_digest == *source_digest);
  CHECK(info.provenance.base_models[0].name == f32.info().provenance.name);
  CHECK(info.metadata.at("owf.cast.from_weights_digest") == to_hex(*source_digest));
  CHECK(info.metadata.at("owf.cast.dtype") == "BF16");

  // The OWF files' sizes follow the data: the F32 copy is about twice as large.
  convert_or_fail(f32, dir / "f32.owf", Format::kOwf, {});
  const double ratio = static_cast<double>(std::filesystem::file_size(dir / "bf16.owf")) /
                       static_cast<double>(std::filesystem::file_size(dir / "f32.owf"));
  MESSAGE("BF16 / F32 file size: ", ratio);
  CHECK(ratio < 0.55);
}

TEST_CASE("convert: the corpus's Q8_0 model cast to F32 equals an independent dequantization") {
  TempDir dir;
  const Cast c = cast_file("llama4j/tinyllamas-stories-260k-q8_0.gguf", dir / "f32.owf", Format::kOwf, DType::kF32);
  const auto& q8 = c.source;
  const auto& f32 = c.target;
  CHECK(c.report.cast_count == 37);
  REQUIRE(f32->tensor_count() == q8->tensor_count());
  int dequantized = 0;
  for_each_counterpart(*q8, *f32, [&](const TensorInfo& t, std::size_t i, std::size_t j) {
    REQUIRE(f32->tensor(j).dtype == DType::kF32);
    const auto raw = tensor_bytes(*q8, i);
    const auto got = tensor_bytes(*f32, j);
    if (t.dtype != DType::kQ8_0) {
      CHECK(raw == got);  // F32 tensors are copied as they are
      return;
    }
    ++dequantized;
    const std::vector<float> want = owf::test::dequantize_q8_0(raw);
    REQUIRE(got.size() == 4 * want.size());
    CHECK(std::memcmp(got.data(), want.data(), got.size()) == 0);
  });
  CHECK(dequantized == 37);
}

TEST_CASE("convert: a cast keeps integer tensors, and tensors already of the target dtype, as they are") {
  TempDir dir;
  const Cast c = cast_file("burn/mnist.safetensors", dir / "f16.safetensors", Format::kSafetensors, DType::kF16);
  CHECK(c.report.cast_count == 18);  // all but the two I64 tensors
  const auto& mnist = c.source;
  const auto& f16 = c.target;
  int kept = 0;
  for_each_counterpart(*mnist, *f16, [&](const TensorInfo& t, std::size_t i, std::size_t j) {
    if (t.dtype == DType::kI64) {
      ++kept;
      CHECK(f16->tensor(j).dtype == DType::kI64);
      CHECK(*f16->tensor_sha256(j) == *mnist->tensor_sha256(i));
    } else {
      CHECK(f16->tensor(j).dtype == DType::kF16);
    }
  });
  CHECK(kept == 2);

  // Cast again to F16: nothing changes, and the record of the first cast
  // (kept in safetensors' __metadata__) is carried over as it is.
  ConvertOptions options;
  options.cast_to = DType::kF16;
  const ConvertReport again = convert_or_fail(*f16, dir / "again.owf", Format::kOwf, options);
  CHECK(again.cast_count == 0);
  CHECK(!again.source_weights_digest);
  CHECK(again.weights_digest == *compute_weights_digest(*f16));
  const auto reread = open_or_fail(dir / "again.owf");
  CHECK(reread->info().metadata.at("owf.cast.from_weights_digest") == to_hex(*compute_weights_digest(*mnist)));
  CHECK(reread->info().provenance.base_models.size() == 1);
}

TEST_CASE("convert: include and exclude choose tensors by whole name") {
  TempDir dir;
  const auto model = open_or_fail(kCorpus / "python-gen-worker" / "stories260K.gguf");
  std::set<std::string> want;
  for (const std::string& name : names_of(*model))
    if (name.starts_with("blk.0.") && name.find("ffn") == std::string::npos) want.insert(name);
  REQUIRE(!want.empty());

  ConvertOptions options;
  options.include = {"blk.0.*"};
  options.exclude = {"*ffn*", "blk.[1-4].*"};
  const ConvertReport report = convert_or_fail(*model, dir / "part.owf", Format::kOwf, options);
  CHECK(report.tensor_count == want.size());
  CHECK(report.left_out == model->tensor_count() - want.size());
  CHECK(report.cast_count == 0);
  const auto part = open_or_fail(dir / "part.owf");
  CHECK(names_of(*part) == want);
  // The chosen tensors are copied exactly.
  for (std::size_t i = 0; i < part->tensor_count(); ++i)
    CHECK(*part->tensor_sha256(i) == *model->tensor_sha256(*model->find(part->tensor(i).name)));

  SUBCASE("a pattern must match a whole name") {
    options.include = {"blk.0"};
    options.exclude = {};
    const auto r = convert(*model, dir / "none.owf", Format::kOwf, options);
    CHECK(r.code() == ErrorCode::kInvalidArgument);
    CHECK(r.error().message().find("'blk.0'") != std::string::npos);
    CHECK(!std::filesystem::exists(dir / "none.owf"));
  }
  SUBCASE("an exclude pattern that matches nothing is an error too") {
    options.exclude = {"*fnn*"};
    const auto r = convert(*model, dir / "none.owf", Format::kOwf, options);
    CHECK(r.code() == ErrorCode::kInvalidArgument);
    CHECK(r.error().message().find("'*fnn*'") != std::string::npos);
  }
  SUBCASE("leaving no tensor is an error") {
    options.include = {};
    options.exclude = {"*"};
    const auto r = convert(*model, dir / "none.gguf", Format::kGguf, options);
    CHECK(r.code() == ErrorCode::kInvalidArgument);
    CHECK(!std::filesystem::exists(dir / "none.gguf"));
  }
}

TEST_CASE("convert: glob patterns match as fnmatch(3) does") {
  const char* names[] = {"", "a", "ab", "abc", "a.b", "a/b", "[a]", "a*b", "a?b", "-", "]", "!", "x.weight", "x\\y"};
  const char* patterns[] = {"",      "*",     "?",   "a*",   "*b",    "a?b",   "a*b*", "[ab]*",  "[!a]*",
                            "[^a]*", "[a-c]", "[]]", "[!]]", "[-]",   "[a-]",  "[",    "[a",     "a\\*b",
                            "a\\?b", "\\[a]", "*.*", "**b",  "*[.]*", "x.w*t", "?*?",  "x\\\\y", "[z-a]"};
  for (const char* p : patterns)
    for (const char* n : names) {
      CAPTURE(p);
      CAPTURE(n);
      CHECK(internal::glob_match(p, n) == (::fnmatch(p, n, 0) == 0));
    }
}

TEST_CASE("convert: a cast of a corrupt OWF source fails and writes nothing") {
  TempDir dir;
  const auto model = open_or_fail(kCorpus / "python-gen-worker" / "stories260K.gguf");
  convert_or_fail(*model, dir / "good.owf", Format::kOwf, {});
  // Damage one byte inside the data of one tensor.
  std::vector<std::byte> bytes = owf::test::slurp(dir / "good.owf");
  const auto good = open_or_fail(dir / "good.owf");
  const TensorInfo victim = good->tensor(*good->find("blk.2.attn_q.weight"));
  bytes[victim.offset + victim.stored_bytes / 2] ^= std::byte{0x10};
  owf::test::spit(dir / "bad.owf", bytes);
  const auto bad = open_or_fail(dir / "bad.owf");

  ConvertOptions cast, chosen;
  cast.cast_to = DType::kBF16;
  chosen.include = {"blk.2.*"};
  for (const ConvertOptions* options : {&cast, &chosen})
    for (Format to : {Format::kOwf, Format::kSafetensors, Format::kGguf}) {
      CAPTURE(format_name(to));
      CAPTURE(options == &cast);
      const std::filesystem::path target = dir / ("out." + std::string(format_name(to)));
      ConvertOptions o = *options;
      o.license = owf::test::test_license();
      const auto r = convert(*bad, target, to, o);
      CHECK(r.code() == ErrorCode::kTensorDigestMismatch);
      CHECK(r.error().message().find("blk.2.attn_q.weight") != std::string::npos);
      CHECK(!std::filesystem::exists(target));
    }
  // Leaving the damaged tensor out converts the rest.
  ConvertOptions options;
  options.cast_to = DType::kBF16;
  options.exclude = {"blk.2.attn_q.weight"};
  CHECK(convert_or_fail(*bad, dir / "rest.owf", Format::kOwf, options).cast_count == 47);
}

TEST_CASE("convert: casting in pieces, from sources with and without ranged reads") {
  TempDir dir;
  // 3 Mi F32 elements (12 MiB): several pieces; and Q8_0 blocks, 1 Mi elements.
  const std::vector<owf::test::FakeTensor> tensors = {
      {"big", DType::kF32, {3, 1024, 1024}}, {"q", DType::kQ8_0, {1024, 1024}}, {"n", DType::kI32, {5}}};
  const owf::test::FakeSource ranged(tensors, true);
  const owf::test::FakeSource whole(tensors, false);
  ConvertOptions options;
  options.cast_to = DType::kF16;
  options.cast_encoding.saturate = true;
  const ConvertReport a = convert_or_fail(ranged, dir / "a.owf", Format::kOwf, options);
  const ConvertReport b = convert_or_fail(whole, dir / "b.owf", Format::kOwf, options);
  CHECK(a.cast_count == 2);
  CHECK(a.weights_digest == b.weights_digest);
  MESSAGE("largest read of the ranged source: ", ranged.largest_read());
  CHECK(ranged.largest_read() <= internal::kPieceBytes);  // never the whole 12 MiB tensor

  // The cast values are the library's decoding, encoded (saturated).
  const auto out = open_or_fail(dir / "a.owf");
  for (const char* name : {"big", "q"}) {
    CAPTURE(name);
    const std::size_t i = *ranged.find(name);
    const TensorInfo t = ranged.tensor(i);
    std::vector<double> values(t.element_count);
    REQUIRE(read_elements(ranged, i, 0, std::span(values)).ok());
    std::vector<std::byte> want(2 * values.size());
    EncodeOptions saturate;
    saturate.saturate = true;
    REQUIRE(encode_elements(std::span<const double>(values), DType::kF16, want, saturate).ok());
    CHECK(tensor_bytes(*out, *out->find(name)) == want);
  }
}

TEST_CASE("convert: what cannot be cast is named") {
  TempDir dir;
  const owf::test::FakeSource complex({{"w", DType::kF32, {4}}, {"z", DType::kC64, {4}}}, true);
  ConvertOptions options;
  options.cast_to = DType::kBF16;
  options.license = owf::test::test_license();
  auto r = convert(complex, dir / "c.owf", Format::kOwf, options);
  CHECK(r.code() == ErrorCode::kUnsupported);
  CHECK(r.error().message().find("'z'") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "c.owf"));
  options.exclude = {"z"};
  CHECK(convert(complex, dir / "c.owf", Format::kOwf, options).ok());

  options.cast_to = DType::kQ8_0;
  r = convert(complex, dir / "q.owf", Format::kOwf, options);
  CHECK(r.code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("convert: a GGUF target refuses a dtype GGUF cannot store, naming the tensor and the ways out") {
  TempDir dir;
  const auto all = open_or_fail(kCorpus / "SafeTensors.jl" / "model.safetensors");
  ConvertOptions options;
  options.license = owf::test::test_license();
  auto r = convert(*all, dir / "all.gguf", Format::kGguf, options);
  CHECK(r.code() == ErrorCode::kForeignFormatUnsupported);
  CHECK(r.error().message().find("GGUF cannot store: leave it out or cast it to F32, F16 or BF16") !=
        std::string::npos);
  options.exclude = {"float8_*"};
  r = convert(*all, dir / "all.gguf", Format::kGguf, options);
  CHECK(r.code() == ErrorCode::kForeignFormatUnsupported);
  CHECK(r.error().message().find("GGUF cannot store: leave it out") != std::string::npos);
  CHECK(r.error().message().find("cast") == std::string::npos);  // integers and BOOL are never cast

  options.exclude = {"uint8_*", "bool_*"};
  options.cast_to = DType::kF32;
  const ConvertReport report = convert_or_fail(*all, dir / "all.gguf", Format::kGguf, options);
  CHECK(report.left_out == 6);
  CHECK(report.cast_count == 15);  // F16, BF16, F64, F8_E4M3FN and F8_E5M2, three tensors each
  const auto gguf = open_or_fail(dir / "all.gguf");
  CHECK(gguf->info().metadata.at("owf.cast.dtype") == "F32");
}
