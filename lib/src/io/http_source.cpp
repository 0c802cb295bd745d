#include "io/http_source.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#ifdef OWF_HAVE_CURL
#include <curl/curl.h>
#endif

namespace owf {

bool is_url(std::string_view path) {
  auto starts = [&](std::string_view scheme) {
    if (path.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(path[i])) != scheme[i]) return false;
    return true;
  };
  return starts("http://") || starts("https://");
}

bool remote_supported() {
#ifdef OWF_HAVE_CURL
  return true;
#else
  return false;
#endif
}

}  // namespace owf

namespace owf::internal {

std::string redacted_url(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  std::string_view rest = scheme_end == std::string_view::npos ? url : url.substr(scheme_end + 3);
  std::string out(url.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end + 3));
  const std::size_t cut = rest.find_first_of("?#");
  const bool had_query = cut != std::string_view::npos;
  rest = rest.substr(0, cut);
  // user:password@ before the host
  const std::size_t slash = rest.find('/');
  const std::size_t at = rest.substr(0, slash).rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  out.append(rest);
  if (had_query) out.append("?...");
  return out;
}

namespace {

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) {
  value = trim(value);
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  const std::size_t dash = value.find('-'), slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
  auto first = parse_u64(trim(value.substr(0, dash)));
  auto last = parse_u64(trim(value.substr(dash + 1, slash - dash - 1)));
  auto total = parse_u64(trim(value.substr(slash + 1)));
  if (!first || !last || !total || *first > *last || *last >= *total) return std::nullopt;
  return ContentRange{*first, *last, *total};
}

std::optional<std::vector<BytePart>> parse_byteranges(std::span<const std::byte> body, std::string_view boundary) {
  const std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  const std::string delimiter = "--" + std::string(boundary);
  std::vector<BytePart> parts;
  std::size_t at = text.find(delimiter);
  while (at != std::string_view::npos) {
    at += delimiter.size();
    if (text.substr(at, 2) == "--") return parts.empty() ? std::nullopt : std::optional(std::move(parts));
    // Part headers, up to an empty line.
    std::optional<ContentRange> range;
    std::size_t line = text.find("\r\n", at);
    if (line == std::string_view::npos) return std::nullopt;
    at = line + 2;
    for (;;) {
      const std::size_t end = text.find("\r\n", at);
      if (end == std::string_view::npos) return std::nullopt;
      const std::string_view header = text.substr(at, end - at);
      at = end + 2;
      if (header.empty()) break;
      const std::size_t colon = header.find(':');
      if (colon != std::string_view::npos && iequals(trim(header.substr(0, colon)), "content-range"))
        range = parse_content_range(header.substr(colon + 1));
    }
    if (!range) return std::nullopt;
    const std::uint64_t length = range->last - range->first + 1;
    if (length > text.size() - at) return std::nullopt;
    parts.push_back({*range, body.subspan(at, static_cast<std::size_t>(length))});
    at = text.find(delimiter, at + static_cast<std::size_t>(length));
  }
  return std::nullopt;  // no closing delimiter
}

#ifndef OWF_HAVE_CURL

Result<std::shared_ptr<const ByteSource>> open_http_source(const std::string& url, const RemoteOptions&) {
  return Error(ErrorCode::kUnsupported,
               redacted_url(url) + ": built without HTTP support (configure with OWF_WITH_CURL=ON and libcurl)");
}

#else

namespace {

// Open: the first 64 KiB (every format's header) and the last 1 MiB (an
// OWF footer and manifest) in one multi-range request.
constexpr std::uint64_t kHeadBytes = 64u << 10;
constexpr std::uint64_t kTailBytes = 1u << 20;
// A server that answers the open request with the whole file (200) is
// read whole when the file is at most this large.
constexpr std::uint64_t kWholeFileLimit = 4u << 20;
// Small reads fetch this much and keep it, so that a parser reading a
// header piece by piece costs one request per block.
constexpr std::uint64_t kSmallBlock = 256u << 10;
constexpr std::uint64_t kCacheBytes = 32u << 20;
// Large reads are split into parts of this size over parallel connections.
constexpr std::uint64_t kPart = 8u << 20;
constexpr long kMaxRedirects = 8;
constexpr unsigned kMaxRetryAfterSeconds = 30;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlList {
  curl_slist* list = nullptr;
  CurlList() = default;
  CurlList(const CurlList&) = delete;
  CurlList& operator=(const CurlList&) = delete;
  ~CurlList() { curl_slist_free_all(list); }
  bool append(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
};

// The headers of the final response of one transfer (those of redirects
// are dropped when the next status line arrives).
struct ResponseHeaders {
  long status = 0;
  std::string content_range, content_type, etag, last_modified, retry_after;
};

// One transfer's destination: a fixed span (range reads) or a growing
// buffer with a cap (the open request, whose answer size is not known).
struct Transfer {
  CURL* easy = nullptr;
  std::span<std::byte> out;
  std::vector<std::byte>* grow = nullptr;
  std::size_t cap = 0;
  bool accept_200 = false;
  std::size_t written = 0;
  std::string abort_reason;
  ResponseHeaders headers;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  const std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->headers = {};
    const std::size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      if (auto code = parse_u64(line.substr(sp + 1, 3))) t->headers.status = static_cast<long>(*code);
    }
    return n;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  const std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
  if (iequals(name, "content-range"))
    t->headers.content_range = value;
  else if (iequals(name, "content-type"))
    t->headers.content_type = value;
  else if (iequals(name, "etag"))
    t->headers.etag = value;
  else if (iequals(name, "last-modified"))
    t->headers.last_modified = value;
  else if (iequals(name, "retry-after"))
    t->headers.retry_after = value;
  return n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status != 206 && status != 200) return n;  // an error page: not kept
  if (status == 200 && !t->accept_200) {
    t->abort_reason = "the server ignored the Range request (status 200 instead of 206)";
    return 0;  // stops the transfer: the body may be the whole file
  }
  if (t->grow != nullptr) {
    if (n > t->cap - t->grow->size()) {
      t->abort_reason = "answer larger than " + std::to_string(t->cap) + " bytes";
      return 0;
    }
    const auto* p = reinterpret_cast<const std::byte*>(data);
    t->grow->insert(t->grow->end(), p, p + n);
  } else {
    if (n > t->out.size() - t->written) {
      t->abort_reason = "the server sent more bytes than the " + std::to_string(t->out.size()) + " asked for";
      return 0;
    }
    std::memcpy(t->out.data() + t->written, data, n);
  }
  t->written += n;
  return n;
}

// How one attempt ended.
struct Attempt {
  Status status;
  bool retry = false;
  std::chrono::milliseconds wait{0};  // Retry-After, when the server said
};

std::chrono::milliseconds retry_after(const std::string& value) {
  if (value.empty()) return std::chrono::milliseconds(0);
  std::uint64_t seconds = 0;
  if (auto s = parse_u64(value)) {
    seconds = *s;
  } else {
    const time_t when = curl_getdate(value.c_str(), nullptr);
    const time_t now = std::time(nullptr);
    if (when > now) seconds = static_cast<std::uint64_t>(when - now);
  }
  return std::chrono::milliseconds(std::min<std::uint64_t>(seconds, kMaxRetryAfterSeconds) * 1000);
}

// A curl error worth another attempt: the network, not the request, failed.
bool transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

class HttpByteSource final : public ByteSource {
 public:
  HttpByteSource(std::string url, const RemoteOptions& options)
      : url_(std::move(url)), name_(redacted_url(url_)), options_(options) {
    options_.connections = std::max(1u, options_.connections);
  }

  ~HttpByteSource() override {
    for (CURL* easy : idle_) curl_easy_cleanup(easy);
  }

  Status open();

  std::uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }
  bool remote() const override { return true; }

  Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    if (out.empty()) return {};
    if (offset > size_ || out.size() > size_ - offset)
      return Error(ErrorCode::kIoError, name_ + ": read of " + std::to_string(out.size()) + " bytes at " +
                                            std::to_string(offset) + " is past its " + std::to_string(size_) +
                                            " bytes");
    if (cached(offset, out)) return {};
    if (out.size() < kSmallBlock) {
      const std::uint64_t length = std::min(size_ - offset, kSmallBlock);
      std::vector<std::byte> block(static_cast<std::size_t>(length));
      OWF_RETURN_IF_ERROR(fetch(offset, block));
      std::memcpy(out.data(), block.data(), out.size());
      keep(offset, std::move(block), false);
      return {};
    }
    return fetch_parallel(offset, out);
  }

 private:
  struct Segment {
    std::uint64_t offset;
    std::vector<std::byte> bytes;
    bool pinned;  // the open request's head and tail stay
  };

  // An easy handle from the pool (connections are kept alive between
  // requests), returned on destruction.
  class Lease {
   public:
    explicit Lease(const HttpByteSource& source) : source_(source) {
      std::lock_guard lock(source_.mutex_);
      if (!source_.idle_.empty()) {
        easy_ = source_.idle_.back();
        source_.idle_.pop_back();
      }
    }
    ~Lease() {
      if (easy_ == nullptr) return;
      std::lock_guard lock(source_.mutex_);
      source_.idle_.push_back(easy_);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    CURL* get() {
      if (easy_ == nullptr) easy_ = source_.new_handle();
      return easy_;
    }

   private:
    const HttpByteSource& source_;
    CURL* easy_ = nullptr;
  };

  CURL* new_handle() const {
    CURL* easy = curl_easy_init();
    if (easy == nullptr) return nullptr;
    curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.timeout_seconds));
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.timeout_seconds));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "owf");
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 512L << 10);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    return easy;
  }

  // One GET of `range` ("first-last", or several for the open request).
  Attempt attempt(Transfer& t, const std::string& range, const curl_slist* headers) const {
    Lease lease(*this);
    t.easy = lease.get();
    if (t.easy == nullptr) return {Error(ErrorCode::kIoError, name_ + ": cannot create an HTTP handle")};
    char message[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, message);
    curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(t.easy, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t);
    const CURLcode code = curl_easy_perform(t.easy);
    curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, nullptr);
    const std::string where = name_ + ": bytes " + range + ": ";
    if (!t.abort_reason.empty()) return {Error(ErrorCode::kIoError, where + t.abort_reason)};
    if (code != CURLE_OK) {
      std::string why = message[0] != '\0' ? message : curl_easy_strerror(code);
      if (code == CURLE_TOO_MANY_REDIRECTS) why = "more than " + std::to_string(kMaxRedirects) + " redirects";
      return {Error(ErrorCode::kIoError, where + why), transient(code)};
    }
    const long status = t.headers.status;
    if (status == 206 || (status == 200 && t.accept_200)) return {};
    if (status >= 500 || status == 429 || status == 408)
      return {Error(ErrorCode::kIoError, where + "HTTP " + std::to_string(status)), true,
              retry_after(t.headers.retry_after)};
    if (status == 412 || status == 416)
      return {Error(ErrorCode::kIoError,
                    where + "HTTP " + std::to_string(status) + ": the file changed on the server after it was opened")};
    if (status == 401 || status == 403)
      return {Error(ErrorCode::kIoError, where + "HTTP " + std::to_string(status) +
                                             ": access denied (set a token with OWF_HTTP_TOKEN or a header)")};
    if (status == 404) return {Error(ErrorCode::kNotFound, name_ + ": HTTP 404: no such file on the server")};
    if (status == 200)
      return {Error(ErrorCode::kIoError, where + "the server ignored the Range request (status 200 instead of 206)")};
    return {Error(ErrorCode::kIoError, where + "unexpected HTTP status " + std::to_string(status))};
  }

  // Runs attempts with backoff until one succeeds, fails for good, or the
  // retries are spent; each attempt starts with an empty destination.
  Status with_retries(Transfer& t, const std::string& range, const curl_slist* headers) const {
    for (unsigned n = 0;; ++n) {
      if (t.grow != nullptr) t.grow->clear();
      t.written = 0;
      t.abort_reason.clear();
      Attempt a = attempt(t, range, headers);
      if (a.status.ok() || !a.retry || n >= options_.retries) {
        if (!a.status.ok() && n > 0)
          return Error(a.status.code(), a.status.error().message() + " (after " + std::to_string(n + 1) + " attempts)");
        return a.status;
      }
      const auto backoff = std::chrono::milliseconds(std::min(100u << std::min(n, 5u), 3000u));
      std::this_thread::sleep_for(std::max(backoff, a.wait));
    }
  }

  // The answer must be the range asked for, of the file seen at open.
  Status check_answer(const Transfer& t, std::uint64_t offset, std::uint64_t length) const {
    const std::string where = name_ + ": bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    const auto range = parse_content_range(t.headers.content_range);
    if (!range)
      return Error(ErrorCode::kIoError,
                   where + ": the answer has no valid Content-Range ('" + t.headers.content_range.substr(0, 80) + "')");
    if (range->total != size_)
      return Error(ErrorCode::kIoError, where + ": the file is now " + std::to_string(range->total) + " bytes, not " +
                                            std::to_string(size_) + ": it changed on the server after it was opened");
    if (range->first != offset || range->last != offset + length - 1)
      return Error(ErrorCode::kIoError, where + ": the server sent bytes " + std::to_string(range->first) + "-" +
                                            std::to_string(range->last) + " instead (Content-Range)");
    if (!etag_.empty() && !t.headers.etag.empty() && t.headers.etag != etag_)
      return Error(ErrorCode::kIoError,
                   where + ": the file changed on the server after it was opened (its ETag changed)");
    if (t.written != length)
      return Error(ErrorCode::kIoError,
                   where + ": the server sent " + std::to_string(t.written) + " bytes, not " + std::to_string(length));
    return {};
  }

  Status fetch(std::uint64_t offset, std::span<std::byte> out) const {
    const std::string range = std::to_string(offset) + "-" + std::to_string(offset + out.size() - 1);
    Transfer t;
    t.out = out;
    OWF_RETURN_IF_ERROR(with_retries(t, range, conditional_.list));
    // A checked answer is final: retrying a server that sends wrong ranges
    // or another file would not make it right.
    return check_answer(t, offset, out.size());
  }

  Status fetch_parallel(std::uint64_t offset, std::span<std::byte> out) const {
    const std::uint64_t parts = (out.size() + kPart - 1) / kPart;
    const unsigned workers = static_cast<unsigned>(std::min<std::uint64_t>(options_.connections, parts));
    if (workers <= 1) return fetch(offset, out);
    std::atomic<std::uint64_t> next{0};
    std::mutex failure_mutex;
    std::optional<Error> failure;
    auto work = [&] {
      for (std::uint64_t p; (p = next.fetch_add(1)) < parts;) {
        const std::uint64_t begin = p * kPart, end = std::min<std::uint64_t>(out.size(), begin + kPart);
        auto s =
            fetch(offset + begin, out.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)));
        if (!s.ok()) {
          std::lock_guard lock(failure_mutex);
          if (!failure) failure = s.error();
          next.store(parts);
        }
      }
    };
    std::vector<std::thread> threads;
    try {
      for (unsigned i = 1; i < workers; ++i) threads.emplace_back(work);
    } catch (const std::system_error&) {
      // No more threads: the ones running (at least this one) do the rest.
    }
    work();
    for (auto& th : threads) th.join();
    if (failure) return *failure;
    return {};
  }

  bool cached(std::uint64_t offset, std::span<std::byte> out) const {
    std::lock_guard lock(mutex_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (offset < it->offset || offset - it->offset > it->bytes.size() ||
          out.size() > it->bytes.size() - (offset - it->offset))
        continue;
      std::memcpy(out.data(), it->bytes.data() + (offset - it->offset), out.size());
      if (!it->pinned) cache_.splice(cache_.begin(), cache_, it);  // most recent first
      return true;
    }
    return false;
  }

  void keep(std::uint64_t offset, std::vector<std::byte> bytes, bool pinned) const {
    std::lock_guard lock(mutex_);
    cached_bytes_ += bytes.size();
    cache_.push_front({offset, std::move(bytes), pinned});
    for (auto it = std::prev(cache_.end()); cached_bytes_ > kCacheBytes && it != cache_.begin();) {
      auto victim = it--;
      if (victim->pinned) continue;
      cached_bytes_ -= victim->bytes.size();
      cache_.erase(victim);
    }
  }

  Status open_single_ranges();
  Status fetch_other_end(const ContentRange& got);
  Status take_validators(const ResponseHeaders& h);

  std::string url_, name_;
  RemoteOptions options_;
  CurlList plain_, conditional_;  // request headers; conditional_ adds If-Match
  std::uint64_t size_ = 0;
  std::string etag_;
  mutable std::mutex mutex_;
  mutable std::vector<CURL*> idle_;
  mutable std::list<Segment> cache_;
  mutable std::uint64_t cached_bytes_ = 0;
};

Status HttpByteSource::take_validators(const ResponseHeaders& h) {
  // Strong ETags identify the bytes; a weak one (W/"...") does not, so the
  // date is the condition then.
  if (!h.etag.empty() && !h.etag.starts_with("W/")) etag_ = h.etag;
  for (curl_slist* l = plain_.list; l != nullptr; l = l->next)
    if (!conditional_.append(l->data)) return Error(ErrorCode::kIoError, name_ + ": out of memory for headers");
  bool ok = true;
  if (!etag_.empty())
    ok = conditional_.append("If-Match: " + etag_);
  else if (!h.last_modified.empty())
    ok = conditional_.append("If-Unmodified-Since: " + h.last_modified);
  if (!ok) return Error(ErrorCode::kIoError, name_ + ": out of memory for headers");
  return {};
}

// For servers that refuse or ignore multi-range requests: the tail (which
// also gives the size) and the head as two single-range requests.
Status HttpByteSource::open_single_ranges() {
  std::vector<std::byte> tail;
  Transfer t;
  t.grow = &tail;
  t.cap = kTailBytes;
  const std::string suffix = "-" + std::to_string(kTailBytes);
  Status s = with_retries(t, suffix, plain_.list);
  if (!s.ok() && t.headers.status == 416 && t.headers.content_range == "bytes */0") {
    size_ = 0;  // an empty file has no range to serve
    return take_validators(t.headers);
  }
  OWF_RETURN_IF_ERROR(s);
  const auto range = parse_content_range(t.headers.content_range);
  if (!range || range->last + 1 != range->total || range->last - range->first + 1 != tail.size())
    return Error(ErrorCode::kIoError, name_ + ": bytes " + suffix + ": the answer has no valid Content-Range ('" +
                                          t.headers.content_range.substr(0, 80) + "')");
  size_ = range->total;
  OWF_RETURN_IF_ERROR(take_validators(t.headers));
  keep(range->first, std::move(tail), true);
  return fetch_other_end(*range);
}

// The open request brought one of head and tail (`got`): the other one
// now, so that opening costs two requests on servers of single ranges.
Status HttpByteSource::fetch_other_end(const ContentRange& got) {
  if (got.first == 0 && got.last + 1 < size_) {
    const std::uint64_t from = std::max(got.last + 1, size_ > kTailBytes ? size_ - kTailBytes : 0);
    std::vector<std::byte> tail(static_cast<std::size_t>(size_ - from));
    OWF_RETURN_IF_ERROR(fetch(from, tail));
    keep(from, std::move(tail), true);
  } else if (got.first > 0) {
    std::vector<std::byte> head(static_cast<std::size_t>(std::min(kHeadBytes, got.first)));
    OWF_RETURN_IF_ERROR(fetch(0, head));
    keep(0, std::move(head), true);
  }
  return {};
}

Status HttpByteSource::open() {
  for (const auto& h : options_.headers)
    if (!plain_.append(h)) return Error(ErrorCode::kIoError, name_ + ": out of memory for headers");
  std::vector<std::byte> body;
  Transfer t;
  t.grow = &body;
  t.cap = kWholeFileLimit;
  t.accept_200 = true;
  const std::string ranges = "0-" + std::to_string(kHeadBytes - 1) + ",-" + std::to_string(kTailBytes);
  Status s = with_retries(t, ranges, plain_.list);
  if (!s.ok()) {
    // A whole file too large to take (a server without range support, or
    // one that answers several ranges with the whole file) or a refused
    // multi-range request: single ranges decide.
    if (t.headers.status == 200 || t.headers.status == 416) return open_single_ranges();
    return s;
  }
  if (t.headers.status == 200) {
    size_ = body.size();
    OWF_RETURN_IF_ERROR(take_validators(t.headers));
    keep(0, std::move(body), true);
    return {};
  }
  const std::string_view type = t.headers.content_type;
  if (type.starts_with("multipart/byteranges")) {
    const std::size_t b = type.find("boundary=");
    std::string_view boundary = b == std::string_view::npos ? std::string_view() : type.substr(b + 9);
    boundary = boundary.substr(0, boundary.find(';'));
    if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"')
      boundary = boundary.substr(1, boundary.size() - 2);
    auto parts = boundary.empty() ? std::nullopt : parse_byteranges(body, boundary);
    if (!parts)
      return Error(ErrorCode::kIoError, name_ + ": bytes " + ranges + ": malformed multipart/byteranges answer");
    size_ = parts->front().range.total;
    for (const auto& p : *parts) {
      const bool asked = p.range.first == 0 || p.range.last + 1 == size_;
      if (p.range.total != size_ || !asked)
        return Error(ErrorCode::kIoError, name_ + ": bytes " + ranges + ": the server sent bytes " +
                                              std::to_string(p.range.first) + "-" + std::to_string(p.range.last) + "/" +
                                              std::to_string(p.range.total) + ", not what was asked");
    }
    OWF_RETURN_IF_ERROR(take_validators(t.headers));
    for (const auto& p : *parts) keep(p.range.first, std::vector<std::byte>(p.bytes.begin(), p.bytes.end()), true);
    return {};
  }
  // One range only (a server that serves the first range of several, or
  // merged them): keep it when it is one of those asked for.
  const auto range = parse_content_range(t.headers.content_range);
  if (!range || !(range->first == 0 || range->last + 1 == range->total))
    return Error(ErrorCode::kIoError, name_ + ": bytes " + ranges + ": the answer has no valid Content-Range ('" +
                                          t.headers.content_range.substr(0, 80) + "')");
  if (range->last - range->first + 1 != body.size())
    return Error(ErrorCode::kIoError, name_ + ": bytes " + ranges + ": the server sent " + std::to_string(body.size()) +
                                          " bytes for the range " + std::to_string(range->first) + "-" +
                                          std::to_string(range->last));
  size_ = range->total;
  OWF_RETURN_IF_ERROR(take_validators(t.headers));
  const ContentRange got = *range;
  keep(got.first, std::move(body), true);
  return fetch_other_end(got);
}

}  // namespace

Result<std::shared_ptr<const ByteSource>> open_http_source(const std::string& url, const RemoteOptions& options) {
  global_init();
  RemoteOptions o = options;
  bool has_authorization = false;
  for (const auto& h : o.headers) has_authorization |= iequals(trim(h.substr(0, h.find(':'))), "authorization");
  if (const char* header = std::getenv("OWF_HTTP_HEADER"); header != nullptr && *header != '\0') {
    has_authorization |=
        iequals(trim(std::string_view(header).substr(0, std::string_view(header).find(':'))), "authorization");
    o.headers.emplace_back(header);
  }
  if (const char* token = std::getenv("OWF_HTTP_TOKEN"); token != nullptr && *token != '\0' && !has_authorization)
    o.headers.push_back(std::string("Authorization: Bearer ") + token);
  if (o.ca_file.empty())
    if (const char* ca = std::getenv("OWF_CA_FILE"); ca != nullptr) o.ca_file = ca;
  if (const char* timeout = std::getenv("OWF_HTTP_TIMEOUT"); timeout != nullptr)
    if (auto seconds = parse_u64(timeout); seconds && *seconds > 0 && *seconds < 86400)
      o.timeout_seconds = static_cast<unsigned>(*seconds);
  for (const auto& h : o.headers)
    if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos)
      return Error(ErrorCode::kInvalidArgument,
                   "a request header must be one line 'Name: value' (the header is not shown)");
  auto source = std::make_shared<HttpByteSource>(url, o);
  OWF_RETURN_IF_ERROR(source->open());
  return std::shared_ptr<const ByteSource>(std::move(source));
}

#endif

}  // namespace owf::internal
