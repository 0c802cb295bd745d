// File::load(): many tensors into caller buffers, read by several threads,
// each tensor checked as its bytes land.
//
// Work is cut into pieces of at most kPiece bytes, handed out in file
// offset order so that the threads together read the file front to back
// (the kernel's read-ahead then sees one stream, and a cold disk gets
// several requests in flight). SHA-256 is one sequential stream per tensor
// (format.md §4.2), so hashing follows the pieces in order: the thread
// whose piece lands next in its tensor's order hashes it at once, while it
// is still in cache, and goes on through every later piece that already
// landed; a piece that lands early waits for that thread. No bytes are
// read twice and no thread waits for another.
#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "canonical.hpp"
#include "codec.hpp"
#include "file_access.hpp"
#include "owf/reader.hpp"
#include "parallel.hpp"
#include "sha256.hpp"

namespace owf {

namespace {

using internal::FileAccess;

struct Piece {
  std::size_t request;  // index into the requests
  std::uint64_t at;     // logical offset in the tensor
  std::uint64_t size;   // the whole tensor for a compressed one
};

// What the threads share about one request, guarded by the loader's mutex.
struct RequestState {
  std::size_t pieces = 0;    // how many pieces the request was cut into
  std::size_t hashed = 0;    // pieces hashed so far, in order
  std::vector<bool> landed;  // per piece
  bool hashing = false;      // a thread is hashing this request's pieces
  internal::Sha256 hash;     // touched only by the thread that is hashing
  Status canonical;          // R36, reported only when the digest matches
  std::optional<Error> failure;
};

}  // namespace

Status File::load(std::span<const LoadRequest> requests, const LoadOptions& options) const {
  const internal::ByteSource& source = FileAccess::source(*this);
  const auto& manifest = FileAccess::validated(*this).manifest;
  const auto& tensors = manifest.tensors;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const LoadRequest& q = requests[r];
    if (q.tensor >= tensors.size())
      return Error(ErrorCode::kInvalidArgument, "load request " + std::to_string(r) + ": tensor index " +
                                                    std::to_string(q.tensor) + " is not below the file's " +
                                                    std::to_string(tensors.size()) + " tensors");
    const TensorInfo& t = tensors[q.tensor];
    if (q.out.size() != t.logical_bytes)
      return Error(ErrorCode::kInvalidArgument, "load request " + std::to_string(r) + ": buffer of " +
                                                    std::to_string(q.out.size()) + " bytes for tensor '" +
                                                    std::string(t.name.substr(0, 200)) + "' of " +
                                                    std::to_string(t.logical_bytes) + " bytes");
  }
  // A remote tensor read whole is always checked (spec/security.md, "Remote files").
  const bool verify = options.verify || source.remote();
  // Remote reads cost a round trip each: larger pieces, and more threads
  // than cores, so that some hash while others wait.
  const std::uint64_t kPiece = source.remote() ? 8u << 20 : 4u << 20;
  const unsigned threads = options.threads != 0 ? options.threads
                           : source.remote()    ? std::max(4u, 2 * std::thread::hardware_concurrency())
                                                : internal::resolve_threads(0);

  std::vector<std::size_t> order(requests.size());
  for (std::size_t r = 0; r < order.size(); ++r) order[r] = r;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& ta = tensors[requests[a].tensor];
    const auto& tb = tensors[requests[b].tensor];
    return ta.offset != tb.offset ? ta.offset < tb.offset : a < b;
  });
  std::vector<RequestState> state(requests.size());
  std::vector<Piece> pieces;
  std::uint64_t total = 0;
  for (const std::size_t r : order) {
    const TensorInfo& t = tensors[requests[r].tensor];
    total += t.logical_bytes;
    // A compressed tensor is one piece: decoded and checked whole by one thread.
    const std::uint64_t step = t.codec == Codec::kNone ? kPiece : std::max<std::uint64_t>(t.logical_bytes, 1);
    std::size_t n = 0;
    for (std::uint64_t at = 0; at < t.logical_bytes || (at == 0 && n == 0); at += step, ++n)
      pieces.push_back({r, at, std::min(step, t.logical_bytes - at)});
    state[r].pieces = n;
    state[r].landed.assign(n, false);
  }

  std::mutex mutex;
  std::uint64_t done = 0;
  // Hashes the request's pieces from `first` on while they have landed;
  // called by the one thread that set `hashing`.
  auto hash_landed = [&](std::size_t r, std::unique_lock<std::mutex>& lock) {
    RequestState& s = state[r];
    const TensorInfo& t = tensors[requests[r].tensor];
    while (s.hashed < s.pieces && s.landed[s.hashed]) {
      const std::uint64_t at = static_cast<std::uint64_t>(s.hashed) * kPiece;
      const auto bytes = requests[r].out.subspan(static_cast<std::size_t>(at),
                                                 static_cast<std::size_t>(std::min(kPiece, t.logical_bytes - at)));
      lock.unlock();
      s.hash.update(bytes);
      if (s.canonical.ok()) s.canonical = internal::check_canonical_bytes(t.name, t.dtype, t.element_count, bytes, at);
      lock.lock();
      ++s.hashed;
    }
    s.hashing = false;
    if (s.hashed == s.pieces && !s.failure) {
      if (s.hash.finish() != t.sha256)
        s.failure = internal::tensor_digest_mismatch(t);
      else if (!s.canonical.ok())
        s.failure = s.canonical.error();
    }
  };

  // On a cold disk the threads spend part of their time hashing; asking
  // the kernel for the pieces a little ahead keeps the disk busy meanwhile.
  const std::size_t lookahead = 4 * static_cast<std::size_t>(threads);
  auto hint = [&](std::size_t k) {
    if (k >= pieces.size()) return;
    const TensorInfo& t = tensors[requests[pieces[k].request].tensor];
    if (t.codec == Codec::kNone) source.will_read(t.offset + pieces[k].at, pieces[k].size);
  };
  for (std::size_t k = 0; k < lookahead; ++k) hint(k);

  internal::parallel_for(pieces.size(), threads, [&](std::size_t k) {
    hint(k + lookahead);
    const Piece& p = pieces[k];
    const LoadRequest& q = requests[p.request];
    const TensorInfo& t = tensors[q.tensor];
    const auto out = q.out.subspan(static_cast<std::size_t>(p.at), static_cast<std::size_t>(p.size));
    Status read;
    if (t.codec != Codec::kNone) {
      read = read_range(t, 0, out);
      if (read.ok() && verify) {
        if (internal::sha256(out) != t.sha256)
          read = internal::tensor_digest_mismatch(t);
        else
          read = internal::check_canonical_bytes(t.name, t.dtype, t.element_count, out, 0);
      }
    } else if (!out.empty()) {
      read = source.read_at(t.offset + p.at, out);
    }
    std::unique_lock lock(mutex);
    RequestState& s = state[p.request];
    done += p.size;
    if (options.progress) options.progress(done, total);
    if (!read.ok()) {
      if (!s.failure) s.failure = read.error();
      return;
    }
    if (!verify || t.codec != Codec::kNone) return;
    const std::size_t index = static_cast<std::size_t>(p.at / kPiece);
    s.landed[index] = true;
    if (!s.hashing && s.hashed == index && !s.failure) {
      s.hashing = true;
      hash_landed(p.request, lock);
    }
  });

  std::size_t failed = 0;
  const Error* first = nullptr;
  for (const std::size_t r : order)
    if (const auto& f = state[r].failure) {
      ++failed;
      if (!first) first = &*f;
    }
  if (first == nullptr) return {};
  if (failed == 1) return *first;
  return Error(first->code(), first->message() + " (and " + std::to_string(failed - 1) + " more tensors fail)");
}

}  // namespace owf
