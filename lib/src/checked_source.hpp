// A Source that checks what is read through it: every tensor is hashed in
// the pieces a reader asks for, and a tensor whose bytes disagree with the
// digest its file stores (OWF) fails the read that completes it. convert()
// reads through it, so that a corrupt source never becomes a valid-looking
// copy.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "owf/source.hpp"
#include "sha256.hpp"

namespace owf::internal {

class CheckedSource final : public Source {
 public:
  /// `info` replaces the model information of `base` (which must outlive
  /// this source).
  CheckedSource(const Source& base, ModelInfo info);

  Format format() const override { return base_.format(); }
  std::size_t tensor_count() const override { return base_.tensor_count(); }
  TensorInfo tensor(std::size_t index) const override { return base_.tensor(index); }
  Status read(std::size_t index, std::span<std::byte> out) const override;
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override;
  bool ranged_reads() const override { return base_.ranged_reads(); }
  const ModelInfo& info() const override { return info_; }
  std::uint64_t alignment() const override { return base_.alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override { return digest(index); }

  /// The digest of a tensor's bytes: from the pieces read so far, when they
  /// covered the tensor in order; otherwise the tensor is read again now.
  /// Fails when the bytes disagree with the stored digest, or with what an
  /// earlier complete read of the same tensor hashed to (a source that
  /// changes while it is read).
  Result<Sha256Digest> digest(std::size_t index) const;

 private:
  struct State {
    std::uint64_t next = 0;  // bytes hashed so far, in order
    bool out_of_order = false;
    std::unique_ptr<Sha256> hasher;  // only while a tensor streams
    std::optional<Sha256Digest> digest;
  };

  Status compare(std::size_t index, const Sha256Digest& d) const;
  Status feed(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) const;
  Result<Sha256Digest> hash_whole(std::size_t index) const;

  const Source& base_;
  ModelInfo info_;
  bool stores_digests_;
  mutable std::mutex mutex_;
  mutable std::vector<State> states_;
};

}  // namespace owf::internal
