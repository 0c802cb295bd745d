// PyTorch checkpoints (torch.save): the zip layout (<archive>/data.pkl,
// <archive>/data/<key>, <archive>/byteorder) and the legacy stream (magic,
// protocol, sys_info and main pickles, a pickled list of storage keys, then
// each storage as a u64 element count and its raw bytes). The pickles go
// through the data-only interpreter in pickle.cpp: nothing is imported or
// called. spec/interchange.md ("PyTorch") describes the mapping.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "formats/formats.hpp"
#include "formats/pickle.hpp"
#include "formats/zip_archive.hpp"
#include "utf8.hpp"

namespace owf::internal {
namespace {

namespace pk = pickle;

constexpr std::uint32_t kMaxNesting = 1000;            // containers inside containers
constexpr std::uint64_t kMaxTensorBytes = 1ull << 40;  // logical bytes of one tensor
constexpr std::uint64_t kMaxStorageKeyEntries = 1ull << 24;

Error invalid(const std::filesystem::path& path, const std::string& what) {
  return Error(ErrorCode::kForeignFormatInvalid, path.string() + ": " + what);
}

// A read-only mapping of a whole file (legacy streams are read in place).
class Mapping {
 public:
  static Result<std::unique_ptr<Mapping>> open(const std::filesystem::path& path) {
    auto m = std::unique_ptr<Mapping>(new Mapping());
    m->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (m->fd_ < 0) return Error(ErrorCode::kIoError, path.string() + ": cannot open");
    struct stat st {};
    if (::fstat(m->fd_, &st) != 0) return Error(ErrorCode::kIoError, path.string() + ": cannot stat");
    m->size_ = static_cast<std::uint64_t>(st.st_size);
    if (m->size_ > 0) {
      void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, m->fd_, 0);
      if (p == MAP_FAILED) return Error(ErrorCode::kIoError, path.string() + ": cannot map the file");
      m->data_ = static_cast<const std::byte*>(p);
    }
    return m;
  }
  ~Mapping() {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  std::span<const std::byte> bytes() const { return {data_, static_cast<std::size_t>(size_)}; }

 private:
  Mapping() = default;
  int fd_ = -1;
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

struct StorageData {
  std::uint64_t zip_index = 0;    // zip: entry holding the storage
  std::uint64_t file_offset = 0;  // legacy: first data byte in the file
  std::uint64_t bytes = 0;        // declared size in bytes
};

struct TensorEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::uint64_t elsize = 1;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> stride;
  std::uint64_t offset = 0;  // first element addressed
  std::uint64_t last = 0;    // last element addressed (numel > 0)
  std::uint64_t numel = 0;
  std::uint64_t bytes = 0;
  bool contiguous = true;
  std::uint32_t storage = 0;
  Role role = Role::kOther;
};

bool is_row_major(const std::vector<std::uint64_t>& shape, const std::vector<std::uint64_t>& stride) {
  std::uint64_t expected = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && stride[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

void swap_elements(std::span<std::byte> bytes, DType dtype, std::uint64_t elsize) {
  const std::uint64_t unit = (dtype == DType::kC64 || dtype == DType::kC128) ? elsize / 2 : elsize;
  if (unit <= 1) return;
  for (std::size_t i = 0; i + unit <= bytes.size(); i += unit)
    std::reverse(bytes.begin() + i, bytes.begin() + i + unit);
}

class PyTorchSource final : public Source {
 public:
  Format format() const override { return Format::kPyTorch; }
  std::size_t tensor_count() const override { return tensors_.size(); }
  TensorInfo tensor(std::size_t index) const override {
    const TensorEntry& t = tensors_[index];
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.role = t.role;
    info.codec = Codec::kNone;
    info.offset = 0;
    info.stored_bytes = t.bytes;
    info.logical_bytes = t.bytes;
    info.element_count = t.numel;
    return info;
  }
  const ModelInfo& info() const override { return info_; }

  Status read(std::size_t index, std::span<std::byte> out) const override {
    if (index >= tensors_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
    const TensorEntry& t = tensors_[index];
    if (out.size() != t.bytes)
      return Error(ErrorCode::kInvalidArgument, "tensor '" + t.name + "': buffer of " + std::to_string(out.size()) +
                                                    " bytes for " + std::to_string(t.bytes) + " logical bytes");
    if (t.numel == 0) return {};
    const StorageData& s = storages_[t.storage];
    const std::uint64_t begin = t.offset * t.elsize;  // checked at open: inside the storage
    const std::uint64_t span = (t.last - t.offset + 1) * t.elsize;
    if (t.contiguous) {
      OWF_RETURN_IF_ERROR(read_storage(s, begin, out, t.name));
    } else {
      std::vector<std::byte> window(span);
      OWF_RETURN_IF_ERROR(read_storage(s, begin, window, t.name));
      gather(t, window, out);
    }
    if (big_endian_) swap_elements(out, t.dtype, t.elsize);
    return {};
  }

  // Built by open_pytorch.
  std::filesystem::path path_;
  std::unique_ptr<ZipArchive> zip_;
  std::unique_ptr<Mapping> map_;
  bool big_endian_ = false;
  std::vector<StorageData> storages_;
  std::vector<TensorEntry> tensors_;
  ModelInfo info_;

 private:
  Status read_storage(const StorageData& s, std::uint64_t offset, std::span<std::byte> out,
                      const std::string& name) const {
    if (zip_) {
      auto st = zip_->read_range(static_cast<std::size_t>(s.zip_index), offset, out);
      if (!st.ok()) return Error(st.code(), "tensor '" + name + "': " + st.error().message());
      return {};
    }
    const auto bytes = map_->bytes();
    std::memcpy(out.data(), bytes.data() + s.file_offset + offset, out.size());
    return {};
  }

  // Copies a strided view out of `window` (which starts at element t.offset)
  // into row-major order.
  static void gather(const TensorEntry& t, std::span<const std::byte> window, std::span<std::byte> out) {
    const std::size_t rank = t.shape.size();
    const std::uint64_t es = t.elsize;
    if (rank == 0) {
      std::memcpy(out.data(), window.data(), es);
      return;
    }
    std::vector<std::uint64_t> index(rank, 0);
    const std::uint64_t inner = t.shape[rank - 1];
    const std::uint64_t inner_stride = t.stride[rank - 1];
    std::uint64_t base = 0;  // element offset (relative to t.offset) of the current row
    std::byte* dst = out.data();
    for (;;) {
      if (inner_stride == 1) {
        std::memcpy(dst, window.data() + base * es, inner * es);
        dst += inner * es;
      } else {
        for (std::uint64_t i = 0; i < inner; ++i) {
          std::memcpy(dst, window.data() + (base + i * inner_stride) * es, es);
          dst += es;
        }
      }
      // Advance the outer index (all dimensions but the last).
      std::size_t d = rank - 1;
      for (;;) {
        if (d == 0) return;
        --d;
        ++index[d];
        base += t.stride[d];
        if (index[d] < t.shape[d]) break;
        base -= t.stride[d] * index[d];
        index[d] = 0;
      }
    }
  }
};

// ---------------------------------------------------------------------------
// Turning the unpickled object into named tensors and model information.

class Flattener {
 public:
  Flattener(const pk::Pickle& p, const Limits& limits, const std::filesystem::path& path)
      : p_(p), limits_(limits), path_(path), on_path_(p.objects.size(), 0) {}

  // Tensors under `node` (named relative to it) and/or plain values
  // (named from the root).
  Status walk(pk::ObjectId node, const std::string& root_name, bool want_tensors, bool want_values) {
    struct Frame {
      pk::ObjectId obj;
      std::size_t next = 0;
      std::string name;
      std::unordered_set<std::string> keys;
    };
    std::vector<Frame> frames;
    auto visit = [&](pk::ObjectId v, std::string name) -> Status {
      if (++visits_ > 4 * p_.objects.size() + 1024)
        return Error(ErrorCode::kLimitExceeded,
                     path_.string() + ": the checkpoint's object graph is too large to walk");
      const pk::Kind k = p_.kind(v);
      if (k == pk::Kind::kTensor) {
        if (want_tensors) OWF_RETURN_IF_ERROR(add_tensor(v, name));
        return {};
      }
      if (k == pk::Kind::kDict || k == pk::Kind::kList || k == pk::Kind::kTuple) {
        if (k != pk::Kind::kDict && is_scalar_sequence(v)) {
          if (want_values) OWF_RETURN_IF_ERROR(add_value(v, name));
          return {};
        }
        if (frames.size() >= kMaxNesting)
          return Error(ErrorCode::kLimitExceeded,
                       path_.string() + ": containers nested deeper than " + std::to_string(kMaxNesting) + " levels");
        if (on_path_[v])
          return invalid(path_, "the checkpoint contains a reference cycle at '" + name.substr(0, 200) + "'");
        on_path_[v] = 1;
        frames.push_back(Frame{v, 0, std::move(name), {}});
        return {};
      }
      if (want_values) OWF_RETURN_IF_ERROR(add_value(v, name));
      return {};
    };
    OWF_RETURN_IF_ERROR(visit(node, root_name));
    while (!frames.empty()) {
      Frame& f = frames.back();
      const pk::Kind k = p_.kind(f.obj);
      const std::size_t size = k == pk::Kind::kDict ? p_.dict(f.obj).size() : p_.sequence(f.obj).size();
      if (f.next >= size) {
        on_path_[f.obj] = 0;
        frames.pop_back();
        continue;
      }
      const std::size_t i = f.next++;
      std::string key;
      pk::ObjectId child;
      if (k == pk::Kind::kDict) {
        const auto [key_id, value_id] = p_.dict(f.obj)[i];
        OWF_ASSIGN_OR_RETURN(key, key_text(key_id, f.name));
        if (!f.keys.insert(key).second)
          return invalid(path_, "dict '" + f.name.substr(0, 200) + "' holds key '" + key.substr(0, 200) + "' twice");
        child = value_id;
      } else {
        key = std::to_string(i);
        child = p_.sequence(f.obj)[i];
      }
      std::string name = f.name.empty() ? key : f.name + "." + key;
      OWF_RETURN_IF_ERROR(visit(child, std::move(name)));  // may reallocate `frames`: `f` is not used after
    }
    return {};
  }

  std::vector<std::pair<std::string, pk::ObjectId>> tensors;  // pickle order
  ModelInfo info;

 private:
  Result<std::string> key_text(pk::ObjectId key, const std::string& where) const {
    switch (p_.kind(key)) {
      case pk::Kind::kString:
        return p_.text(key);
      case pk::Kind::kInt:
        return std::to_string(p_.at(key).i);
      case pk::Kind::kBool:
        return std::string(p_.at(key).i ? "True" : "False");
      default:
        return Error(ErrorCode::kForeignFormatUnsupported,
                     path_.string() + ": dict '" + where.substr(0, 200) + "' has a key of type " +
                         std::string(pk::kind_name(p_.kind(key))) + " (only str and int keys are read)");
    }
  }

  bool is_scalar_sequence(pk::ObjectId v) const {
    const auto& items = p_.sequence(v);
    if (items.empty()) return true;
    const pk::Kind first = p_.kind(items[0]);
    for (pk::ObjectId item : items) {
      const pk::Kind k = p_.kind(item);
      const bool number = (k == pk::Kind::kInt || k == pk::Kind::kFloat);
      const bool first_number = (first == pk::Kind::kInt || first == pk::Kind::kFloat);
      if (!(k == first || (number && first_number))) return false;
      if (k != pk::Kind::kInt && k != pk::Kind::kFloat && k != pk::Kind::kBool && k != pk::Kind::kString) return false;
    }
    return true;
  }

  Status check_name(const std::string& name, std::string_view what) const {
    if (name.empty())
      return Error(ErrorCode::kBadTensorName, path_.string() + ": a " + std::string(what) + " has an empty name");
    if (name.size() > limits_.max_name_bytes)
      return Error(ErrorCode::kLimitExceeded, path_.string() + ": " + std::string(what) + " name of " +
                                                  std::to_string(name.size()) + " bytes exceeds the limit of " +
                                                  std::to_string(limits_.max_name_bytes));
    if (name.find('\0') != std::string::npos)
      return Error(ErrorCode::kBadTensorName, path_.string() + ": " + std::string(what) + " name contains a NUL byte");
    if (!is_valid_utf8(name))
      return Error(ErrorCode::kBadUtf8, path_.string() + ": " + std::string(what) + " name is not valid UTF-8");
    return {};
  }

  Status add_tensor(pk::ObjectId v, const std::string& name) {
    OWF_RETURN_IF_ERROR(check_name(name, "tensor"));
    if (tensors.size() >= limits_.max_tensors)
      return Error(ErrorCode::kLimitExceeded,
                   path_.string() + ": more than " + std::to_string(limits_.max_tensors) + " tensors");
    if (!tensor_names_.insert(name).second)
      return Error(ErrorCode::kDuplicateTensorName, path_.string() + ": two tensors are named '" + name + "'");
    tensors.emplace_back(name, v);
    return {};
  }

  Status add_value(pk::ObjectId v, const std::string& name) {
    Value value;
    const pk::Object& o = p_.at(v);
    switch (o.kind) {
      case pk::Kind::kBool:
        value = Value(o.i != 0);
        break;
      case pk::Kind::kInt:
        value = Value(o.i);
        break;
      case pk::Kind::kFloat:
        value = Value(o.f);
        break;
      case pk::Kind::kString:
        value = Value(p_.text(v));
        break;
      case pk::Kind::kGlobal:
        value = Value(p_.global(v).name);
        break;
      case pk::Kind::kList:
      case pk::Kind::kTuple: {
        const auto& items = p_.sequence(v);
        const pk::Kind first = items.empty() ? pk::Kind::kInt : p_.kind(items[0]);
        bool any_float = false;
        for (auto item : items) any_float |= p_.kind(item) == pk::Kind::kFloat;
        if (first == pk::Kind::kString) {
          std::vector<std::string> xs;
          for (auto item : items) xs.push_back(p_.text(item));
          value = Value(std::move(xs));
        } else if (first == pk::Kind::kBool) {
          std::vector<bool> xs;
          for (auto item : items) xs.push_back(p_.at(item).i != 0);
          value = Value(std::move(xs));
        } else if (any_float) {
          std::vector<double> xs;
          for (auto item : items)
            xs.push_back(p_.kind(item) == pk::Kind::kFloat ? p_.at(item).f : static_cast<double>(p_.at(item).i));
          value = Value(std::move(xs));
        } else {
          std::vector<std::int64_t> xs;
          for (auto item : items) xs.push_back(p_.at(item).i);
          value = Value(std::move(xs));
        }
        break;
      }
      default:
        return {};  // None, bytes, big integers, bare storages: not model information
    }
    if (auto* s = std::get_if<std::string>(&value.data); s && !is_valid_utf8(*s))
      return Error(ErrorCode::kBadUtf8,
                   path_.string() + ": the string at '" + name.substr(0, 200) + "' is not valid UTF-8");
    if (auto* xs = std::get_if<std::vector<std::string>>(&value.data))
      for (const auto& s : *xs)
        if (!is_valid_utf8(s))
          return Error(ErrorCode::kBadUtf8,
                       path_.string() + ": a string at '" + name.substr(0, 200) + "' is not valid UTF-8");
    if (!is_valid_utf8(name)) return Error(ErrorCode::kBadUtf8, path_.string() + ": a key is not valid UTF-8");
    if (info.hyperparameters.size() + info.metadata.size() >= limits_.max_metadata_entries)
      return Error(ErrorCode::kLimitExceeded,
                   path_.string() + ": more than " + std::to_string(limits_.max_metadata_entries) + " plain values");
    const std::string key = name.empty() ? "value" : name;
    if (validate_hyperparameter_key(key).ok()) {
      if (!info.hyperparameters.emplace(key, std::move(value)).second)
        return invalid(path_, "two values are named '" + key + "'");
    } else {
      if (!info.metadata.emplace("pytorch.value." + key, value_to_string(value)).second)
        return invalid(path_, "two values are named '" + key + "'");
    }
    return {};
  }

  const pk::Pickle& p_;
  const Limits& limits_;
  const std::filesystem::path& path_;
  std::vector<std::uint8_t> on_path_;
  std::uint64_t visits_ = 0;
  std::unordered_set<std::string> tensor_names_;
};

// Finds the sub-object a --select key names: a key of the root dict, or a
// dotted path through nested dicts (longest matching key first).
Result<pk::ObjectId> resolve_select(const pk::Pickle& p, pk::ObjectId root, std::string_view select,
                                    const std::filesystem::path& path) {
  pk::ObjectId node = root;
  std::string_view rest = select;
  std::string walked;
  while (!rest.empty()) {
    const pk::Kind k = p.kind(node);
    if (k != pk::Kind::kDict && k != pk::Kind::kList && k != pk::Kind::kTuple)
      return Error(ErrorCode::kNotFound, path.string() + ": --select '" + std::string(select) + "': '" + walked +
                                             "' is a " + std::string(pk::kind_name(k)) + ", not a dict");
    bool found = false;
    // Candidate keys: the whole rest, then shorter prefixes ending before a dot.
    for (std::size_t len = rest.size(); len > 0 && !found;) {
      const std::string_view candidate = rest.substr(0, len);
      if (k == pk::Kind::kDict) {
        for (const auto& [key, value] : p.dict(node)) {
          const bool match = (p.kind(key) == pk::Kind::kString && p.text(key) == candidate) ||
                             (p.kind(key) == pk::Kind::kInt && std::to_string(p.at(key).i) == candidate);
          if (match) {
            node = value;
            found = true;
            break;
          }
        }
      } else {
        const auto& items = p.sequence(node);
        for (std::size_t i = 0; i < items.size() && !found; ++i)
          if (std::to_string(i) == candidate) {
            node = items[i];
            found = true;
          }
      }
      if (found) {
        walked += (walked.empty() ? "" : ".") + std::string(candidate);
        rest.remove_prefix(len);
        if (!rest.empty()) rest.remove_prefix(1);  // the dot
        break;
      }
      const std::size_t dot = candidate.rfind('.');
      len = dot == std::string_view::npos ? 0 : dot;
    }
    if (!found) {
      std::string keys;
      if (k == pk::Kind::kDict) {
        std::size_t shown = 0;
        for (const auto& [key, value] : p.dict(node)) {
          if (p.kind(key) != pk::Kind::kString) continue;
          if (shown++ == 10) {
            keys += ", ...";
            break;
          }
          keys += (keys.empty() ? "" : ", ") + p.text(key).substr(0, 100);
        }
      }
      return Error(ErrorCode::kNotFound, path.string() + ": --select '" + std::string(select) + "': no key '" +
                                             std::string(rest) + "'" +
                                             (walked.empty() ? "" : " under '" + walked + "'") +
                                             (keys.empty() ? "" : " (keys: " + keys + ")"));
    }
  }
  return node;
}

// Builds the source's tensor list from the flattened names.
Status finish(PyTorchSource& src, const pk::Pickle& p, Flattener& flat, const std::filesystem::path& path) {
  std::unordered_map<std::uint32_t, std::string> first_user;  // storage -> first tensor name
  for (auto& [name, id] : flat.tensors) {
    const pk::Tensor& t = p.tensor(id);
    TensorEntry e;
    e.name = name;
    e.dtype = t.dtype;
    e.elsize = dtype_info(t.dtype)->block_bytes;
    e.shape = t.shape;
    e.stride = t.stride;
    e.offset = t.offset;
    e.numel = t.numel;
    e.storage = t.storage;
    e.role = infer_role(name);
    if (e.numel > kMaxTensorBytes / e.elsize)
      return Error(ErrorCode::kLimitExceeded, path.string() + ": tensor '" + name + "' would be larger than 1 TiB");
    e.bytes = e.numel * e.elsize;
    e.last = e.offset;
    if (e.numel > 0)
      for (std::size_t d = 0; d < e.shape.size(); ++d)
        e.last += (e.shape[d] - 1) * e.stride[d];  // checked by the interpreter
    e.contiguous = is_row_major(e.shape, e.stride);
    auto [it, inserted] = first_user.emplace(t.storage, name);
    if (!inserted) src.info_.metadata["pytorch.shared_storage." + name] = it->second;
    src.tensors_.push_back(std::move(e));
  }
  for (auto& [k, v] : flat.info.hyperparameters) src.info_.hyperparameters.emplace(k, std::move(v));
  for (auto& [k, v] : flat.info.metadata) src.info_.metadata.emplace(k, std::move(v));
  return {};
}

pk::PickleLimits pickle_limits(const Limits& limits) {
  pk::PickleLimits pl;
  pl.max_string_bytes = limits.max_string_bytes;
  pl.max_rank = limits.max_rank;
  return pl;
}

// Flattens the main pickle into `src` (tensors, hyperparameters, metadata).
Status flatten(PyTorchSource& src, const pk::Pickle& p, pk::ObjectId root, const Limits& limits,
               std::string_view select, const std::filesystem::path& path) {
  Flattener flat(p, limits, path);
  if (select.empty()) {
    OWF_RETURN_IF_ERROR(flat.walk(root, p.kind(root) == pk::Kind::kTensor ? "tensor" : "", true, true));
  } else {
    OWF_ASSIGN_OR_RETURN(pk::ObjectId node, resolve_select(p, root, select, path));
    OWF_RETURN_IF_ERROR(flat.walk(root, "", false, true));
    OWF_RETURN_IF_ERROR(flat.walk(node, p.kind(node) == pk::Kind::kTensor ? std::string(select) : "", true, false));
  }
  return finish(src, p, flat, path);
}

// ---------------------------------------------------------------------------
// The zip layout.

Result<std::unique_ptr<Source>> open_zip(const std::filesystem::path& path, const Limits& limits,
                                         std::string_view select) {
  ZipLimits zl;
  zl.max_entries = limits.max_tensors + 1024;
  zl.max_name_bytes = limits.max_name_bytes;
  OWF_ASSIGN_OR_RETURN(auto zip, ZipArchive::open(path, zl));

  // The pickle is <archive>/data.pkl; the archive name is the first entry's
  // top-level folder, as torch.load takes it.
  std::optional<std::size_t> pkl_index;
  std::string prefix;
  for (std::size_t i = 0; i < zip->entries().size(); ++i) {
    const std::string& name = zip->entries()[i].name;
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") {
      if (pkl_index)
        return invalid(path, "more than one data.pkl ('" + zip->entries()[*pkl_index].name + "', '" + name + "')");
      pkl_index = i;
      prefix = name.substr(0, slash + 1);
    }
  }
  if (!pkl_index) {
    if (zip->find("constants.pkl") || std::any_of(zip->entries().begin(), zip->entries().end(), [](const ZipEntry& e) {
          return e.name.find("/constants.pkl") != std::string::npos;
        }))
      return Error(ErrorCode::kForeignFormatUnsupported,
                   path.string() + ": a TorchScript archive, not a torch.save checkpoint");
    return invalid(path, "zip archive without an <archive>/data.pkl entry: not a PyTorch checkpoint");
  }
  const ZipEntry& pkl_entry = zip->entries()[*pkl_index];
  if (pkl_entry.size > limits.max_manifest_bytes)
    return Error(ErrorCode::kLimitExceeded, path.string() + ": '" + pkl_entry.name + "' is " +
                                                std::to_string(pkl_entry.size) + " bytes, over the limit of " +
                                                std::to_string(limits.max_manifest_bytes));
  std::vector<std::byte> pkl(static_cast<std::size_t>(pkl_entry.size));
  OWF_RETURN_IF_ERROR(zip->read(*pkl_index, pkl));

  auto src = std::make_unique<PyTorchSource>();
  src->path_ = path;
  if (auto bo = zip->find(prefix + "byteorder")) {
    const ZipEntry& e = zip->entries()[*bo];
    if (e.size > 16) return invalid(path, "'" + e.name + "' is " + std::to_string(e.size) + " bytes");
    std::string text(static_cast<std::size_t>(e.size), '\0');
    OWF_RETURN_IF_ERROR(zip->read(*bo, std::as_writable_bytes(std::span(text))));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text == "big")
      src->big_endian_ = true;
    else if (text != "little")
      return invalid(path, "'" + e.name + "' says '" + text + "', not 'little' or 'big'");
  }

  pk::Pickle p;
  std::uint64_t consumed = 0;
  auto root = pk::run(p, pkl, pickle_limits(limits), consumed);
  if (!root.ok())
    return Error(root.error().code(), path.string() + ": " + pkl_entry.name + ": " + root.error().message());

  // Every storage the pickle names must be an entry holding its bytes.
  for (const pk::Storage& s : p.storages) {
    const std::string entry_name = prefix + "data/" + s.key;
    auto index = zip->find(entry_name);
    if (!index) return invalid(path, "storage '" + s.key + "' has no entry '" + entry_name + "'");
    const std::uint64_t bytes = s.numel * dtype_info(s.dtype)->block_bytes;  // overflow-checked by the interpreter
    const ZipEntry& e = zip->entries()[*index];
    if (e.size < bytes)
      return invalid(path, "storage '" + s.key + "' declares " + std::to_string(bytes) + " bytes (" +
                               std::to_string(s.numel) + " elements) but entry '" + entry_name + "' holds " +
                               std::to_string(e.size));
    src->storages_.push_back(StorageData{*index, 0, bytes});
  }
  OWF_RETURN_IF_ERROR(flatten(*src, p, *root, limits, select, path));
  src->zip_ = std::move(zip);
  return std::unique_ptr<Source>(std::move(src));
}

// ---------------------------------------------------------------------------
// The legacy stream.

// 0x1950a86a20f9469cfc6c, as pickled by Python (LONG1, little-endian).
constexpr unsigned char kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::int64_t kLegacyProtocol = 1001;

Result<std::unique_ptr<Source>> open_legacy(const std::filesystem::path& path, const Limits& limits,
                                            std::string_view select) {
  OWF_ASSIGN_OR_RETURN(auto map, Mapping::open(path));
  const auto file = map->bytes();
  const auto pl = pickle_limits(limits);
  std::uint64_t pos = 0;
  auto next_pickle = [&](pk::Pickle& p, std::string_view what) -> Result<pk::ObjectId> {
    const std::uint64_t window = std::min<std::uint64_t>(file.size() - pos, limits.max_manifest_bytes);
    std::uint64_t consumed = 0;
    auto r =
        pk::run(p, file.subspan(static_cast<std::size_t>(pos), static_cast<std::size_t>(window)), pl, consumed, pos);
    if (!r.ok()) return Error(r.error().code(), path.string() + ": " + std::string(what) + ": " + r.error().message());
    pos += consumed;
    return r;
  };

  pk::Pickle header;
  OWF_ASSIGN_OR_RETURN(pk::ObjectId magic, next_pickle(header, "magic number"));
  if (header.kind(magic) != pk::Kind::kBigInt ||
      header.text(magic) != std::string_view(reinterpret_cast<const char*>(kLegacyMagic), sizeof kLegacyMagic))
    return invalid(path, "no legacy torch.save magic number at byte 0: not a PyTorch checkpoint");
  OWF_ASSIGN_OR_RETURN(pk::ObjectId protocol, next_pickle(header, "protocol version"));
  if (header.kind(protocol) != pk::Kind::kInt || header.at(protocol).i != kLegacyProtocol)
    return Error(ErrorCode::kForeignFormatUnsupported, path.string() + ": legacy protocol version is not 1001");
  OWF_ASSIGN_OR_RETURN(pk::ObjectId sys_info, next_pickle(header, "sys_info"));
  bool little = true;
  if (header.kind(sys_info) == pk::Kind::kDict)
    for (const auto& [k, v] : header.dict(sys_info))
      if (header.kind(k) == pk::Kind::kString && header.text(k) == "little_endian" && header.kind(v) == pk::Kind::kBool)
        little = header.at(v).i != 0;

  pk::Pickle p;
  const std::uint64_t main_at = pos;
  OWF_ASSIGN_OR_RETURN(pk::ObjectId root, next_pickle(p, "main pickle at byte " + std::to_string(main_at)));
  pk::Pickle keys_pickle;
  OWF_ASSIGN_OR_RETURN(pk::ObjectId keys, next_pickle(keys_pickle, "storage key list"));
  if (keys_pickle.kind(keys) != pk::Kind::kList) return invalid(path, "the storage key list is not a list");
  const auto& key_ids = keys_pickle.sequence(keys);
  if (key_ids.size() > kMaxStorageKeyEntries)
    return Error(ErrorCode::kLimitExceeded, path.string() + ": too many storages");

  auto src = std::make_unique<PyTorchSource>();
  src->path_ = path;
  src->big_endian_ = !little;
  src->storages_.assign(p.storages.size(), StorageData{});
  std::vector<std::uint8_t> seen(p.storages.size(), 0);
  for (pk::ObjectId key_id : key_ids) {
    if (keys_pickle.kind(key_id) != pk::Kind::kString && keys_pickle.kind(key_id) != pk::Kind::kInt)
      return invalid(path, "a storage key is not a string");
    const std::string key = keys_pickle.kind(key_id) == pk::Kind::kString ? keys_pickle.text(key_id)
                                                                          : std::to_string(keys_pickle.at(key_id).i);
    auto it = p.storage_by_key.find(key);
    if (it == p.storage_by_key.end()) return invalid(path, "storage '" + key + "' is listed but no tensor uses it");
    if (seen[it->second]) return invalid(path, "storage '" + key + "' is listed twice");
    seen[it->second] = 1;
    const pk::Storage& s = p.storages[it->second];
    if (file.size() - pos < 8)
      return invalid(path, "truncated: storage '" + key + "' header at byte " + std::to_string(pos));
    std::uint64_t count = 0;
    for (int i = 0; i < 8; ++i) {
      const auto b = static_cast<std::uint64_t>(std::to_integer<unsigned char>(file[pos + (little ? i : 7 - i)]));
      count |= b << (8 * i);
    }
    if (count != s.numel)
      return invalid(path, "storage '" + key + "' at byte " + std::to_string(pos) + " holds " + std::to_string(count) +
                               " elements, the pickle declares " + std::to_string(s.numel));
    const std::uint64_t bytes = s.numel * dtype_info(s.dtype)->block_bytes;
    pos += 8;
    if (bytes > file.size() - pos)
      return invalid(path, "truncated: storage '" + key + "' needs " + std::to_string(bytes) + " bytes at byte " +
                               std::to_string(pos) + ", the file has " + std::to_string(file.size() - pos) + " left");
    src->storages_[it->second] = StorageData{0, pos, bytes};
    pos += bytes;
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) return invalid(path, "storage '" + p.storages[i].key + "' has no data in the file");

  OWF_RETURN_IF_ERROR(flatten(*src, p, root, limits, select, path));
  src->map_ = std::move(map);
  return std::unique_ptr<Source>(std::move(src));
}

}  // namespace

Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits,
                                             std::string_view select) {
  unsigned char head[4] = {};
  {
    OWF_ASSIGN_OR_RETURN(auto map, Mapping::open(path));
    const auto bytes = map->bytes();
    if (bytes.size() < sizeof head)
      return invalid(path, "file of " + std::to_string(bytes.size()) + " bytes is too short");
    std::memcpy(head, bytes.data(), sizeof head);
  }
  if (head[0] == 'P' && head[1] == 'K') return open_zip(path, limits, select);
  if (head[0] == 0x80) return open_legacy(path, limits, select);
  return invalid(path, "neither a zip archive nor a legacy pickle stream: not a PyTorch checkpoint");
}

Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits) {
  return open_pytorch(path, limits, {});
}

}  // namespace owf::internal
