#include "checked_source.hpp"

#include <string>

#include "tensor_pieces.hpp"

namespace owf::internal {

CheckedSource::CheckedSource(const Source& base, ModelInfo info)
    : base_(base), info_(std::move(info)), stores_digests_(base.stores_digests()), states_(base.tensor_count()) {}

Status CheckedSource::read(std::size_t index, std::span<std::byte> out) const {
  OWF_RETURN_IF_ERROR(base_.read(index, out));
  return feed(index, 0, out);
}

Status CheckedSource::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  OWF_RETURN_IF_ERROR(base_.read_range(index, offset, out));
  return feed(index, offset, out);
}

Result<Sha256Digest> CheckedSource::digest(std::size_t index) const {
  {
    std::lock_guard lock(mutex_);
    if (states_[index].digest) return *states_[index].digest;
  }
  return hash_whole(index);
}

Status CheckedSource::compare(std::size_t index, const Sha256Digest& d) const {
  const TensorInfo t = base_.tensor(index);
  if (stores_digests_ && d != t.sha256)
    return Error(ErrorCode::kTensorDigestMismatch, "the source file is corrupt: the tensor's bytes hash to " +
                                                       to_hex(d) + ", not the digest the file stores (" +
                                                       to_hex(t.sha256) + "); nothing was written");
  return {};
}

// A read at offset 0 starts a pass over the tensor; reads that continue it
// in order are hashed, and the one that completes it is checked. A read
// that skips or goes back ends the pass unchecked (digest() reads again).
Status CheckedSource::feed(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) const {
  const TensorInfo t = base_.tensor(index);
  std::optional<Sha256Digest> finished, earlier;
  {
    std::lock_guard lock(mutex_);
    State& s = states_[index];
    if (offset == 0) {
      s.next = 0;
      s.out_of_order = false;
      s.hasher = std::make_unique<Sha256>();
    } else if (s.out_of_order || !s.hasher || offset != s.next) {
      s.out_of_order = true;
      s.hasher.reset();
      return {};
    }
    s.hasher->update(bytes);
    s.next += bytes.size();
    if (s.next != t.logical_bytes) return {};
    finished = s.hasher->finish();
    s.hasher.reset();
    earlier = s.digest;
    if (!s.digest) s.digest = finished;
  }
  if (earlier && *earlier != *finished)
    return Error(ErrorCode::kIoError, "tensor '" + std::string(t.name) + "' of the source changed while it was read");
  return compare(index, *finished);
}

Result<Sha256Digest> CheckedSource::hash_whole(std::size_t index) const {
  const TensorInfo t = base_.tensor(index);
  Sha256 h;
  PieceBuffer buffer;
  OWF_RETURN_IF_ERROR(for_each_piece(base_, index, buffer, [&](std::span<const std::byte> piece) {
    h.update(piece);
    return Status{};
  }));
  const Sha256Digest d = h.finish();
  OWF_RETURN_IF_ERROR(compare(index, d));
  std::lock_guard lock(mutex_);
  states_[index].digest = d;
  return d;
}

}  // namespace owf::internal
