// Reading PyTorch checkpoints (torch.save; spec/interchange.md, "PyTorch"):
// the zip layout (<archive>/data.pkl, <archive>/data/<key>,
// <archive>/byteorder) and the legacy stream (magic, protocol, sys_info and
// main pickles, a pickled list of storage keys, then each storage as a u64
// element count and its raw bytes). The pickles go through the data-only
// interpreter (pickle.cpp): nothing is imported or called. The object is
// then named by pytorch_flatten.cpp, and each tensor becomes a strided view
// of its storage's bytes (view_source.hpp), read from the file by ranges.
#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

#include "formats/formats.hpp"
#include "formats/pickle.hpp"
#include "formats/pytorch_flatten.hpp"
#include "formats/view_source.hpp"
#include "formats/zip_archive.hpp"
#include "io/byte_cursor.hpp"

namespace owf::internal {
namespace {

namespace pk = pickle;

constexpr std::uint64_t kMaxTensorBytes = 1ull << 40;  // logical bytes of one tensor
constexpr std::uint64_t kMaxStorageKeyEntries = 1ull << 24;
// Views may repeat stored elements (stride 0 broadcasts, overlapping
// strides): the logical bytes of all tensors together may be at most this
// many times the bytes of their storages, or kRepeatFloor.
constexpr std::uint64_t kMaxRepeat = 64;
constexpr std::uint64_t kRepeatFloor = 1ull << 30;

Error invalid(const ByteSource& file, const std::string& what) {
  return Error(ErrorCode::kForeignFormatInvalid, file.name() + ": " + what);
}

// Where a storage's bytes are: a source (the file, or an archive entry) and
// the offset of its first byte in it.
struct StorageBytes {
  std::shared_ptr<const ByteSource> source;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;  // declared size in bytes
  bool compressed = false;  // a deflated archive entry
};

pk::PickleLimits pickle_limits(const Limits& limits) {
  pk::PickleLimits pl;
  pl.max_string_bytes = limits.max_string_bytes;
  pl.max_rank = limits.max_rank;
  return pl;
}

// The tensors the flattened checkpoint names, as views of their storages.
Result<std::unique_ptr<Source>> make_source(const ByteSource& file, const pk::Pickle& p, FlatCheckpoint flat,
                                            const std::vector<StorageBytes>& storages, bool big_endian) {
  std::unordered_map<std::uint32_t, std::string> first_user;  // storage -> first tensor name
  std::vector<TensorView> views;
  views.reserve(flat.tensors.size());
  std::uint64_t logical_total = 0, storage_total = 0;
  for (auto& [name, id] : flat.tensors) {
    const pk::Tensor& t = p.tensor(id);
    const StorageBytes& s = storages[t.storage];
    TensorView v;
    v.dtype = t.dtype;
    v.role = infer_role(name);
    const std::uint64_t elsize = dtype_info(t.dtype)->block_bytes;
    if (t.numel > kMaxTensorBytes / elsize)
      return Error(ErrorCode::kLimitExceeded, file.name() + ": tensor '" + name + "' would be larger than 1 TiB");
    v.logical_bytes = t.numel * elsize;
    v.element_count = t.numel;
    v.stored_bytes = v.logical_bytes;
    v.layout.storage_offset = s.offset;
    v.layout.storage_bytes = s.bytes;
    v.layout.element_bytes = elsize;
    const bool complex = t.dtype == DType::kC64 || t.dtype == DType::kC128;
    v.layout.swap_unit = big_endian ? (complex ? elsize / 2 : elsize) : 1;
    v.layout.shape = t.shape;
    v.layout.stride = t.stride;
    v.layout.first = t.offset;  // the interpreter checked every addressed element against the storage
    if (!v.layout.contiguous() && s.compressed && s.bytes > ZipArchive::kMaxCachedEntryBytes)
      return Error(ErrorCode::kLimitExceeded,
                   file.name() + ": tensor '" + name + "' is a strided view of a compressed storage of " +
                       std::to_string(s.bytes) + " bytes; such views are read only from storages of at most " +
                       std::to_string(ZipArchive::kMaxCachedEntryBytes) + " bytes");
    v.bytes = s.source;
    auto [it, inserted] = first_user.emplace(t.storage, name);
    if (inserted)
      storage_total += s.bytes;
    else
      flat.info.metadata["pytorch.shared_storage." + name] = it->second;
    logical_total += v.logical_bytes;  // at most 2^40 per tensor, 2^20 tensors: no overflow
    v.name = std::move(name);
    views.push_back(std::move(v));
  }
  const std::uint64_t allowed = std::max(kRepeatFloor, kMaxRepeat * storage_total);
  if (logical_total > allowed)
    return Error(ErrorCode::kLimitExceeded,
                 file.name() + ": the tensors declare " + std::to_string(logical_total) + " logical bytes over " +
                     std::to_string(storage_total) + " bytes of storage; views that repeat stored elements (stride " +
                     "0 broadcasts, overlapping strides) may declare at most " + std::to_string(kMaxRepeat) +
                     " times their storage, or " + std::to_string(kRepeatFloor) + " bytes");
  return std::unique_ptr<Source>(
      std::make_unique<ViewSource>(Format::kPyTorch, std::move(views), std::move(flat.info)));
}

// ---------------------------------------------------------------------------
// The zip layout.

Result<std::unique_ptr<Source>> open_zip(std::shared_ptr<const ByteSource> file, const Limits& limits,
                                         std::string_view select) {
  ZipLimits zl;
  zl.max_entries = limits.max_tensors + 1024;
  zl.max_name_bytes = limits.max_name_bytes;
  OWF_ASSIGN_OR_RETURN(auto zip, ZipArchive::open(file, zl));

  // The pickle is <archive>/data.pkl; the archive name is the first entry's
  // top-level folder, as torch.load takes it.
  std::optional<std::size_t> pkl_index;
  std::string prefix;
  for (std::size_t i = 0; i < zip->entries().size(); ++i) {
    const std::string& name = zip->entries()[i].name;
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") {
      if (pkl_index)
        return invalid(*file, "more than one data.pkl ('" + zip->entries()[*pkl_index].name + "', '" + name + "')");
      pkl_index = i;
      prefix = name.substr(0, slash + 1);
    }
  }
  if (!pkl_index) {
    if (zip->find("constants.pkl") || std::any_of(zip->entries().begin(), zip->entries().end(), [](const ZipEntry& e) {
          return e.name.find("/constants.pkl") != std::string::npos;
        }))
      return Error(ErrorCode::kForeignFormatUnsupported,
                   file->name() + ": a TorchScript archive, not a torch.save checkpoint");
    return invalid(*file, "zip archive without an <archive>/data.pkl entry: not a PyTorch checkpoint");
  }
  const ZipEntry& pkl_entry = zip->entries()[*pkl_index];
  if (pkl_entry.size > limits.max_manifest_bytes)
    return Error(ErrorCode::kLimitExceeded, file->name() + ": '" + pkl_entry.name + "' is " +
                                                std::to_string(pkl_entry.size) + " bytes, over the limit of " +
                                                std::to_string(limits.max_manifest_bytes));
  std::vector<std::byte> pkl(static_cast<std::size_t>(pkl_entry.size));
  OWF_RETURN_IF_ERROR(zip->read(*pkl_index, pkl));

  bool big_endian = false;
  if (auto bo = zip->find(prefix + "byteorder")) {
    const ZipEntry& e = zip->entries()[*bo];
    if (e.size > 16) return invalid(*file, "'" + e.name + "' is " + std::to_string(e.size) + " bytes");
    std::string text(static_cast<std::size_t>(e.size), '\0');
    OWF_RETURN_IF_ERROR(zip->read(*bo, std::as_writable_bytes(std::span(text))));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text == "big")
      big_endian = true;
    else if (text != "little")
      return invalid(*file, "'" + e.name + "' says '" + text + "', not 'little' or 'big'");
  }

  const auto pkl_source = owned_buffer_source(std::move(pkl), file->name() + ": " + pkl_entry.name);
  ByteCursor cursor(*pkl_source, 0, pkl_source->size());
  pk::Pickle p;
  auto run = pk::run(p, cursor, pickle_limits(limits));
  if (!run.ok()) return Error(run.code(), pkl_source->name() + ": " + run.error().message());
  const pk::ObjectId root = *run;

  // Every storage the pickle names must be an entry holding its bytes.
  std::vector<StorageBytes> storages;
  for (const pk::Storage& s : p.storages) {
    const std::string entry_name = prefix + "data/" + s.key;
    auto index = zip->find(entry_name);
    if (!index) return invalid(*file, "storage '" + s.key + "' has no entry '" + entry_name + "'");
    const std::uint64_t bytes = s.numel * dtype_info(s.dtype)->block_bytes;  // overflow-checked by the interpreter
    const ZipEntry& e = zip->entries()[*index];
    if (e.size < bytes)
      return invalid(*file, "storage '" + s.key + "' declares " + std::to_string(bytes) + " bytes (" +
                                std::to_string(s.numel) + " elements) but entry '" + entry_name + "' holds " +
                                std::to_string(e.size));
    storages.push_back(StorageBytes{zip->entry_source(*index), 0, bytes, !e.stored});
  }
  OWF_ASSIGN_OR_RETURN(FlatCheckpoint flat,
                       flatten_checkpoint(p, root, pkl_source->size(), select, limits, file->name()));
  return make_source(*file, p, std::move(flat), storages, big_endian);
}

// ---------------------------------------------------------------------------
// The legacy stream.

// 0x1950a86a20f9469cfc6c, as pickled by Python (LONG1, little-endian).
constexpr unsigned char kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::int64_t kLegacyProtocol = 1001;

Result<std::unique_ptr<Source>> open_legacy(std::shared_ptr<const ByteSource> file, const Limits& limits,
                                            std::string_view select) {
  const auto pl = pickle_limits(limits);
  const std::uint64_t size = file->size();
  std::uint64_t pos = 0;
  // The next pickle, at most max_manifest_bytes long.
  auto next_pickle = [&](pk::Pickle& p, std::string_view what) -> Result<pk::ObjectId> {
    ByteCursor cursor(*file, pos, pos + std::min<std::uint64_t>(size - pos, limits.max_manifest_bytes));
    auto r = pk::run(p, cursor, pl);
    if (!r.ok()) return Error(r.code(), file->name() + ": " + std::string(what) + ": " + r.error().message());
    pos = cursor.offset();
    return r;
  };

  pk::Pickle header;
  OWF_ASSIGN_OR_RETURN(pk::ObjectId magic, next_pickle(header, "magic number"));
  if (header.kind(magic) != pk::Kind::kBigInt ||
      header.text(magic) != std::string_view(reinterpret_cast<const char*>(kLegacyMagic), sizeof kLegacyMagic))
    return invalid(*file, "no legacy torch.save magic number at byte 0: not a PyTorch checkpoint");
  OWF_ASSIGN_OR_RETURN(pk::ObjectId protocol, next_pickle(header, "protocol version"));
  if (header.kind(protocol) != pk::Kind::kInt || header.at(protocol).i != kLegacyProtocol)
    return Error(ErrorCode::kForeignFormatUnsupported, file->name() + ": legacy protocol version is not 1001");
  OWF_ASSIGN_OR_RETURN(pk::ObjectId sys_info, next_pickle(header, "sys_info"));
  bool little = true;
  if (header.kind(sys_info) == pk::Kind::kDict)
    for (const auto& [k, v] : header.dict(sys_info))
      if (header.kind(k) == pk::Kind::kString && header.text(k) == "little_endian" && header.kind(v) == pk::Kind::kBool)
        little = header.at(v).i != 0;

  pk::Pickle p;
  const std::uint64_t main_at = pos;
  OWF_ASSIGN_OR_RETURN(pk::ObjectId root, next_pickle(p, "main pickle at byte " + std::to_string(main_at)));
  const std::uint64_t main_bytes = pos - main_at;
  pk::Pickle keys_pickle;
  OWF_ASSIGN_OR_RETURN(pk::ObjectId keys, next_pickle(keys_pickle, "storage key list"));
  if (keys_pickle.kind(keys) != pk::Kind::kList) return invalid(*file, "the storage key list is not a list");
  const auto& key_ids = keys_pickle.sequence(keys);
  if (key_ids.size() > kMaxStorageKeyEntries)
    return Error(ErrorCode::kLimitExceeded, file->name() + ": too many storages");

  std::vector<StorageBytes> storages(p.storages.size());
  std::vector<std::uint8_t> seen(p.storages.size(), 0);
  for (pk::ObjectId key_id : key_ids) {
    if (keys_pickle.kind(key_id) != pk::Kind::kString && keys_pickle.kind(key_id) != pk::Kind::kInt)
      return invalid(*file, "a storage key is not a string");
    const std::string key = keys_pickle.kind(key_id) == pk::Kind::kString ? keys_pickle.text(key_id)
                                                                          : std::to_string(keys_pickle.at(key_id).i);
    auto it = p.storage_by_key.find(key);
    if (it == p.storage_by_key.end()) return invalid(*file, "storage '" + key + "' is listed but no tensor uses it");
    if (seen[it->second]) return invalid(*file, "storage '" + key + "' is listed twice");
    seen[it->second] = 1;
    const pk::Storage& s = p.storages[it->second];
    if (size - pos < 8) return invalid(*file, "truncated: storage '" + key + "' header at byte " + std::to_string(pos));
    std::array<std::byte, 8> count_bytes{};
    OWF_RETURN_IF_ERROR(file->read_at(pos, count_bytes));
    std::uint64_t count = 0;
    for (int i = 0; i < 8; ++i)
      count |= std::to_integer<std::uint64_t>(count_bytes[static_cast<std::size_t>(little ? i : 7 - i)]) << (8 * i);
    if (count != s.numel)
      return invalid(*file, "storage '" + key + "' at byte " + std::to_string(pos) + " holds " + std::to_string(count) +
                                " elements, the pickle declares " + std::to_string(s.numel));
    const std::uint64_t bytes = s.numel * dtype_info(s.dtype)->block_bytes;
    pos += 8;
    if (bytes > size - pos)
      return invalid(*file, "truncated: storage '" + key + "' needs " + std::to_string(bytes) + " bytes at byte " +
                                std::to_string(pos) + ", the file has " + std::to_string(size - pos) + " left");
    storages[it->second] = StorageBytes{file, pos, bytes, false};
    pos += bytes;
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) return invalid(*file, "storage '" + p.storages[i].key + "' has no data in the file");

  OWF_ASSIGN_OR_RETURN(FlatCheckpoint flat, flatten_checkpoint(p, root, main_bytes, select, limits, file->name()));
  return make_source(*file, p, std::move(flat), storages, !little);
}

}  // namespace

Result<std::unique_ptr<Source>> open_pytorch(std::shared_ptr<const ByteSource> source, const Limits& limits,
                                             std::string_view select) {
  std::array<std::byte, 4> head{};
  if (source->size() < head.size())
    return invalid(*source, source->size() == 0 ? "the file is empty, not a PyTorch checkpoint"
                                                : "file of " + std::to_string(source->size()) +
                                                      " bytes is too short for a PyTorch checkpoint");
  OWF_RETURN_IF_ERROR(source->read_at(0, head));
  if (head[0] == std::byte{'P'} && head[1] == std::byte{'K'}) return open_zip(std::move(source), limits, select);
  if (head[0] == std::byte{0x80}) return open_legacy(std::move(source), limits, select);
  return invalid(*source, "neither a zip archive nor a legacy pickle stream: not a PyTorch checkpoint");
}

Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits,
                                             std::string_view select) {
  OWF_ASSIGN_OR_RETURN(auto source, open_file_source(path));
  return open_pytorch(std::move(source), limits, select);
}

Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits) {
  return open_pytorch(path, limits, {});
}

}  // namespace owf::internal
