// File::load(): tensors into caller buffers from several threads, each
// tensor's digest checked as its pieces land, in any order.
#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

// Several pieces (the loader cuts at 4 MiB), one that is not a multiple of
// the piece size, small ones, an empty one and a compressed one.
const std::map<std::string, std::vector<std::byte>>& contents() {
  static const auto tensors = [] {
    std::map<std::string, std::vector<std::byte>> m;
    m["big"] = owf::test::pseudo_random_bytes((9u << 20) + 12, 1);
    m["small.a"] = owf::test::pseudo_random_bytes(40, 2);
    m["small.b"] = owf::test::pseudo_random_bytes(4, 3);
    m["empty"] = {};
    std::vector<std::byte> zeros((3u << 20) + 4);
    for (std::size_t i = 0; i < zeros.size(); i += 4096) zeros[i] = std::byte{7};
    m["zeros"] = zeros;  // compressible: stored compressed
    return m;
  }();
  return tensors;
}

std::filesystem::path write_model(const TempDir& dir) {
  const auto path = dir / "model.owf";
  WriteOptions options;
  options.sync = false;
  options.compression.enabled = true;
  auto w = Writer::create(path, options);
  REQUIRE(w.ok());
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  for (const auto& [name, bytes] : contents())
    REQUIRE(w->add_tensor({name, DType::kU8, {bytes.size()}, Role::kWeight}, bytes).ok());
  REQUIRE(w->finish().ok());
  return path;
}

struct Loaded {
  std::vector<std::vector<std::byte>> buffers;
  std::vector<LoadRequest> requests;
};

Loaded requests_for(const File& f, const std::vector<std::string>& names) {
  Loaded l;
  l.buffers.reserve(names.size());
  for (const auto& name : names) {
    const auto index = f.find(name);
    REQUIRE(index.has_value());
    l.buffers.emplace_back(f.tensor(*index).logical_bytes, std::byte{0xEE});
    l.requests.push_back({*index, l.buffers.back()});
  }
  return l;
}

std::vector<std::string> all_names() {
  std::vector<std::string> names;
  for (const auto& [name, bytes] : contents()) names.push_back(name);
  return names;
}

void flip_byte(const std::filesystem::path& path, std::uint64_t offset) {
  auto bytes = owf::test::slurp(path);
  REQUIRE(offset < bytes.size());
  bytes[static_cast<std::size_t>(offset)] ^= std::byte{0x01};
  owf::test::spit(path, bytes);
}

}  // namespace

TEST_CASE("load fills caller buffers with every tensor's bytes, verified, with any number of threads") {
  TempDir dir;
  const auto path = write_model(dir);
  auto f = File::open(path);
  REQUIRE(f.ok());
  REQUIRE(f->tensor("zeros")->codec != Codec::kNone);
  for (unsigned threads : {1u, 2u, 5u}) {
    CAPTURE(threads);
    auto l = requests_for(*f, all_names());
    std::uint64_t last = 0, total = 0;
    LoadOptions options;
    options.threads = threads;
    options.progress = [&](std::uint64_t done, std::uint64_t of) {
      CHECK(done >= last);
      last = done;
      total = of;
    };
    REQUIRE(f->load(l.requests, options).ok());
    CHECK(last == total);
    CHECK(total == (9u << 20) + 12 + 40 + 4 + (3u << 20) + 4);
    const auto names = all_names();
    for (std::size_t i = 0; i < names.size(); ++i) CHECK(l.buffers[i] == contents().at(names[i]));
  }
}

TEST_CASE("load of a subset, in any order, touches only the requested buffers") {
  TempDir dir;
  auto f = File::open(write_model(dir));
  REQUIRE(f.ok());
  auto l = requests_for(*f, {"small.b", "big"});
  REQUIRE(f->load(l.requests).ok());
  CHECK(l.buffers[0] == contents().at("small.b"));
  CHECK(l.buffers[1] == contents().at("big"));
  CHECK(f->load({}).ok());
}

TEST_CASE("load names a tensor whose bytes changed in any piece, and how many more fail") {
  TempDir dir;
  const auto path = write_model(dir);
  std::uint64_t big_offset = 0, small_offset = 0;
  {
    auto f = File::open(path);
    REQUIRE(f.ok());
    big_offset = f->tensor("big")->offset;
    small_offset = f->tensor("small.a")->offset;
  }
  for (const std::uint64_t at : {std::uint64_t{0}, std::uint64_t{5u << 20}, std::uint64_t{(9u << 20) + 11}}) {
    CAPTURE(at);
    const auto copy = dir / "copy.owf";
    std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);
    flip_byte(copy, big_offset + at);
    auto f = File::open(copy);
    REQUIRE(f.ok());
    for (unsigned threads : {1u, 3u}) {
      auto l = requests_for(*f, all_names());
      LoadOptions options;
      options.threads = threads;
      const Status s = f->load(l.requests, options);
      CHECK(s.code() == ErrorCode::kTensorDigestMismatch);
      CHECK(s.error().message().find("tensor 'big'") != std::string::npos);
      // Unverified, the same load succeeds and shows the changed byte.
      options.verify = false;
      REQUIRE(f->load(l.requests, options).ok());
      CHECK(l.buffers[0][static_cast<std::size_t>(at)] != contents().at("big")[static_cast<std::size_t>(at)]);
    }
  }
  flip_byte(path, big_offset + 1);
  flip_byte(path, small_offset + 3);
  auto f = File::open(path);
  REQUIRE(f.ok());
  auto l = requests_for(*f, all_names());
  const Status s = f->load(l.requests);
  CHECK(s.code() == ErrorCode::kTensorDigestMismatch);
  CHECK(s.error().message().find("(and 1 more tensors fail)") != std::string::npos);
  // The tensors that are intact load alone.
  auto intact = requests_for(*f, {"small.b", "zeros", "empty"});
  CHECK(f->load(intact.requests).ok());
}

TEST_CASE("load refuses requests it cannot serve before reading anything") {
  TempDir dir;
  auto f = File::open(write_model(dir));
  REQUIRE(f.ok());
  std::vector<std::byte> buffer(40);
  const LoadRequest out_of_range[] = {{f->tensor_count(), buffer}};
  const Status a = f->load(out_of_range);
  CHECK(a.code() == ErrorCode::kInvalidArgument);
  CHECK(a.error().message().find("tensor index") != std::string::npos);
  const LoadRequest wrong_size[] = {{*f->find("small.a"), std::span(buffer).first(39)}};
  const Status b = f->load(wrong_size);
  CHECK(b.code() == ErrorCode::kInvalidArgument);
  CHECK(b.error().message().find("'small.a' of 40 bytes") != std::string::npos);
}
