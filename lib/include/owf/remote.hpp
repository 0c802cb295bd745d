// Weights read over HTTP(S): wherever a path is read (File::open,
// open_source, the C API, the tools), an http:// or https:// URL is read
// with range requests instead. Read-only: nothing is ever written remotely.
//
// What a remote read checks is in spec/security.md, "Remote files".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "owf/export.hpp"

namespace owf {

struct RemoteOptions {
  /// Request headers "Name: value" sent with every request (authentication
  /// above all). Never printed in errors. The environment adds
  /// OWF_HTTP_HEADER (one header) and, unless an Authorization header is
  /// given, OWF_HTTP_TOKEN as "Authorization: Bearer <token>".
  std::vector<std::string> headers;
  /// PEM file of the certificate authorities that verify HTTPS servers;
  /// empty: OWF_CA_FILE, else the system's. Verification is always on.
  std::string ca_file;
  /// Parallel connections for large reads.
  unsigned connections = 8;
  /// Retries of one request after a connection error, a timeout, a 5xx or
  /// 429 answer (with backoff; Retry-After is honoured up to 30 s).
  unsigned retries = 4;
  /// Seconds to connect, and seconds a transfer may make no progress
  /// (OWF_HTTP_TIMEOUT overrides it).
  unsigned timeout_seconds = 30;
};

/// True for "http://..." and "https://..." (scheme in any case).
OWF_API bool is_url(std::string_view path);
/// False when the library was built without HTTP support (OWF_WITH_CURL
/// off): URLs are then refused with unsupported.
OWF_API bool remote_supported();

}  // namespace owf
