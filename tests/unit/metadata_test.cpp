// Model information helpers: value literals as the tools parse them, the
// role a tensor name suggests, and rewriting a file's information in place.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

TEST_CASE("value literals: each type, lists, quoting and what stays a string") {
  CHECK(parse_value_literal("true") == Value(true));
  CHECK(parse_value_literal(" false ") == Value(false));
  CHECK(parse_value_literal("42") == Value(std::int64_t{42}));
  CHECK(parse_value_literal("-9223372036854775808") == Value(std::numeric_limits<std::int64_t>::min()));
  // One past the int64 range is not an integer; it is still a number.
  CHECK(parse_value_literal("9223372036854775808") == Value(9223372036854775808.0));
  CHECK(parse_value_literal("1e-5") == Value(1e-5));
  CHECK(parse_value_literal("0.1") == Value(0.1));
  CHECK(parse_value_literal("[1, 2, -3]") == Value(std::vector<std::int64_t>{1, 2, -3}));
  CHECK(parse_value_literal("[1, 2.5]") == Value(std::vector<double>{1.0, 2.5}));
  CHECK(parse_value_literal("[true,false]") == Value(std::vector<bool>{true, false}));
  CHECK(parse_value_literal("[a, 'b c', 3]") == Value(std::vector<std::string>{"a", "b c", "3"}));
  CHECK(parse_value_literal("'42'") == Value(std::string("42")));
  CHECK(parse_value_literal("\"true\"") == Value(std::string("true")));
  CHECK(parse_value_literal("gelu") == Value(std::string("gelu")));
  CHECK(parse_value_literal("12abc") == Value(std::string("12abc")));
  CHECK(parse_value_literal("") == Value(std::string("")));
  CHECK(parse_value_literal("[") == Value(std::string("[")));
  // Rendering gives back what parses to the same value.
  for (const char* text : {"true", "42", "-7", "1.5", "[1, 2, 3]", "[true, false]", "\"x y\""}) {
    CAPTURE(text);
    const Value v = parse_value_literal(text);
    CHECK(parse_value_literal(value_to_string(v)) == v);
  }
}

TEST_CASE("role inference from tensor names of common checkpoints") {
  const std::pair<const char*, Role> cases[] = {
      {"model.layers.0.self_attn.q_proj.weight", Role::kWeight},
      {"model.layers.0.self_attn.q_proj.bias", Role::kBias},
      {"model.embed_tokens.weight", Role::kEmbedding},
      {"transformer.wte.weight", Role::kEmbedding},
      {"token_embd.weight", Role::kEmbedding},
      {"model.layers.3.input_layernorm.weight", Role::kNormalization},
      {"blk.0.attn_norm.weight", Role::kNormalization},
      {"bn1.running_mean", Role::kBuffer},
      {"bn1.num_batches_tracked", Role::kBuffer},
      {"model.rotary_emb.inv_freq", Role::kBuffer},
      {"conv1.kernel", Role::kWeight},
      {"fc.W", Role::kWeight},
      {"fc.b", Role::kBias},
      {"lm_head.weight", Role::kWeight},
      {"logit_scale", Role::kOther},
      {"", Role::kOther},
  };
  for (const auto& [tensor_name, role] : cases) {
    const char* const name = tensor_name;  // clang 14 lambdas (CAPTURE) cannot capture a structured binding
    CAPTURE(name);
    CHECK(role_name(infer_role(name)) == role_name(role));
  }
}

TEST_CASE("rewrite_info replaces the information, keeps every tensor byte, and refuses what a reader refuses") {
  TempDir dir;
  const auto path = dir / "m.owf";
  const auto data = owf::test::pseudo_random_bytes(4096, 5);
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->set_metadata("old", "1").ok());
    REQUIRE(w->add_tensor({"w", DType::kF32, {32, 32}, Role::kWeight}, data).ok());
    REQUIRE(w->finish().ok());
  }
  auto before = File::open(path);
  REQUIRE(before.ok());
  const Sha256Digest digest = before->weights_digest();
  const std::uint64_t offset = before->tensor(0).offset;

  ModelInfo info;
  info.license = License{.spdx = "MIT"};
  info.provenance.name = "renamed";
  info.hyperparameters["n_layers"] = Value(std::int64_t{4});
  info.metadata["new"] = "2";
  auto report = rewrite_info(path, info);
  REQUIRE_MESSAGE(report.ok(), report.error().to_string());
  CHECK(report->weights_digest == digest);
  CHECK(report->data_bytes == offset + data.size());
  auto after = File::open(path);
  REQUIRE(after.ok());
  CHECK(after->info() == info);
  CHECK(after->verify().ok());
  CHECK(after->tensor(0).offset == offset);
  std::vector<std::byte> read(data.size());
  REQUIRE(after->read(after->tensor(0), read, true).ok());
  CHECK(read == data);

  // What a reader would refuse is refused before anything is written.
  const auto unchanged = owf::test::slurp(path);
  ModelInfo bad = info;
  bad.metadata[""] = "empty key";
  auto refused = rewrite_info(path, bad);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code() == ErrorCode::kBadMetadata);
  bad = info;
  bad.license->spdx = "MIT AND";
  refused = rewrite_info(path, bad);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code() == ErrorCode::kBadLicense);
  bad = info;
  bad.license.reset();
  refused = rewrite_info(path, bad);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code() == ErrorCode::kMissingLicense);
  CHECK(owf::test::slurp(path) == unchanged);
  // Not an OWF file: refused, nothing created.
  owf::test::spit(dir / "x.owf", std::as_bytes(std::span("not owf", 7)));
  CHECK(!rewrite_info(dir / "x.owf", info).ok());
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 2);
}
