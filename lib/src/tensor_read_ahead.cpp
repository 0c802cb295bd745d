#include "tensor_read_ahead.hpp"

#include <exception>
#include <string>

namespace owf::internal {

namespace {

// A block's tail smaller than this is not worth a ranged read of its own.
constexpr std::uint64_t kMinPieceBytes = 64u << 10;

Error in_tensor(const Source& source, std::size_t index, const Error& e) {
  return Error(e.code(), "tensor '" + std::string(source.tensor(index).name) + "': " + e.message());
}

// `size` bytes for `block`, reusing what it has; limit_exceeded when they
// cannot be had.
Status reserve(std::unique_ptr<std::byte[]>& data, std::uint64_t& capacity, std::uint64_t size,
               std::string_view tensor) {
  if (size <= capacity) return {};
  data.reset();
  capacity = 0;
  const auto too_large = [&] {
    return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(tensor) + "': " + std::to_string(size) +
                                                " bytes do not fit in memory (its source cannot read pieces)");
  };
  if (size > SIZE_MAX / 2) return too_large();
  try {
    data = std::make_unique_for_overwrite<std::byte[]>(static_cast<std::size_t>(size));
  } catch (const std::exception&) {  // bad_alloc
    return too_large();
  }
  capacity = size;
  return {};
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
  if (block.capacity > kBlockBytes) {
    block.data.reset();
    block.capacity = 0;
  }
  if (auto s = reserve(block.data, block.capacity, kBlockBytes, ""); !s.ok()) {
    block.error = s.error();
    return;
  }
  std::uint64_t used = 0;
  while (position_ < order_.size()) {
    const std::size_t index = order_[position_];
    const TensorInfo t = source_.tensor(index);
    const std::uint64_t remaining = t.logical_bytes - tensor_offset_;
    const std::uint64_t space = block.capacity - used;
    std::uint64_t take = remaining;
    if (remaining > space) {
      if (used > 0 && (!source_.ranged_reads() || space < kMinPieceBytes)) break;  // starts the next block
      if (source_.ranged_reads()) {
        take = space;
      } else if (auto s = reserve(block.data, block.capacity, remaining, t.name); !s.ok()) {
        block.error = s.error();
        return;
      }
    }
    const auto bytes = std::span(block.data.get() + used, static_cast<std::size_t>(take));
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
    if (used == block.capacity) break;
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
