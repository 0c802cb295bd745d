// What the HTTP source decides without a server: URL recognition, the
// redaction of credentials from names, Content-Range and multipart parsing.
// Transfers against real servers are tested by tests/http/http_test.sh.
#include <doctest/doctest.h>

#include <string>

#include "io/http_source.hpp"
#include "owf/owf.hpp"

using namespace owf;
using owf::internal::parse_byteranges;
using owf::internal::parse_content_range;
using owf::internal::redacted_url;

namespace {
std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
}  // namespace

TEST_CASE("URLs are told from paths by their scheme") {
  CHECK(is_url("https://example.com/model.owf"));
  CHECK(is_url("HTTP://example.com/m.owf"));
  CHECK_FALSE(is_url("http:/example.com"));
  CHECK_FALSE(is_url("ftp://example.com/m.owf"));
  CHECK_FALSE(is_url("models/https://x.owf"));
  CHECK_FALSE(is_url(""));
}

TEST_CASE("names of URLs hold no credentials") {
  CHECK(redacted_url("https://user:pw@host.example/a/b.owf") == "https://host.example/a/b.owf");
  CHECK(redacted_url("https://bucket.s3.example/m.owf?X-Amz-Signature=abc&X-Amz-Credential=k") ==
        "https://bucket.s3.example/m.owf?...");
  CHECK(redacted_url("http://host/m.owf#frag") == "http://host/m.owf?...");
  CHECK(redacted_url("http://host/a@b/m.owf") == "http://host/a@b/m.owf");
}

TEST_CASE("Content-Range values") {
  auto r = parse_content_range("bytes 0-99/1000");
  REQUIRE(r);
  CHECK(r->first == 0);
  CHECK(r->last == 99);
  CHECK(r->total == 1000);
  SUBCASE("refused") {
    CHECK_FALSE(parse_content_range("bytes 10-5/100"));                  // backwards
    CHECK_FALSE(parse_content_range("bytes 0-100/100"));                 // past the end
    CHECK_FALSE(parse_content_range("bytes 0-99/*"));                    // unknown size
    CHECK_FALSE(parse_content_range("bytes */100"));                     // unsatisfied
    CHECK_FALSE(parse_content_range("items 0-1/2"));                     // other unit
    CHECK_FALSE(parse_content_range("bytes -1-5/10"));                   // negative
    CHECK_FALSE(parse_content_range("bytes 0-99999999999999999999/1"));  // overflow
  }
}

TEST_CASE("multipart/byteranges answers") {
  const std::string body =
      "\r\n--B0\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-3/20\r\n\r\nabcd"
      "\r\n--B0\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 15-19/20\r\n\r\n--B0-"
      "\r\n--B0--\r\n";
  auto parts = parse_byteranges(bytes_of(body), "B0");
  REQUIRE(parts);
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[0].range.first == 0);
  CHECK(std::string(reinterpret_cast<const char*>((*parts)[0].bytes.data()), 4) == "abcd");
  // A part's bytes are taken by its length, even when they look like a delimiter.
  CHECK(std::string(reinterpret_cast<const char*>((*parts)[1].bytes.data()), 5) == "--B0-");
  SUBCASE("malformed") {
    CHECK_FALSE(parse_byteranges(bytes_of("\r\n--B0\r\nContent-Range: bytes 0-9/20\r\n\r\nabc"), "B0"));
    CHECK_FALSE(parse_byteranges(bytes_of("\r\n--B0\r\n\r\nabcd\r\n--B0--\r\n"), "B0"));  // no Content-Range
    CHECK_FALSE(parse_byteranges(bytes_of("\r\n--B0\r\nContent-Range: bytes 0-3/20\r\n\r\nabcd"), "B0"));
    CHECK_FALSE(parse_byteranges(bytes_of(""), "B0"));
  }
}

TEST_CASE("a URL without HTTP support, or to nowhere, is a clear error") {
  // Port 1 on loopback: nothing listens there.
  auto r = open_source("http://127.0.0.1:1/model.owf");
  REQUIRE_FALSE(r.ok());
  if (remote_supported()) {
    CHECK(r.error().code() == ErrorCode::kIoError);
    CHECK(r.error().message().find("http://127.0.0.1:1/model.owf") != std::string::npos);
  } else {
    CHECK(r.error().code() == ErrorCode::kUnsupported);
    CHECK(r.error().message().find("built without HTTP support") != std::string::npos);
  }
}
