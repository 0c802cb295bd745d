// OWF shard sets (spec/shards.md §4): one shard opened, the others opened
// when first needed and checked against it (S2-S4); the set's weights
// digest (S5) and the directory's extra files (S6) once all are open.
#include "file_set.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_set>
#include <vector>

#include "owf/digest.hpp"
#include "owf/remote.hpp"
#include "owf/shard_set.hpp"
#include "rules.hpp"

namespace owf {

namespace {

std::string in_quotes(std::string_view s) { return "'" + std::string(s.substr(0, 200)) + "'"; }

Error mismatch(const std::string& what) { return Error(ErrorCode::kShardSetMismatch, what); }

// The .owf entries of a directory, in byte order of their names.
Result<std::vector<std::string>> owf_entries(const std::filesystem::path& directory) {
  std::error_code ec;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > 4 && name.ends_with(".owf") && !it->is_directory(ec)) names.push_back(std::move(name));
    if (names.size() > 1'000'000)
      return Error(ErrorCode::kLimitExceeded, directory.string() + ": over 1,000,000 .owf files");
  }
  if (ec) return Error(ErrorCode::kIoError, directory.string() + ": cannot list the directory: " + ec.message());
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return internal::compare_bytes(a, b) < 0; });
  return names;
}

}  // namespace

struct FileSet::Impl {
  std::filesystem::path directory;
  OpenOptions options;
  const ShardSetInfo* first_set = nullptr;  // the first shard opened's (in files[first_opened]), not a copy
  const ShardSetInfo& set() const { return *first_set; }
  std::size_t first_opened = 0;
  std::vector<std::uint64_t> first_position;  // of each shard's first tensor in the union
  std::uint64_t total = 0;
  std::optional<std::vector<std::string>> directory_entries;  // opened from a directory (S6)
  ModelInfo info;

  mutable std::mutex mutex;
  mutable std::vector<std::unique_ptr<File>> files;  // opened shards, by position
  mutable bool all_checked = false;

  std::string shard_name(std::size_t k) const {
    return "shard " + std::to_string(k + 1) + " of " + std::to_string(set().shards.size()) + " " +
           in_quotes(set().shards[k].file_name);
  }

  // S3, S4: a shard agrees with the one first opened.
  Status check_member(std::size_t k, const File& file) const {
    const ShardSetInfo* own = file.shard_set();
    if (own == nullptr) return mismatch(shard_name(k) + " is not a shard: it has no shard_set (rule S3)");
    if (own->weights_digest != set().weights_digest || own->shards != set().shards)
      return mismatch(shard_name(k) + " belongs to another set (set weights digest " + to_hex(own->weights_digest) +
                      ", not " + to_hex(set().weights_digest) + "), or to another write of this one (rule S3)");
    if (own->index != k)
      return mismatch(shard_name(k) + " is the set's shard " + std::to_string(own->index + 1) + " " +
                      in_quotes(set().shards[own->index].file_name) + " under another shard's name (rule S3)");
    if (file.info() != info)
      return mismatch(shard_name(k) +
                      ": its model information (license, provenance, hyperparameters, metadata) "
                      "differs from shard " +
                      std::to_string(first_opened + 1) + "'s (rule S4)");
    return {};
  }

  // Caller holds the mutex.
  Result<const File*> open_locked(std::size_t k) const {
    if (files[k]) return files[k].get();
    auto file = File::open(internal::shard_location(directory, set().shards[k].file_name), options);
    if (!file.ok()) return Error(file.error().code(), shard_name(k) + ": " + file.error().message());
    OWF_RETURN_IF_ERROR(check_member(k, *file));
    files[k] = std::make_unique<File>(std::move(*file));
    return files[k].get();
  }

  // S5 and S6, once every shard is open. Caller holds the mutex.
  Status check_whole_locked() const {
    if (all_checked) return {};
    std::vector<DigestEntry> entries;
    entries.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(total, 1u << 20)));
    for (const auto& f : files)
      for (std::size_t i = 0; i < f->tensor_count(); ++i) {
        const TensorInfo t = f->tensor(i);
        entries.push_back({t.name, t.dtype, t.shape, t.sha256});
      }
    if (const Sha256Digest d = weights_digest_of(std::move(entries)); d != set().weights_digest)
      return mismatch("the set's tensors have weights digest " + to_hex(d) + ", not the " +
                      to_hex(set().weights_digest) + " every shard states (rule S5)");
    if (directory_entries) {
      std::unordered_set<std::string_view> names;  // R38 made them unique
      for (const ShardEntry& e : set().shards) names.insert(e.file_name);
      for (const std::string& name : *directory_entries)
        if (!names.contains(name))
          return mismatch((directory / name).string() + " is not a shard of the set in its directory (rule S6)");
    }
    all_checked = true;
    return {};
  }
};

FileSet::FileSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileSet::FileSet(FileSet&&) noexcept = default;
FileSet& FileSet::operator=(FileSet&&) noexcept = default;
FileSet::~FileSet() = default;

Result<FileSet> FileSet::open(const std::filesystem::path& path, const OpenOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::error_code ec;
  std::filesystem::path first;
  if (std::filesystem::is_directory(path, ec)) {
    OWF_ASSIGN_OR_RETURN(std::vector<std::string> names, owf_entries(path));
    if (names.empty())
      return Error(ErrorCode::kIoError, path.string() +
                                            " is a directory holding no shard set (no .owf file, no *.index.json); "
                                            "name a weights file");
    impl->directory = path;
    first = path / names.front();
    impl->directory_entries = std::move(names);
  } else {
    impl->directory = path.parent_path();
    first = path;
  }
  OWF_ASSIGN_OR_RETURN(File file, File::open(first, options));
  if (file.shard_set() == nullptr)
    return mismatch(first.string() + " is not a shard of a set (it has no shard_set); open it as a file");
  impl->first_set = file.shard_set();  // File keeps it in place when moved
  const std::size_t k = impl->set().index;
  impl->first_opened = k;
  impl->info = file.info();
  // S1: a shard opened by a name other than its own is renamed or swapped.
  if (first.filename().string() != impl->set().shards[k].file_name)
    return mismatch(first.string() + " is the set's shard " + std::to_string(k + 1) + ", named " +
                    in_quotes(impl->set().shards[k].file_name) + ": renamed, or swapped with another shard (rule S1)");
  for (const ShardEntry& e : impl->set().shards) {
    impl->first_position.push_back(impl->total);
    impl->total += e.tensor_count;  // R38 checked that the sum fits
  }
  // Shards opened later are found where this one was, even if the process
  // changes its working directory in between.
  if (!is_url(impl->directory.native()))
    if (auto absolute = impl->directory.empty() ? std::filesystem::current_path(ec)
                                                : std::filesystem::absolute(impl->directory, ec);
        !ec)
      impl->directory = std::move(absolute);
  impl->files.resize(impl->set().shards.size());
  impl->files[k] = std::make_unique<File>(std::move(file));
  return FileSet(std::move(impl));
}

std::size_t FileSet::shard_count() const { return impl_->set().shards.size(); }
const ShardEntry& FileSet::shard(std::size_t index) const { return impl_->set().shards[index]; }
std::filesystem::path FileSet::shard_path(std::size_t index) const {
  return internal::shard_location(impl_->directory, impl_->set().shards[index].file_name);
}

Result<const File*> FileSet::shard_file(std::size_t index) const {
  if (index >= shard_count())
    return Error(ErrorCode::kInvalidArgument,
                 "shard " + std::to_string(index) + " of " + std::to_string(shard_count()) + " does not exist");
  std::lock_guard lock(impl_->mutex);
  return impl_->open_locked(index);
}

Status FileSet::open_all() const {
  std::lock_guard lock(impl_->mutex);
  for (std::size_t k = 0; k < shard_count(); ++k) OWF_RETURN_IF_ERROR(impl_->open_locked(k).status());
  return impl_->check_whole_locked();
}

std::uint64_t FileSet::tensor_count() const { return impl_->total; }

Result<ShardLocation> FileSet::locate(std::uint64_t index) const {
  if (index >= impl_->total)
    return Error(ErrorCode::kInvalidArgument,
                 "tensor " + std::to_string(index) + " of a set of " + std::to_string(impl_->total) + " tensors");
  const auto& firsts = impl_->first_position;
  const std::size_t k =
      static_cast<std::size_t>(std::upper_bound(firsts.begin(), firsts.end(), index) - firsts.begin()) - 1;
  OWF_RETURN_IF_ERROR(shard_file(k).status());
  return ShardLocation{k, static_cast<std::size_t>(index - firsts[k])};
}

Result<std::optional<ShardLocation>> FileSet::find(std::string_view name) const {
  const auto& shards = impl_->set().shards;
  // The last shard whose first tensor does not sort after the name.
  const auto after = std::upper_bound(shards.begin(), shards.end(), name, [](std::string_view n, const ShardEntry& e) {
    return internal::compare_bytes(n, e.first_tensor) < 0;
  });
  if (after == shards.begin()) return std::optional<ShardLocation>();
  const auto k = static_cast<std::size_t>(after - shards.begin()) - 1;
  OWF_ASSIGN_OR_RETURN(const File* file, shard_file(k));
  const auto i = file->find(name);
  if (!i) return std::optional<ShardLocation>();
  return std::optional<ShardLocation>(ShardLocation{k, *i});
}

Sha256Digest FileSet::weights_digest() const { return impl_->set().weights_digest; }
const ModelInfo& FileSet::info() const { return impl_->info; }

Status FileSet::verify(const VerifyOptions& options) const {
  OWF_RETURN_IF_ERROR(open_all());
  std::uint64_t total = 0, before = 0;
  for (const auto& f : impl_->files) total += f->file_size();
  for (std::size_t k = 0; k < shard_count(); ++k) {
    const File& file = *impl_->files[k];
    VerifyOptions each;
    each.threads = options.threads;
    if (options.progress)
      each.progress = [&, before](std::uint64_t done, std::uint64_t) { options.progress(before + done, total); };
    if (auto s = file.verify(each); !s.ok())
      return Error(s.error().code(), impl_->shard_name(k) + ": " + s.error().message());
    before += file.file_size();
  }
  return {};
}

namespace internal {

std::filesystem::path shard_location(const std::filesystem::path& directory, const std::string& file_name) {
  if (!is_url(directory.native())) return directory / file_name;
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string url = directory.native();
  if (!url.ends_with('/')) url += '/';
  for (const char c : file_name) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      url += c;
    } else {
      url += '%';
      url += kHex[b >> 4];
      url += kHex[b & 15];
    }
  }
  return url;
}

namespace {

// A set as one Source: the union of its shards' tensors in name order.
class FileSetSource final : public Source {
 public:
  explicit FileSetSource(FileSet set) : set_(std::move(set)) {
    for (std::size_t k = 0; k < set_.shard_count(); ++k) files_.push_back(*set_.shard_file(k));
    for (std::size_t k = 0; k < files_.size(); ++k)
      for (std::size_t i = 0; i < files_[k]->tensor_count(); ++i) where_.push_back({k, i});
  }
  Format format() const override { return Format::kOwf; }
  std::size_t tensor_count() const override { return where_.size(); }
  TensorInfo tensor(std::size_t index) const override { return file(index).tensor(where_[index].tensor); }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    const File& f = file(index);
    return f.read(f.tensor(where_[index].tensor), out);
  }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    const File& f = file(index);
    return f.read_range(f.tensor(where_[index].tensor), offset, out);
  }
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return set_.info(); }
  const FileSet* owf_file_set() const override { return &set_; }
  std::uint64_t alignment() const override { return files_.front()->alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override { return tensor(index).sha256; }
  std::vector<std::filesystem::path> files() const override {
    std::vector<std::filesystem::path> out;
    for (std::size_t k = 0; k < set_.shard_count(); ++k) out.push_back(set_.shard_path(k));
    return out;
  }

 private:
  const File& file(std::size_t index) const { return *files_[where_[index].shard]; }
  FileSet set_;
  std::vector<const File*> files_;
  std::vector<ShardLocation> where_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_owf_shard_set(const std::filesystem::path& path, const Limits& limits) {
  OpenOptions options;
  options.limits = limits;
  OWF_ASSIGN_OR_RETURN(FileSet set, FileSet::open(path, options));
  OWF_RETURN_IF_ERROR(set.open_all());
  return std::unique_ptr<Source>(std::make_unique<FileSetSource>(std::move(set)));
}

}  // namespace internal

}  // namespace owf
