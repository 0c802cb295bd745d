#include "tensor_read_ahead.hpp"

#include <string>

namespace owf::internal {

namespace {

// A block's tail smaller than this is not worth a ranged read of its own.
constexpr std::uint64_t kMinPieceBytes = 64u << 10;

Error in_tensor(const Source& source, std::size_t index, const Error& e) {
  return Error(e.code(), "tensor '" + std::string(source.tensor(index).name) + "': " + e.message());
}

}  // namespace

TensorReadAhead::TensorReadAhead(const Source& source, std::vector<std::size_t> order)
    : source_(source), order_(std::move(order)), reader_([this] { read_all(); }) {}

TensorReadAhead::~TensorReadAhead() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  reader_.join();
}

void TensorReadAhead::read_all() {
  for (std::size_t k = 0;; k ^= 1) {
    {
      std::unique_lock lock(mutex_);
      // A tensor read whole into a block of its own waits until the other
      // block is written too: memory holds one such tensor, not two.
      const bool whole_and_large = position_ < order_.size() && !source_.ranged_reads() &&
                                   source_.tensor(order_[position_]).logical_bytes > kBlockBytes;
      changed_.wait(lock, [&] { return stopping_ || (!ready_[k] && (!whole_and_large || !ready_[k ^ 1])); });
      if (stopping_) return;
    }
    Block& block = blocks_[k];
    fill(block);
    {
      std::lock_guard lock(mutex_);
      ready_[k] = true;
    }
    changed_.notify_all();
    if (block.error || block.end) return;
  }
}

void TensorReadAhead::fill(Block& block) {
  block.pieces.clear();
  block.error.reset();
  // A block that held a large tensor whole goes back to the usual size.
  if (block.space.size() != kBlockBytes) {
    if (block.space.size() > kBlockBytes) block.buffer = PieceBuffer();
    auto space = block.buffer.get(kBlockBytes, "");
    if (!space.ok()) {
      block.error = space.error();
      return;
    }
    block.space = *space;
  }
  std::uint64_t used = 0;
  while (position_ < order_.size()) {
    const std::size_t index = order_[position_];
    const TensorInfo t = source_.tensor(index);
    const std::uint64_t remaining = t.logical_bytes - tensor_offset_;
    const std::uint64_t space = block.space.size() - used;
    std::uint64_t take = remaining;
    if (remaining > space) {
      if (used > 0 && (!source_.ranged_reads() || space < kMinPieceBytes)) break;  // starts the next block
      if (source_.ranged_reads()) {
        take = space;
      } else if (auto whole = block.buffer.get(remaining, t.name); whole.ok()) {
        block.space = *whole;
      } else {
        block.error = whole.error();
        return;
      }
    }
    const auto bytes = block.space.subspan(static_cast<std::size_t>(used), static_cast<std::size_t>(take));
    const Status read = tensor_offset_ == 0 && take == t.logical_bytes
                            ? source_.read(index, bytes)
                            : source_.read_range(index, tensor_offset_, bytes);
    if (!read.ok()) {
      block.error = in_tensor(source_, index, read.error());
      return;
    }
    const bool last = take == remaining;
    block.pieces.push_back({index, tensor_offset_, bytes, last});
    used += take;
    if (last) {
      ++position_;
      tensor_offset_ = 0;
    } else {
      tensor_offset_ += take;
      break;  // the block is full
    }
    if (used == block.space.size()) break;
  }
  block.end = position_ == order_.size();
}

Result<std::optional<TensorReadAhead::Piece>> TensorReadAhead::next() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (holding_) {
      Block& block = blocks_[consuming_];
      if (next_piece_ < block.pieces.size()) return std::optional<Piece>(block.pieces[next_piece_++]);
      if (block.error) return *block.error;
      if (block.end) return std::optional<Piece>();
      // Written: the reader may fill it again.
      ready_[consuming_] = false;
      holding_ = false;
      consuming_ ^= 1;
      next_piece_ = 0;
      changed_.notify_all();
    }
    changed_.wait(lock, [&] { return ready_[consuming_]; });
    holding_ = true;
  }
}

}  // namespace owf::internal
