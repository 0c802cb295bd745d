// Per-field checks of the manifest decoder (spec/format.md §8, R25..R27),
// on manifests written with the generated FlatBuffers code, including
// values the encoder never writes.
#include "manifest.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "owf_generated.h"

using owf::ErrorCode;
namespace fb = owf::fb;

namespace {

using Fbb = flatbuffers::FlatBufferBuilder;

// A manifest with no tensors, license MIT and one hyperparameter made by `make`.
std::vector<std::byte> manifest_with(const std::function<flatbuffers::Offset<fb::Hyperparameter>(Fbb&)>& make) {
  Fbb fbb;
  const auto hparams = fbb.CreateVector(std::vector{make(fbb)});
  const auto license = fb::CreateLicense(fbb, fbb.CreateString("MIT"));
  fb::ManifestBuilder mb(fbb);
  mb.add_hyperparameters(hparams);
  mb.add_license(license);
  fb::FinishManifestBuffer(fbb, mb.Finish());
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return {p, p + fbb.GetSize()};
}

// A BoolValue table whose byte is `byte`.
flatbuffers::Offset<fb::Hyperparameter> bool_value(Fbb& fbb, std::uint8_t byte) {
  const auto key = fbb.CreateString("x");
  const auto start = fbb.StartTable();
  fbb.AddElement<std::uint8_t>(fb::BoolValue::VT_VALUE, byte, 0);
  const flatbuffers::Offset<void> value(fbb.EndTable(start));
  return fb::CreateHyperparameter(fbb, key, fb::Value::BoolValue, value);
}

// An 8-byte aligned copy, as decode_manifest wants; it must outlive the result.
struct Aligned {
  explicit Aligned(const std::vector<std::byte>& b) : words((b.size() + 7) / 8), size(b.size()) {
    std::memcpy(words.data(), b.data(), b.size());
  }
  std::span<const std::byte> bytes() const { return {reinterpret_cast<const std::byte*>(words.data()), size}; }
  std::vector<std::uint64_t> words;
  std::size_t size;
};

ErrorCode decode(const std::vector<std::byte>& bytes, const owf::Limits& limits = {}) {
  const Aligned aligned(bytes);
  auto r = owf::internal::decode_manifest(aligned.bytes(), limits);
  return r.ok() ? ErrorCode::kOk : r.code();
}

}  // namespace

TEST_CASE("booleans are the bytes 0 and 1 only (FlatBuffers would read any other byte as true)") {
  for (std::uint8_t byte : {0, 1}) {
    const Aligned aligned(manifest_with([&](Fbb& fbb) { return bool_value(fbb, byte); }));
    auto m = owf::internal::decode_manifest(aligned.bytes(), {});
    REQUIRE(m.ok());
    CHECK(std::get<bool>(m->info.hyperparameters.at("x").data) == (byte == 1));
  }
  for (std::uint8_t byte : {2, 0x80, 0xFF})
    CHECK(decode(manifest_with([&](Fbb& fbb) { return bool_value(fbb, byte); })) == ErrorCode::kBadHyperparameter);
  for (std::uint8_t byte : {0, 1, 2}) {
    const auto bytes = manifest_with([&](Fbb& fbb) {
      const auto key = fbb.CreateString("x");
      const auto values = fbb.CreateVector(std::vector<std::uint8_t>{1, 0, byte});
      return fb::CreateHyperparameter(fbb, key, fb::Value::BoolArray, fb::CreateBoolArray(fbb, values).Union());
    });
    CHECK(decode(bytes) == (byte <= 1 ? ErrorCode::kOk : ErrorCode::kBadHyperparameter));
  }
}

TEST_CASE("a union type outside 1..8 is a bad hyperparameter") {
  for (std::uint8_t type : {0, 9, 255}) {
    const auto bytes = manifest_with([&](Fbb& fbb) {
      const auto key = fbb.CreateString("x");
      return fb::CreateHyperparameter(fbb, key, static_cast<fb::Value>(type), fb::CreateIntValue(fbb, 1).Union());
    });
    CHECK(decode(bytes) == ErrorCode::kBadHyperparameter);
  }
}

TEST_CASE("a hyperparameter key passes the string limit and UTF-8 before its syntax") {
  auto with_key = [](const std::string& k) {
    return manifest_with([&](Fbb& fbb) {
      const auto key = fbb.CreateString(k);
      return fb::CreateHyperparameter(fbb, key, fb::Value::IntValue, fb::CreateIntValue(fbb, 1).Union());
    });
  };
  owf::Limits small;
  small.max_string_bytes = 16;
  CHECK(decode(with_key(std::string(16, 'k')), small) == ErrorCode::kOk);
  CHECK(decode(with_key(std::string(17, 'k')), small) == ErrorCode::kLimitExceeded);
  CHECK(decode(with_key("a b c d e f g h i"), small) == ErrorCode::kLimitExceeded);  // 17 bytes, bad syntax
  CHECK(decode(with_key("a b")) == ErrorCode::kBadHyperparameter);
  CHECK(decode(with_key("abc\xFF")) == ErrorCode::kBadUtf8);
  CHECK(decode(with_key("caf\xC3\xA9")) == ErrorCode::kBadHyperparameter);
}
