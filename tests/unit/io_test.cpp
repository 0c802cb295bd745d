// The byte-source layer and the output file: reads that survive a file
// shrinking under them, targets that are never clobbered, conversions that
// never launder a corrupt file, and loud misuse of Status and Result.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "io/byte_source.hpp"
#include "io/output_file.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

// A file of one 4 MiB F32 tensor "w" (and a small one "b"), written by the library.
void write_model(const std::filesystem::path& path) {
  auto w = Writer::create(path);
  REQUIRE(w.ok());
  REQUIRE(w->set_license(owf::test::test_license()).ok());
  const auto big = owf::test::pseudo_random_bytes(4u << 20, 7);
  REQUIRE(w->add_tensor({"w", DType::kF32, {1u << 20}, Role::kWeight}, big).ok());
  const auto small = owf::test::pseudo_random_bytes(16, 8);
  REQUIRE(w->add_tensor({"b", DType::kF32, {4}, Role::kBias}, small).ok());
  REQUIRE(w->finish().ok());
}

}  // namespace

TEST_CASE("a file that shrinks after open is an io_error for read and verify, not a signal") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write_model(path);
  auto f = File::open(path);
  REQUIRE(f.ok());
  const TensorInfo w = *f->tensor("w");
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(w.offset + 1000)) == 0);
  std::vector<std::byte> out(static_cast<std::size_t>(w.logical_bytes));
  const Status read = f->read(w, out);
  CHECK(read.code() == ErrorCode::kIoError);
  CHECK(read.error().message().find("shrank") != std::string::npos);
  CHECK(f->verify().code() != ErrorCode::kOk);
  auto source = open_source(path);
  CHECK_FALSE(source.ok());  // the footer is gone now
}

TEST_CASE("open refuses what is not a regular file, saying what it is and why") {
  TempDir dir;
  CHECK(File::open(dir.path()).error().message().find("directory") != std::string::npos);
  CHECK(File::open(dir / "missing.owf").error().message().find("No such file or directory") != std::string::npos);
  const auto fifo = dir / "fifo.owf";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto r = File::open(fifo);  // must not block waiting for a writer
  CHECK(r.code() == ErrorCode::kIoError);
  CHECK(r.error().message().find("FIFO") != std::string::npos);
}

TEST_CASE("files that are not weights are named as such") {
  TempDir dir;
  auto write = [&](const std::string& name, std::string_view text) {
    owf::test::spit(dir / name, std::as_bytes(std::span(text.data(), text.size())));
    return open_source(dir / name);
  };
  CHECK(write("a.safetensors", "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
            .error()
            .message()
            .find("Git LFS pointer") != std::string::npos);
  CHECK(write("b.gguf", "\n  <!DOCTYPE html><html></html>").error().message().find("HTML") != std::string::npos);
  CHECK(write("c.npy", "").error().message().find("empty") != std::string::npos);
  auto forced = open_source(dir / "a.safetensors", Format::kSafetensors);
  CHECK(forced.error().message().find("Git LFS pointer") != std::string::npos);
}

TEST_CASE("output targets: what may and may not be replaced") {
  TempDir dir;
  const auto source = dir / "m.owf";
  write_model(source);
  auto src = open_source(source);
  REQUIRE(src.ok());
  ConvertOptions keep;
  keep.write.overwrite = false;

  SUBCASE("an existing file is replaced only when allowed, atomically") {
    const auto target = dir / "t.owf";
    owf::test::spit(target, std::as_bytes(std::span("old", 3)));
    CHECK(convert(**src, target, Format::kOwf, keep).code() == ErrorCode::kAlreadyExists);
    CHECK(owf::test::slurp(target).size() == 3);
    CHECK(convert(**src, target, Format::kOwf).ok());
    CHECK(File::open(target).ok());
  }
  SUBCASE("a directory, FIFO or device is never replaced") {
    std::filesystem::create_directory(dir / "d.owf");
    CHECK(convert(**src, dir / "d.owf", Format::kOwf).code() == ErrorCode::kInvalidArgument);
    CHECK(std::filesystem::is_directory(dir / "d.owf"));
    REQUIRE(::mkfifo((dir / "p.owf").c_str(), 0600) == 0);
    CHECK(convert(**src, dir / "p.owf", Format::kOwf).code() == ErrorCode::kInvalidArgument);
    CHECK(std::filesystem::is_fifo(dir / "p.owf"));
    if (std::filesystem::is_character_file("/dev/null")) {
      const auto r = convert(**src, "/dev/null", Format::kOwf);
      CHECK(r.code() == ErrorCode::kInvalidArgument);
      CHECK(std::filesystem::is_character_file("/dev/null"));
    }
  }
  SUBCASE("a symlink is replaced by the file; what it pointed to is untouched") {
    owf::test::spit(dir / "blob", std::as_bytes(std::span("blob", 4)));
    std::filesystem::create_symlink("blob", dir / "link.owf");
    CHECK(convert(**src, dir / "link.owf", Format::kOwf, keep).code() == ErrorCode::kAlreadyExists);
    CHECK(convert(**src, dir / "link.owf", Format::kOwf).ok());
    CHECK_FALSE(std::filesystem::is_symlink(dir / "link.owf"));
    CHECK(owf::test::slurp(dir / "blob").size() == 4);
    std::filesystem::create_symlink("nowhere", dir / "dangling.owf");
    CHECK(convert(**src, dir / "dangling.owf", Format::kOwf, keep).code() == ErrorCode::kAlreadyExists);
    CHECK_FALSE(std::filesystem::exists(dir / "nowhere"));
  }
  SUBCASE("a replaced file keeps its mode; owf-edit too") {
    const auto target = dir / "mode.owf";
    REQUIRE(convert(**src, target, Format::kOwf).ok());
    REQUIRE(::chmod(target.c_str(), 0640) == 0);
    REQUIRE(convert(**src, target, Format::kOwf).ok());
    struct stat st {};
    REQUIRE(::stat(target.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    ModelInfo info = src->get()->info();
    info.metadata["edited"] = "yes";
    REQUIRE(rewrite_info(target, info).ok());
    REQUIRE(::stat(target.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find("owf-partial") == std::string::npos);
}

TEST_CASE("convert checks the digests of what it copies and never launders a corrupt file") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write_model(path);
  {
    auto f = File::open(path);
    REQUIRE(f.ok());
    const TensorInfo w = *f->tensor("w");
    auto bytes = owf::test::slurp(path);
    bytes[static_cast<std::size_t>(w.offset + 12345)] ^= std::byte{0x01};
    owf::test::spit(path, bytes);
  }
  auto src = open_source(path);
  REQUIRE(src.ok());  // opening does not read tensor data
  for (Format to : {Format::kOwf, Format::kSafetensors, Format::kGguf, Format::kNpz}) {
    CAPTURE(format_name(to));
    const auto target = dir / ("out." + std::string(format_name(to)));
    for (bool check : {true, false}) {
      ConvertOptions options;
      options.check_output = check;
      const auto r = convert(**src, target, to, options);
      CHECK(r.code() == ErrorCode::kTensorDigestMismatch);
      CHECK(r.error().message().find("'w'") != std::string::npos);
      CHECK_FALSE(std::filesystem::exists(target));
    }
  }
  const auto before = owf::test::slurp(path);
  CHECK(convert(**src, path, Format::kOwf).code() == ErrorCode::kTensorDigestMismatch);
  CHECK(owf::test::slurp(path) == before);
}

TEST_CASE("a conversion reports what it wrote and what the target cannot hold") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write_model(path);
  auto src = open_source(path);
  REQUIRE(src.ok());
  auto r = convert(**src, dir / "m.npz", Format::kNpz);
  REQUIRE(r.ok());
  CHECK(r->checked);
  CHECK(r->weights_digest == (*src)->owf_file()->weights_digest());
  CHECK(r->not_kept == std::vector<std::string>{"license"});
  auto gguf = convert(**src, dir / "m.gguf", Format::kGguf);
  REQUIRE(gguf.ok());
  CHECK(gguf->not_kept.empty());
}

TEST_CASE("misusing Status and Result fails loudly with the error's text") {
  const Result<int> failed = Error(ErrorCode::kNotFound, "no tensor named 'x'");
  CHECK_THROWS_WITH_AS(failed.value(), doctest::Contains("no tensor named 'x'"), BadResultAccess);
  CHECK_THROWS_AS((void)*failed, BadResultAccess);
  const Result<int> fine = 3;
  CHECK_THROWS_AS((void)fine.error(), BadResultAccess);
  CHECK_THROWS_AS([] { return Result<int>(Status()); }(), BadResultAccess);
  CHECK_THROWS_AS((void)Status().error(), BadResultAccess);
  CHECK(Result<int>(Status(Error(ErrorCode::kIoError, "x"))).code() == ErrorCode::kIoError);
}
