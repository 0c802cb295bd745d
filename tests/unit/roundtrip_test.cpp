// Writing and reading OWF files: every dtype, scalars, empty tensors,
// metadata of every type, determinism and interrupted writes.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <filesystem>

#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

std::vector<std::byte> bytes_for(DType dtype, const std::vector<std::uint64_t>& shape, std::uint32_t seed) {
  auto size = tensor_byte_size(dtype, shape);
  REQUIRE(size.ok());
  return owf::test::make_canonical(dtype, element_count(shape).value(),
                                   owf::test::pseudo_random_bytes(static_cast<std::size_t>(*size), seed));
}

}  // namespace

TEST_CASE("every dtype round-trips with its bytes, shape and digest") {
  TempDir dir;
  const auto path = dir / "all.owf";
  std::map<std::string, std::pair<TensorSpec, std::vector<std::byte>>> written;
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    std::uint32_t seed = 1;
    for (const auto& info : all_dtypes()) {
      const std::uint64_t row = info.row_blocked ? info.block_elements * 2 : 6;
      TensorSpec spec{std::string("t.") + std::string(info.name), info.dtype, {3, row}, Role::kWeight};
      auto data = bytes_for(info.dtype, spec.shape, seed++);
      REQUIRE(w->add_tensor(spec, data).ok());
      written[spec.name] = {spec, data};
    }
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->tensor_count() == written.size());
  CHECK(f->verify().ok());
  for (const auto& [name, entry] : written) {
    auto t = f->tensor(name);
    REQUIRE(t.ok());
    CHECK(t->dtype == entry.first.dtype);
    CHECK(std::vector<std::uint64_t>(t->shape.begin(), t->shape.end()) == entry.first.shape);
    CHECK(t->role == Role::kWeight);
    auto view = f->bytes(*t);
    REQUIRE(view.ok());
    CHECK(std::equal(view->begin(), view->end(), entry.second.begin(), entry.second.end()));
    std::vector<std::byte> copy(t->logical_bytes);
    CHECK(f->read(*t, copy, true).ok());
    CHECK(copy == entry.second);
    CHECK(t->offset % 64 == 0);
  }
}

TEST_CASE("scalars and zero-size tensors") {
  TempDir dir;
  const auto path = dir / "edge.owf";
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    const float pi = 3.14159f;
    REQUIRE(w->add_tensor({"scalar", DType::kF32, {}, Role::kOther}, std::as_bytes(std::span(&pi, 1))).ok());
    REQUIRE(w->add_tensor({"empty", DType::kF32, {0, 7}, Role::kOther}, {}).ok());
    REQUIRE(w->add_tensor({"empty.q", DType::kQ4_K, {0}, Role::kOther}, {}).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  auto scalar = f->view<float>("scalar");
  REQUIRE(scalar.ok());
  REQUIRE(scalar->size() == 1);
  CHECK((*scalar)[0] == doctest::Approx(3.14159f));
  CHECK(f->tensor("scalar")->shape.empty());
  auto empty = f->tensor("empty");
  REQUIRE(empty.ok());
  CHECK(empty->logical_bytes == 0);
  CHECK(empty->element_count == 0);
  CHECK(empty->offset == 0);
  CHECK(f->verify().ok());
}

TEST_CASE("hyperparameters, metadata, license and provenance round-trip") {
  TempDir dir;
  const auto path = dir / "meta.owf";
  ModelInfo info;
  info.license = License{"MIT OR Apache-2.0",
                         "MIT",
                         "MIT License",
                         "https://opensource.org/licenses/MIT",
                         "Permission is hereby granted...",
                         {"2026 OWF authors"},
                         "Please cite us.",
                         "No weapons."};
  info.provenance.name = "house-price";
  info.provenance.version = "1.0";
  info.provenance.architecture = "mlp";
  info.provenance.authors = {"Ada", "Grace"};
  info.provenance.base_models = {{"base", *digest_from_hex(std::string(64, 'a'))}};
  info.provenance.software = "unit test";
  info.hyperparameters["model.hidden_size"] = Value(std::int64_t{4}, IntType::kU32);
  info.hyperparameters["training.learning_rate"] = Value(0.001);
  info.hyperparameters["training.momentum"] = Value(0.5, FloatType::kF32);
  info.hyperparameters["model.activation"] = Value("relu");
  info.hyperparameters["model.use_bias"] = Value(true);
  info.hyperparameters["model.layers"] = Value(std::vector<std::int64_t>{2, 4, 1});
  info.hyperparameters["model.scales"] = Value(std::vector<double>{0.5, 1.5});
  info.hyperparameters["model.names"] = Value(std::vector<std::string>{"a", "ü", ""});
  info.hyperparameters["model.flags"] = Value(std::vector<bool>{true, false});
  info.hyperparameters["model.big"] = Value(static_cast<std::int64_t>(UINT64_MAX), IntType::kU64);
  info.metadata["format"] = "pt";
  info.metadata["émoji 🙂"] = "value";
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->set_info(info).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->info() == info);
  CHECK(f->tensor_count() == 0);
}

TEST_CASE("a -0.0 hyperparameter keeps its sign (FlatBuffers would drop it as the default 0.0)") {
  TempDir dir;
  const auto path = dir / "zero.owf";
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->set_hyperparameter("f.neg-zero", Value(-0.0)).ok());
    REQUIRE(w->set_hyperparameter("f.neg-zero-f32", Value(-0.0, FloatType::kF32)).ok());
    REQUIRE(w->set_hyperparameter("f.zero", Value(0.0)).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  const auto& h = f->info().hyperparameters;
  CHECK(std::signbit(std::get<double>(h.at("f.neg-zero").data)));
  CHECK(std::signbit(std::get<double>(h.at("f.neg-zero-f32").data)));
  CHECK(h.at("f.neg-zero-f32").float_type == FloatType::kF32);
  CHECK_FALSE(std::signbit(std::get<double>(h.at("f.zero").data)));
}

TEST_CASE("writing is deterministic: the same inputs give identical bytes") {
  TempDir dir;
  auto write = [&](const std::filesystem::path& p) {
    auto w = Writer::create(p);
    REQUIRE(w.ok());
    // Added in a different order than the manifest stores them.
    REQUIRE(w->add_tensor({"z", DType::kF32, {4}, Role::kWeight}, bytes_for(DType::kF32, {4}, 1)).ok());
    REQUIRE(w->add_tensor({"a", DType::kI8, {3}, Role::kBias}, bytes_for(DType::kI8, {3}, 2)).ok());
    REQUIRE(w->set_hyperparameter("x.y", Value(1.5)).ok());
    REQUIRE(w->set_metadata("k", "v").ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  };
  write(dir / "1.owf");
  write(dir / "2.owf");
  CHECK(owf::test::slurp(dir / "1.owf") == owf::test::slurp(dir / "2.owf"));
}

TEST_CASE("the weights digest ignores layout and metadata but not weights") {
  TempDir dir;
  auto write = [&](const std::filesystem::path& p, std::uint64_t alignment, const std::string& license,
                   std::uint32_t seed) {
    WriteOptions o;
    o.alignment = alignment;
    auto w = Writer::create(p, o);
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"w", DType::kF32, {2, 2}, Role::kWeight}, bytes_for(DType::kF32, {2, 2}, seed)).ok());
    REQUIRE(w->add_tensor({"b", DType::kF32, {2}, Role::kBias}, bytes_for(DType::kF32, {2}, 9)).ok());
    REQUIRE(w->set_license(License{license}).ok());
    REQUIRE(w->finish().ok());
    auto f = File::open(p);
    REQUIRE(f.ok());
    return f->weights_digest();
  };
  const auto a = write(dir / "a.owf", 64, "MIT", 1);
  const auto b = write(dir / "b.owf", 4096, "NOASSERTION", 1);
  const auto c = write(dir / "c.owf", 64, "MIT", 2);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("alignment up to the 2 MiB maximum is honoured") {
  TempDir dir;
  for (std::uint64_t alignment : {1ull, 8ull, 4096ull, 1ull << 21}) {
    CAPTURE(alignment);
    const auto path = dir / ("a" + std::to_string(alignment) + ".owf");
    WriteOptions o;
    o.alignment = alignment;
    auto w = Writer::create(path, o);
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"x", DType::kU8, {3}, Role::kOther}, bytes_for(DType::kU8, {3}, 1)).ok());
    REQUIRE(w->add_tensor({"y", DType::kU8, {5}, Role::kOther}, bytes_for(DType::kU8, {5}, 2)).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
    auto f = File::open(path);
    REQUIRE_MESSAGE(f.ok(), f.error().to_string());
    CHECK(f->alignment() == alignment);
    CHECK(f->tensor("y")->offset % alignment == 0);
  }
  WriteOptions bad;
  bad.alignment = 1ull << 22;
  CHECK(Writer::create(dir / "bad.owf", bad).code() == ErrorCode::kBadAlignment);
  bad.alignment = 48;
  CHECK(Writer::create(dir / "bad.owf", bad).code() == ErrorCode::kBadAlignment);
}

TEST_CASE("writer refusals") {
  TempDir dir;
  auto w = Writer::create(dir / "x.owf");
  REQUIRE(w.ok());
  CHECK(w->add_tensor({"", DType::kU8, {1}}, bytes_for(DType::kU8, {1}, 1)).code() == ErrorCode::kBadTensorName);
  CHECK(w->add_tensor({"a", DType::kU8, {2}}, bytes_for(DType::kU8, {1}, 1)).code() == ErrorCode::kTensorSizeMismatch);
  CHECK(w->add_tensor({"q", DType::kQ4_0, {30}}, {}).code() == ErrorCode::kTensorSizeMismatch);
  CHECK(w->add_tensor({"o", DType::kU8, {1ull << 40, 1ull << 40}}, {}).code() == ErrorCode::kShapeOverflow);
  REQUIRE(w->add_tensor({"a", DType::kU8, {1}}, bytes_for(DType::kU8, {1}, 1)).ok());
  CHECK(w->add_tensor({"a", DType::kU8, {1}}, bytes_for(DType::kU8, {1}, 1)).code() == ErrorCode::kDuplicateTensorName);
  CHECK(w->set_license(License{"Not-A-License"}).code() == ErrorCode::kBadLicense);
  CHECK(w->set_hyperparameter("bad key", Value(1)).code() == ErrorCode::kBadHyperparameter);
  CHECK(w->set_hyperparameter("x", Value(std::int64_t{300}, IntType::kU8)).code() == ErrorCode::kBadHyperparameter);
  CHECK(w->finish().code() == ErrorCode::kMissingLicense);
  CHECK_FALSE(std::filesystem::exists(dir / "x.owf"));
}

TEST_CASE("an unfinished writer leaves nothing under the target and keeps an older file intact") {
  TempDir dir;
  const auto path = dir / "model.owf";
  owf::test::spit(path, std::as_bytes(std::span("old contents", 12)));
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"a", DType::kU8, {4}}, bytes_for(DType::kU8, {4}, 1)).ok());
    // Destroyed without finish().
  }
  CHECK(owf::test::slurp(path).size() == 12);
  std::size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);  // no temporary file left behind
}

TEST_CASE("streamed tensors equal whole ones") {
  TempDir dir;
  const auto data = bytes_for(DType::kF32, {1000}, 7);
  {
    auto w = Writer::create(dir / "s.owf");
    REQUIRE(w.ok());
    REQUIRE(w->begin_tensor({"t", DType::kF32, {1000}}).ok());
    for (std::size_t at = 0; at < data.size(); at += 333)
      REQUIRE(w->append(std::span(data).subspan(at, std::min<std::size_t>(333, data.size() - at))).ok());
    REQUIRE(w->end_tensor().ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  {
    auto w = Writer::create(dir / "w.owf");
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"t", DType::kF32, {1000}}, data).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  CHECK(owf::test::slurp(dir / "s.owf") == owf::test::slurp(dir / "w.owf"));
}

TEST_CASE("source_of: a file opened from memory reads like one opened by path") {
  TempDir dir;
  const auto path = dir / "m.owf";
  const auto data = bytes_for(DType::kF32, {4, 2}, 7);
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->set_metadata("k", "v").ok());
    REQUIRE(w->add_tensor({"w", DType::kF32, {4, 2}, Role::kWeight}, data).ok());
    REQUIRE(w->finish().ok());
  }
  const auto bytes = owf::test::slurp(path);
  auto file = File::open_buffer(bytes);
  REQUIRE(file.ok());
  auto source = source_of(std::move(file).value());
  auto by_path = open_source(path);
  REQUIRE(by_path.ok());
  CHECK(source->format() == Format::kOwf);
  REQUIRE(source->owf_file() != nullptr);
  CHECK(source->tensor_count() == 1);
  CHECK(source->info() == (*by_path)->info());
  CHECK(source->alignment() == 64);
  std::vector<std::byte> out(data.size());
  REQUIRE(source->read(0, out).ok());
  CHECK(out == data);
  auto digest = compute_weights_digest(*source);
  auto expected = compute_weights_digest(**by_path);
  REQUIRE(digest.ok());
  REQUIRE(expected.ok());
  CHECK(*digest == *expected);
}

TEST_CASE("float hyperparameters keep every bit: negative zero and NaN payloads") {
  TempDir dir;
  const auto bits = [](double d) { return std::bit_cast<std::uint64_t>(d); };
  const std::uint64_t patterns[] = {1ull << 63, 0, 0x7FF0000000000001ull, 0xFFF8000000000123ull};
  ModelInfo info;
  info.license = owf::test::test_license();
  for (std::size_t i = 0; i < std::size(patterns); ++i)
    info.hyperparameters["f.s" + std::to_string(i)] = Value(std::bit_cast<double>(patterns[i]));
  info.hyperparameters["f.neg_zero.f32"] = Value(-0.0, FloatType::kF32);
  std::vector<double> all;
  for (auto p : patterns) all.push_back(std::bit_cast<double>(p));
  info.hyperparameters["f.all"] = Value(all);
  {
    auto w = Writer::create(dir / "f.owf");
    REQUIRE(w.ok());
    REQUIRE(w->set_info(info).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(dir / "f.owf");
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  const auto& hp = f->info().hyperparameters;
  for (std::size_t i = 0; i < std::size(patterns); ++i)
    CHECK(bits(std::get<double>(hp.at("f.s" + std::to_string(i)).data)) == patterns[i]);
  CHECK(bits(std::get<double>(hp.at("f.neg_zero.f32").data)) == 1ull << 63);
  const auto& back = std::get<std::vector<double>>(hp.at("f.all").data);
  REQUIRE(back.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(bits(back[i]) == patterns[i]);
}

TEST_CASE("dtypes of version 1.1 are written with their feature, and only they make a file 1.1") {
  TempDir dir;
  auto write = [&](const std::filesystem::path& path, std::vector<DType> dtypes) {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    for (std::size_t i = 0; i < dtypes.size(); ++i) {
      TensorSpec spec{"t" + std::to_string(i), dtypes[i], {2, dtype_info(dtypes[i])->block_elements}, Role::kWeight};
      REQUIRE(w->add_tensor(spec, bytes_for(dtypes[i], spec.shape, static_cast<std::uint32_t>(i))).ok());
    }
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  };
  auto features_of = [](const File& f) {
    return std::vector<std::string>(f.required_features().begin(), f.required_features().end());
  };

  write(dir / "old.owf", {DType::kQ8_0, DType::kF16});
  auto old = File::open(dir / "old.owf");
  REQUIRE(old.ok());
  CHECK(old->version().minor == 0);
  CHECK(old->required_features().empty());

  write(dir / "new.owf", {DType::kQ2_0, DType::kNVFP4, DType::kQ8_0, DType::kNVFP4});
  auto f = File::open(dir / "new.owf");
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->version().major == 1);
  CHECK(f->version().minor == 1);
  CHECK(features_of(*f) == std::vector<std::string>{"nvfp4", "q2_0"});  // each once, sorted
  CHECK(f->verify().ok());

  // Editing keeps the version and the features (the header is copied, the
  // footer must agree with it).
  ModelInfo info = f->info();
  info.metadata["note"] = "edited";
  REQUIRE(rewrite_info(dir / "new.owf", info).ok());
  auto edited = File::open(dir / "new.owf");
  REQUIRE_MESSAGE(edited.ok(), edited.error().to_string());
  CHECK(edited->version().minor == 1);
  CHECK(features_of(*edited) == std::vector<std::string>{"nvfp4", "q2_0"});
}

TEST_CASE("a file of a newer minor version is read but not rewritten") {
  const std::filesystem::path path =
      std::filesystem::path(OWF_SOURCE_DIR) / "tests/conformance/files/valid-newer-minor-unknown-field.owf";
  auto f = File::open(path);
  REQUIRE_MESSAGE(f.ok(), f.error().to_string());
  CHECK(f->version().minor == 4);
  TempDir dir;
  std::filesystem::copy_file(path, dir / "copy.owf");
  const auto before = owf::test::slurp(dir / "copy.owf");
  auto edited = rewrite_info(dir / "copy.owf", f->info());
  REQUIRE(!edited.ok());
  CHECK(edited.error().code() == ErrorCode::kUnsupported);
  CHECK(edited.error().message().find("newer than this implementation") != std::string::npos);
  CHECK(owf::test::slurp(dir / "copy.owf") == before);
}

TEST_CASE("writer refuses a repeated name among many tensors added out of name order, and only a repeated one") {
  TempDir dir;
  auto w = Writer::create(dir / "x.owf");
  REQUIRE(w.ok());
  const auto one = bytes_for(DType::kU8, {1}, 1);
  // Enough names that the writer's name index and its manifest buffer grow
  // several times (the buffer past 1 MiB, which it moves in pieces), added
  // out of name order ("t.10" sorts before "t.2").
  constexpr int kCount = 20000;
  for (int i = 0; i < kCount; ++i) {
    const std::vector<std::byte> value{static_cast<std::byte>(i % 251)};
    REQUIRE(w->add_tensor({"t." + std::to_string(i), DType::kU8, {1}}, value).ok());
  }
  for (const int i : {0, 1, 63, 64, 1499, kCount - 1}) {
    const auto s = w->add_tensor({"t." + std::to_string(i), DType::kU8, {1}}, one);
    CHECK(s.code() == ErrorCode::kDuplicateTensorName);
    CHECK(s.error().message().find("'t." + std::to_string(i) + "'") != std::string::npos);
  }
  // Prefixes, extensions and near misses of taken names are new names.
  for (const char* name : {"t.", "t.30000", "t.0 ", "T.0", "t.-1", "t"})
    CHECK(w->add_tensor({name, DType::kU8, {1}}, one).ok());
  CHECK(w->add_tensor({"t.30000", DType::kU8, {1}}, one).code() == ErrorCode::kDuplicateTensorName);
  REQUIRE(w->set_license(License{"MIT"}).ok());
  REQUIRE(w->finish().ok());
  auto f = File::open(dir / "x.owf");
  REQUIRE(f.ok());
  CHECK(f->tensor_count() == kCount + 6);
  CHECK(f->verify().ok());
  for (const int i : {0, 7, 4096, 12345, kCount - 1}) {
    const auto index = f->find("t." + std::to_string(i));
    REQUIRE(index);
    const auto bytes = f->bytes(f->tensor(*index));
    REQUIRE(bytes.ok());
    CHECK(bytes->size() == 1);
    CHECK((*bytes)[0] == static_cast<std::byte>(i % 251));
  }
}
