#include "shard_plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <numeric>
#include <string>
#include <utility>

namespace owf::internal {

std::vector<std::vector<std::size_t>> plan_shards(const Source& source, std::uint64_t max_shard_bytes) {
  const std::size_t n = source.tensor_count();
  std::vector<std::string> names;
  std::vector<std::uint64_t> sizes;
  names.reserve(n);
  sizes.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const TensorInfo t = source.tensor(i);
    names.emplace_back(t.name);
    sizes.push_back(t.logical_bytes);
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  // std::string compares bytes as unsigned char: byte order, as UTF-8
  // code point order.
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return names[a] != names[b] ? names[a] < names[b] : a < b; });

  std::vector<std::vector<std::size_t>> shards(1);
  std::uint64_t bytes = 0;  // in the current shard (may exceed the limit: one oversized tensor)
  for (std::size_t i : order) {
    const std::uint64_t size = sizes[i];
    const bool over = bytes > max_shard_bytes || size > max_shard_bytes - bytes;
    if (max_shard_bytes != 0 && !shards.back().empty() && over) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back(i);
    bytes = size > UINT64_MAX - bytes ? UINT64_MAX : bytes + size;
  }
  return shards;
}

std::filesystem::path shard_path(const std::filesystem::path& target, std::size_t index, std::size_t count) {
  const auto padded = [](std::size_t v) {
    std::string s = std::to_string(v);
    if (s.size() < 5) s.insert(0, 5 - s.size(), '0');
    return s;
  };
  std::filesystem::path name = target.stem();
  name += "-" + padded(index + 1) + "-of-" + padded(count);
  name += target.extension();
  return target.parent_path() / name;
}

Result<ShardSetOutput> ShardSetOutput::create(std::vector<std::filesystem::path> shards, std::filesystem::path index,
                                              const OutputOptions& options) {
  for (const auto& path : shards) OWF_RETURN_IF_ERROR(check_output_target(path, options));
  if (!index.empty()) OWF_RETURN_IF_ERROR(check_output_target(index, options));
  return ShardSetOutput(std::move(shards), std::move(index), options.replace);
}

ShardSetOutput::ShardSetOutput(std::vector<std::filesystem::path> shards, std::filesystem::path index, bool replace)
    : shards_(std::move(shards)), index_(std::move(index)), replace_(replace) {}

ShardSetOutput::ShardSetOutput(ShardSetOutput&& other) noexcept
    : shards_(std::move(other.shards_)),
      index_(std::move(other.index_)),
      replace_(other.replace_),
      written_(std::move(other.written_)),
      replaced_(std::move(other.replaced_)),
      started_(other.started_),
      committed_(other.committed_) {
  other.written_.clear();
  other.replaced_.clear();
  other.committed_ = true;  // nothing left to remove there
}

ShardSetOutput::~ShardSetOutput() {
  if (!committed_) {
    remove_written();
    restore_replaced();
  }
}

void ShardSetOutput::commit() {
  committed_ = true;
  for (const Replaced& r : replaced_) ::unlink(r.saved.c_str());
  replaced_.clear();
}

void ShardSetOutput::remove_written() {
  std::error_code ec;  // best effort: the error being reported is the write's
  for (const auto& path : written_) std::filesystem::remove(path, ec);
  written_.clear();
}

void ShardSetOutput::restore_replaced() {
  for (const Replaced& r : replaced_) {
    ::rename(r.saved.c_str(), r.target.c_str());  // best effort, as above
    ::unlink(r.saved.c_str());  // left when the target was never replaced (rename of one file onto itself)
  }
  replaced_.clear();
}

Status ShardSetOutput::write_file(const std::filesystem::path& path, const std::string& label, const WriteFile& write) {
  if (!started_ && replace_ && !index_.empty()) {
    // An old index at this name would otherwise name a mixture of old and
    // new shards until the new index replaces it.
    std::error_code ec;
    std::filesystem::remove(index_, ec);
    if (ec) return Error(ErrorCode::kIoError, index_.string() + ": cannot remove the old index: " + ec.message());
  }
  started_ = true;
  if (replace_ && path != index_) {
    // The old shard stays reachable until commit(): a hard link (not
    // following a symbolic link) beside it, under a name no set uses.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      for (int attempt = 0; attempt < 16; ++attempt) {
        std::filesystem::path saved = path;
        saved.replace_filename("." + path.filename().string() + ".old-" + std::to_string(::getpid()) + "-" +
                               std::to_string(replaced_.size()) + "-" + std::to_string(attempt));
        if (::linkat(AT_FDCWD, path.c_str(), AT_FDCWD, saved.c_str(), 0) == 0) {
          replaced_.push_back({path, std::move(saved)});
          break;
        }
        if (errno != EEXIST) break;  // no hard links here: replaced without a way back
      }
    }
  }
  if (Status s = write(path); !s.ok()) {
    remove_written();
    restore_replaced();
    return Error(s.code(), label + ": " + s.error().message());
  }
  written_.push_back(path);
  return {};
}

Status ShardSetOutput::write_shard(std::size_t k, const WriteFile& write) {
  const std::filesystem::path& path = shards_.at(k);
  return write_file(
      path, "shard " + std::to_string(k + 1) + " of " + std::to_string(shards_.size()) + " (" + path.string() + ")",
      write);
}

Status ShardSetOutput::write_index(const WriteFile& write) {
  assert(!index_.empty());
  return write_file(index_, "index " + index_.string(), write);
}

}  // namespace owf::internal
