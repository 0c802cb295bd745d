#include "io/byte_cursor.hpp"

#include <algorithm>

namespace owf::internal {

ByteCursor::ByteCursor(const ByteSource& source, std::uint64_t begin, std::uint64_t end, ErrorCode code,
                       std::size_t window)
    : source_(source),
      begin_(std::min(begin, source.size())),
      end_(std::clamp(end, begin_, source.size())),
      code_(code),
      window_size_(std::max<std::size_t>(window, 64)),
      position_(begin_) {
  if (source.in_memory()) memory_ = source.mapping();
}

Error ByteCursor::error_at(std::uint64_t offset, std::string_view message) const {
  return Error(code_, source_.name() + ": at byte " + std::to_string(offset) + ": " + std::string(message));
}

Error ByteCursor::error_here(std::string_view message) const { return error_at(position_, message); }

Status ByteCursor::need(std::uint64_t n, std::string_view what) const {
  if (n > end_ - position_)
    return Error(code_, source_.name() + ": at byte " + std::to_string(position_) + ": " + std::string(what) +
                            " needs " + std::to_string(n) + " bytes, but only " + std::to_string(end_ - position_) +
                            " remain" + (end_ == source_.size() ? " in the file" : ""));
  return {};
}

Result<std::span<const std::byte>> ByteCursor::view(std::size_t n, std::string_view what) {
  OWF_RETURN_IF_ERROR(need(n, what));
  if (n == 0) return std::span<const std::byte>();  // memory_ may be empty: no subspan of it
  if (!memory_.empty()) {
    auto out = memory_.subspan(static_cast<std::size_t>(position_), n);
    position_ += n;
    return out;
  }
  if (n > window_size_) return error_here("internal: a read of " + std::to_string(n) + " bytes exceeds the window");
  if (position_ < window_start_ || position_ + n > window_start_ + window_.size()) {
    const std::uint64_t length = std::min<std::uint64_t>(std::max<std::uint64_t>(window_size_, n), end_ - position_);
    window_.resize(static_cast<std::size_t>(length));
    window_start_ = position_;
    if (auto s = source_.read_at(position_, window_); !s.ok()) {
      window_.clear();
      return s.error();
    }
  }
  auto out = std::span<const std::byte>(window_).subspan(static_cast<std::size_t>(position_ - window_start_), n);
  position_ += n;
  return out;
}

Status ByteCursor::read_into(std::span<std::byte> out, std::string_view what) {
  OWF_RETURN_IF_ERROR(need(out.size(), what));
  if (out.size() <= window_size_ || !memory_.empty()) {
    OWF_ASSIGN_OR_RETURN(auto bytes, view(out.size(), what));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size());
    return {};
  }
  OWF_RETURN_IF_ERROR(source_.read_at(position_, out));
  position_ += out.size();
  return {};
}

Result<std::string> ByteCursor::read_string(std::uint64_t n, std::uint64_t limit, std::string_view what) {
  if (n > limit)
    return Error(ErrorCode::kLimitExceeded, source_.name() + ": at byte " + std::to_string(position_) + ": " +
                                                std::string(what) + " is " + std::to_string(n) +
                                                " bytes, over the limit of " + std::to_string(limit));
  OWF_RETURN_IF_ERROR(need(n, what));
  std::string s(static_cast<std::size_t>(n), '\0');
  OWF_RETURN_IF_ERROR(read_into(std::as_writable_bytes(std::span(s)), what));
  return s;
}

Status ByteCursor::skip(std::uint64_t n, std::string_view what) {
  OWF_RETURN_IF_ERROR(need(n, what));
  position_ += n;
  return {};
}

Status ByteCursor::seek(std::uint64_t offset) {
  if (offset < begin_ || offset > end_)
    return error_here("offset " + std::to_string(offset) + " is outside [" + std::to_string(begin_) + ", " +
                      std::to_string(end_) + "]");
  position_ = offset;
  return {};
}

}  // namespace owf::internal
