// Reads from several threads on one open file, and writers killed mid-write.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

TEST_CASE("one open file serves reads, lookups and verification from many threads") {
  TempDir dir;
  const auto path = dir / "shared.owf";
  constexpr int kTensors = 64;
  std::vector<std::vector<std::byte>> contents;
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    for (int i = 0; i < kTensors; ++i) {
      contents.push_back(
          owf::test::pseudo_random_bytes(4096 + 64 * static_cast<std::size_t>(i), static_cast<std::uint32_t>(i)));
      REQUIRE(w->add_tensor({"t" + std::to_string(i), DType::kU8, {contents.back().size()}}, contents.back()).ok());
    }
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto f = File::open(path);
  REQUIRE(f.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const int i = (t * 7 + round * 13) % kTensors;
        auto info = f->tensor("t" + std::to_string(i));
        std::vector<std::byte> out(contents[i].size());
        if (!info.ok() || !f->read(*info, out, true).ok() || out != contents[i]) ++failures;
        if (round % 5 == 0 && !f->verify({.threads = 2}).ok()) ++failures;
        if (f->weights_digest() != f->weights_digest()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("a writer killed mid-write leaves no file under the target name") {
  TempDir dir;
  const auto path = dir / "killed.owf";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto w = Writer::create(path);
    if (!w.ok()) ::_exit(3);
    const auto data = owf::test::pseudo_random_bytes(1 << 20, 1);
    for (int i = 0;; ++i) {
      // Runs until killed; never finishes.
      if (!w->add_tensor({"t" + std::to_string(i), DType::kU8, {data.size()}}, data).ok()) ::_exit(4);
      if (i == 8) ::kill(::getpid(), SIGKILL);
    }
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("verify judges the bytes as they are now, not as they were at open") {
  TempDir dir;
  const auto path = dir / "changing.owf";
  const auto data = owf::test::pseudo_random_bytes(100, 5);
  {
    auto w = Writer::create(path);
    REQUIRE(w.ok());
    REQUIRE(w->add_tensor({"t", DType::kU8, {100}}, data).ok());
    REQUIRE(w->set_license(owf::test::test_license()).ok());
    REQUIRE(w->finish().ok());
  }
  auto bytes = owf::test::slurp(path);
  auto f = File::open_buffer(bytes);
  REQUIRE(f.ok());
  REQUIRE(f->verify().ok());
  SUBCASE("a padding byte") {
    bytes[64 + 100] = std::byte{1};
    CHECK(f->verify().code() == ErrorCode::kNonZeroPadding);
  }
  SUBCASE("a manifest byte") {
    bytes[bytes.size() - 64 - 10] ^= std::byte{1};
    CHECK(f->verify().code() == ErrorCode::kManifestDigestMismatch);
  }
  SUBCASE("a tensor byte") {
    bytes[64] ^= std::byte{1};
    CHECK(f->verify().code() == ErrorCode::kTensorDigestMismatch);
  }
}
