// A remote file read with HTTP range requests (libcurl, hidden here): the
// ByteSource behind every URL. Opening costs one request (the file's first
// 64 KiB and last 1 MiB, as a multi-range request), which holds every
// format's header and, for OWF, the footer and manifest of most files.
// Later reads are ranged GETs conditional on the first response's ETag (or
// Last-Modified), so a file that changes between requests is an io_error,
// never a mix of two versions; large reads are split over parallel
// connections. Every answer is checked: status 206, a Content-Range that is
// exactly the range asked for within a file of the size seen at open, and
// a body of exactly that length.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "owf/remote.hpp"

namespace owf::internal {

/// Opens `url`; io_error when the server cannot be reached, refuses, or
/// does not serve ranges; unsupported when built without HTTP support.
Result<std::shared_ptr<const ByteSource>> open_http_source(const std::string& url, const RemoteOptions& options);

/// The URL without user information, query or fragment (which may hold
/// credentials), for messages.
std::string redacted_url(std::string_view url);

/// "bytes FIRST-LAST/TOTAL" (a Content-Range value).
struct ContentRange {
  std::uint64_t first = 0, last = 0, total = 0;
};
std::optional<ContentRange> parse_content_range(std::string_view value);

/// The parts of a multipart/byteranges body, each with its Content-Range;
/// nullopt when the body is not well formed.
struct BytePart {
  ContentRange range;
  std::span<const std::byte> bytes;
};
std::optional<std::vector<BytePart>> parse_byteranges(std::span<const std::byte> body, std::string_view boundary);

}  // namespace owf::internal
