// A small HTTP/1.1 server on loopback that misbehaves on purpose, for what
// a well-behaved server (nginx) never does. It serves one file; the first
// path segment picks the behaviour:
//
//   /ok/NAME            ranges served right (several ranges: only the first)
//   /drop/NAME          every second answer ends mid-body (connection closed)
//   /drop-always/NAME   every answer ends mid-body
//   /stall/NAME         the second answer stops mid-body and stalls
//   /ignore-range/NAME  200 and the whole file, whatever the Range
//   /wrong-range/NAME   206 with a Content-Range one byte off
//   /long/NAME          206 with 100 bytes more than asked (after the first answer)
//   /change/NAME        after the first answer, other bytes under a new
//                       ETag; If-Match is honoured (412)
//   /change-ignore/NAME the same, If-Match ignored
//   /change-quiet/NAME  the same without ETag or Last-Modified
//   /busy/NAME          the first two answers are 503 with Retry-After: 1
//   /loop/NAME          redirects to itself
//   /redirect/NAME      redirects to /ok/NAME
//   /auth/NAME          401 unless "Authorization: Bearer s3cret"
//
// usage: owf_fault_server FILE PORT_FILE   (writes the port, serves until killed)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string original, changed;  // the file, and the file with one byte flipped
std::mutex counters_mutex;
std::map<std::string, int> counters;  // answers per behaviour

int next_count(const std::string& mode) {
  std::lock_guard lock(counters_mutex);
  return ++counters[mode];
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
bool send_all(int fd, const std::string& s) { return send_all(fd, s.data(), s.size()); }

std::string header_value(const std::string& request, const std::string& name) {
  std::size_t at = 0;
  while ((at = request.find("\r\n", at)) != std::string::npos) {
    at += 2;
    if (request.size() - at >= name.size() + 1 && strncasecmp(request.c_str() + at, name.c_str(), name.size()) == 0 &&
        request[at + name.size()] == ':') {
      std::size_t begin = at + name.size() + 1;
      while (begin < request.size() && request[begin] == ' ') ++begin;
      return request.substr(begin, request.find("\r\n", begin) - begin);
    }
  }
  return {};
}

// The first range of a Range header, clamped to the file; nullopt: none.
std::optional<std::pair<std::size_t, std::size_t>> first_range(const std::string& header, std::size_t size) {
  if (header.rfind("bytes=", 0) != 0 || size == 0) return std::nullopt;
  std::string spec = header.substr(6, header.find(',') - 6);
  const std::size_t dash = spec.find('-');
  if (dash == std::string::npos) return std::nullopt;
  const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  std::size_t first, last;
  if (a.empty()) {
    const std::size_t n = std::stoull(b);
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    first = std::stoull(a);
    last = b.empty() ? size - 1 : std::min<std::size_t>(std::stoull(b), size - 1);
  }
  if (first > last) return std::nullopt;
  return std::make_pair(first, last);
}

// Answers one request; false closes the connection.
bool answer(int fd, const std::string& request) {
  const std::size_t sp1 = request.find(' '), sp2 = request.find(' ', sp1 + 1);
  const std::string target = request.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::size_t slash = target.find('/', 1);
  const std::string mode = target.substr(1, slash - 1), name = target.substr(slash + 1);
  const int n = next_count(mode);
  if (mode == "loop")
    return send_all(fd, "HTTP/1.1 302 Found\r\nLocation: " + target + "\r\nContent-Length: 0\r\n\r\n");
  if (mode == "redirect")
    return send_all(fd, "HTTP/1.1 302 Found\r\nLocation: /ok/" + name + "\r\nContent-Length: 0\r\n\r\n");
  if (mode == "busy" && n <= 2)
    return send_all(fd, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy");
  if (mode == "auth" && header_value(request, "Authorization") != "Bearer s3cret")
    return send_all(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\ndenied");

  const bool changes = mode.rfind("change", 0) == 0;
  const bool now_changed = changes && n > 1;
  const std::string& file = now_changed ? changed : original;
  std::string validators;
  if (mode != "change-quiet")
    validators = std::string("ETag: \"") + (now_changed ? "v2" : "v1") + "\"\r\nLast-Modified: " +
                 (now_changed ? "Tue, 02 Jan 2024 00:00:00 GMT" : "Mon, 01 Jan 2024 00:00:00 GMT") + "\r\n";
  if (mode == "change") {
    const std::string if_match = header_value(request, "If-Match");
    if (!if_match.empty() && if_match != (now_changed ? "\"v2\"" : "\"v1\""))
      return send_all(fd, "HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n");
  }
  const auto range = first_range(header_value(request, "Range"), file.size());
  if (mode == "ignore-range" || !range) {
    if (!send_all(fd,
                  "HTTP/1.1 200 OK\r\n" + validators + "Content-Length: " + std::to_string(file.size()) + "\r\n\r\n"))
      return false;
    return send_all(fd, file);
  }
  auto [first, last] = *range;
  std::size_t length = last - first + 1;
  std::string content_range =
      "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(file.size());
  if (mode == "wrong-range")
    content_range =
        "bytes " + std::to_string(first + 1) + "-" + std::to_string(last + 1) + "/" + std::to_string(file.size() + 1);
  std::string body = file.substr(first, length);
  if (mode == "long" && n > 1) body.append(100, 'x');
  const std::string head = "HTTP/1.1 206 Partial Content\r\n" + validators + "Content-Range: " + content_range +
                           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  if (!send_all(fd, head)) return false;
  const bool cut = mode == "drop-always" || (mode == "drop" && n % 2 == 0) || (mode == "stall" && n == 2);
  if (cut) {
    send_all(fd, body.data(), body.size() / 2);
    if (mode == "stall") std::this_thread::sleep_for(std::chrono::seconds(20));
    return false;
  }
  return send_all(fd, body);
}

void serve(int fd) {
  std::string buffer;
  char chunk[8192];
  for (;;) {
    const std::size_t end = buffer.find("\r\n\r\n");
    if (end != std::string::npos) {
      const std::string request = buffer.substr(0, end + 2);
      buffer.erase(0, end + 4);
      if (!answer(fd, request)) break;
      continue;
    }
    const ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
    if (r <= 0 || buffer.size() > (1u << 20)) break;
    buffer.append(chunk, static_cast<std::size_t>(r));
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FILE PORT_FILE\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  original.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.eof() && !in) return 2;
  changed = original;
  if (!changed.empty()) changed[changed.size() / 2] = static_cast<char>(changed[changed.size() / 2] ^ 0x01);

  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // any free port
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 64) != 0) {
    std::perror("bind/listen");
    return 2;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  {
    std::ofstream port(std::string(argv[2]) + ".tmp");
    port << ntohs(addr.sin_port) << "\n";
  }
  std::rename((std::string(argv[2]) + ".tmp").c_str(), argv[2]);
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread(serve, fd).detach();
  }
}
