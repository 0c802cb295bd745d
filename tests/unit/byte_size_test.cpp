// owf-convert --max-shard-size: sizes with units, and what is refused.
#include "byte_size.hpp"

#include <doctest/doctest.h>

using owf::ErrorCode;
using owf::tools::parse_byte_size;

TEST_CASE("sizes: integers with decimal or binary units, case-insensitive") {
  const auto size = [](const char* text) { return parse_byte_size(text, "--max-shard-size").value(); };
  CHECK(size("1") == 1);
  CHECK(size("123B") == 123);
  CHECK(size("5GB") == 5'000'000'000ull);
  CHECK(size("5gb") == 5'000'000'000ull);
  CHECK(size("2kb") == 2000);
  CHECK(size("3MB") == 3'000'000);
  CHECK(size("1TB") == 1'000'000'000'000ull);
  CHECK(size("1KiB") == 1024);
  CHECK(size("500mib") == 500ull << 20);
  CHECK(size("2GiB") == 2ull << 30);
  CHECK(size("1TIB") == 1ull << 40);
  CHECK(size("16777215TiB") == 16777215ull << 40);
  CHECK(size("18446744073709551615") == UINT64_MAX);
}

TEST_CASE("sizes refused: zero, negative, fractions, overflow, garbage") {
  for (const char* text : {"", "0", "0GB", "-5GB", "+5", "1.5GB", "5 GB", " 5", "5G", "5XB", "GB", "abc", "5GBs",
                           "18446744073709551616", "16777216TiB", "20000000TB", "0x10"}) {
    CAPTURE(text);
    auto r = parse_byte_size(text, "--max-shard-size");
    REQUIRE(!r.ok());
    CHECK(r.code() == ErrorCode::kInvalidArgument);
    CHECK(r.error().message().starts_with("--max-shard-size: '" + std::string(text) + "'"));
  }
  CHECK(parse_byte_size("-1", "--x").error().message().find("negative") != std::string::npos);
  CHECK(parse_byte_size("0", "--x").error().message().find("at least 1 byte") != std::string::npos);
  CHECK(parse_byte_size("99999999TB", "--x").error().message().find("too large") != std::string::npos);
  CHECK(parse_byte_size("5 GB", "--x").error().message().find("unknown unit") != std::string::npos);
}
