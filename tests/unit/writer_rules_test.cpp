// The writer writes only what the reader opens: random use of the writer
// API, valid and not, and every file it finishes must open and verify.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "owf/owf.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

class Chooser {
 public:
  explicit Chooser(std::uint32_t seed) : rng_(seed) {}
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  bool one_in(std::uint32_t n) { return below(n) == 0; }

  // Mostly valid strings; sometimes empty, with a NUL, not UTF-8, long, or
  // with control characters.
  std::string text(bool ascii_key = false) {
    switch (below(12)) {
      case 0:
        return "";
      case 1:
        return std::string("a\0b", 3);
      case 2:
        return "bad\xC3";
      case 3:
        return std::string(4096 + below(3) - 1, 'n');  // around the name limit
      case 4:
        return "x y";
      case 5:
        return "\xE2\x82\xAC" + std::to_string(below(100));
      case 6:
        return ascii_key ? "Key.Upper" : "line\nfeed";
      case 7:
        return "a..b";
      case 8:
        return ".leading";
      default:
        return "k" + std::to_string(below(1000)) + (one_in(2) ? ".sub_" + std::to_string(below(9)) : "");
    }
  }

  Value value() {
    switch (below(9)) {
      case 0:
        return Value(one_in(2));
      case 1:
        return Value(static_cast<std::int64_t>(rng_()) - (1ll << 31), static_cast<IntType>(below(8)));
      case 2:
        return Value(std::int64_t{300}, IntType::kI8);  // does not fit
      case 3:
        return Value(0.1, FloatType::kF32);  // not exactly an F32
      case 4:
        return Value(0.5, static_cast<FloatType>(below(2)));
      case 5:
        return Value(text());
      case 6:
        return Value(std::vector<std::int64_t>{1, 2, -3}, static_cast<IntType>(below(8)));
      case 7:
        return Value(std::vector<std::string>{text(), text()});
      default:
        return Value(std::vector<double>{1.5, -0.0}, FloatType::kF32);
    }
  }

  std::string spdx() {
    static const char* const kExpressions[] = {"MIT",      "Apache-2.0 OR MIT", "NOASSERTION",
                                               "GPL-2.0+", "not a license!",    "(MIT",
                                               "",         "LicenseRef-x+",     "MIT  AND BSD-3-Clause"};
    return kExpressions[below(std::size(kExpressions))];
  }

  std::mt19937 rng_;
};

}  // namespace

TEST_CASE("every file the writer finishes opens and verifies (randomized use of the writer API)") {
  TempDir dir;
  int finished = 0, refused_calls = 0, accepted_calls = 0;
  for (std::uint32_t seed = 1; seed <= 150; ++seed) {
    CAPTURE(seed);
    Chooser c(seed);
    const auto path = dir / ("f" + std::to_string(seed) + ".owf");
    WriteOptions options;
    options.sync = false;
    options.compression.enabled = c.one_in(4);
    auto w = Writer::create(path, options);
    REQUIRE(w.ok());
    auto count = [&](const Status& s) { (s.ok() ? accepted_calls : refused_calls)++; };
    const std::uint32_t calls = 1 + c.below(12);
    for (std::uint32_t k = 0; k < calls; ++k) {
      switch (c.below(6)) {
        case 0: {
          License l;
          l.spdx = c.spdx();
          if (c.one_in(3)) l.concluded = c.spdx();
          if (c.one_in(3)) l.name = c.text();
          count(w->set_license(l));
          break;
        }
        case 1:
          count(w->set_metadata(c.text(), c.text()));
          break;
        case 2:
          count(w->set_hyperparameter(c.text(true), c.value()));
          break;
        case 3: {
          Provenance p;
          p.name = c.text();
          if (c.one_in(2)) p.authors = {c.text(), c.text()};
          count(w->set_provenance(p));
          break;
        }
        default: {
          std::vector<std::uint64_t> shape(c.one_in(8) ? 64 + c.below(3) : c.below(4), 1);
          if (!shape.empty()) shape[0] = c.below(5);
          const std::uint32_t dtype_code = c.one_in(10) ? 99 + c.below(200) : c.below(23);
          TensorSpec spec{c.one_in(3) ? "w" : c.text(), static_cast<DType>(dtype_code), shape,
                          static_cast<Role>(c.below(8))};
          const auto size = tensor_byte_size(spec.dtype, spec.shape);
          std::vector<std::byte> bytes;
          if (size.ok() && *size < (1u << 20))
            bytes = owf::test::make_canonical(spec.dtype, element_count(spec.shape).value(),
                                              owf::test::pseudo_random_bytes(static_cast<std::size_t>(*size), seed));
          count(w->add_tensor(spec, bytes));
        }
      }
    }
    const Status done = w->finish();
    if (!done.ok()) {
      CHECK(!std::filesystem::exists(path));
      continue;
    }
    ++finished;
    auto f = File::open(path);
    REQUIRE_MESSAGE(f.ok(), f.error().to_string());
    const Status verified = f->verify();
    CHECK_MESSAGE(verified.ok(), verified.error().to_string());
  }
  MESSAGE(finished, " files finished; ", accepted_calls, " calls accepted, ", refused_calls, " refused");
  // Both sides of every rule are exercised, not just one.
  CHECK(finished > 30);
  CHECK(refused_calls > 100);
  CHECK(accepted_calls > 200);
}
