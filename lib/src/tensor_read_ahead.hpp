// Reading a source's tensors on a thread of its own, ahead of the thread
// that writes them, so that reading, writing and hashing overlap in a
// conversion instead of taking turns.
//
// The reader fills blocks: runs of small tensors share one block and one
// hand-over (100,000 tensors of 64 bytes are not 100,000 hand-overs), large
// tensors of sources with ranged reads are cut into block-sized pieces.
// Two blocks exist at a time, one being read and one being written, so
// memory stays at two blocks, or, for a source that can only read a tensor
// whole, at that tensor plus one block.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "owf/source.hpp"
#include "tensor_pieces.hpp"

namespace owf::internal {

class TensorReadAhead {
 public:
  /// Bytes of one block.
  static constexpr std::uint64_t kBlockBytes = 2ull << 20;

  /// Logical bytes [offset, offset + bytes.size()) of tensor `index`.
  struct Piece {
    std::size_t index;
    std::uint64_t offset;
    std::span<const std::byte> bytes;
    bool last;  // the tensor's final piece (a zero-size tensor has only this one)
  };

  /// Starts reading the tensors `order` (indices into `source`) in that order.
  TensorReadAhead(const Source& source, std::vector<std::size_t> order);
  /// Stops the reader, even in the middle of the tensors.
  ~TensorReadAhead();
  TensorReadAhead(const TensorReadAhead&) = delete;
  TensorReadAhead& operator=(const TensorReadAhead&) = delete;

  /// The next piece, in order; nullopt after the last. Its bytes stay valid
  /// until the call after the next one that moves to another block, i.e.
  /// until the caller asks for more; an error names the tensor.
  Result<std::optional<Piece>> next();

 private:
  struct Block {
    PieceBuffer buffer;
    std::span<std::byte> space;  // of `buffer`: kBlockBytes, or one tensor read whole
    std::vector<Piece> pieces;
    std::optional<Error> error;  // reading stopped here, after `pieces`
    bool end = false;            // no tensors after this block
  };

  void read_all();
  // Fills `block` from the reader's position; false when it stopped.
  void fill(Block& block);

  const Source& source_;
  std::vector<std::size_t> order_;
  std::size_t position_ = 0;         // reader: next tensor in order_
  std::uint64_t tensor_offset_ = 0;  // reader: bytes of it already read

  std::mutex mutex_;
  std::condition_variable changed_;
  Block blocks_[2];
  bool ready_[2] = {false, false};  // filled, not yet consumed
  bool stopping_ = false;
  std::size_t consuming_ = 0;   // the block next() reads
  std::size_t next_piece_ = 0;  // within it
  bool holding_ = false;        // next() holds blocks_[consuming_]
  std::thread reader_;
};

}  // namespace owf::internal
