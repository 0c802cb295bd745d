// Reading NumPy .npy files and .npz archives (spec/interchange.md, "NumPy"):
// each array's header is parsed by npy_format.cpp, its data read as a
// strided view (Fortran order is a column-major view), from the file or from
// the archive entry.
#include <string>

#include "formats/formats.hpp"
#include "formats/npy_format.hpp"
#include "formats/view_source.hpp"
#include "formats/zip_archive.hpp"
#include "rules.hpp"

namespace owf::internal {
namespace {

Error with_place(const Error& e, const std::string& place) { return Error(e.code(), place + ": " + e.message()); }

// A view of the array whose header `source` starts with, checked against
// the name rule.
Result<TensorView> array_view(std::string name, std::shared_ptr<const ByteSource> source, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(const NpyHeader h, read_npy_header(*source, limits));
  if (auto s = check_tensor_name(name, limits); !s.ok())
    return with_place(s.error(), source->name() + ": tensor '" + name.substr(0, 200) + "'");
  TensorView v;
  v.name = std::move(name);
  v.dtype = h.dtype;
  v.role = infer_role(v.name);
  v.layout.storage_offset = h.data_offset;
  v.layout.storage_bytes = h.data_bytes;
  v.layout.element_bytes = h.element_bytes;
  v.layout.swap_unit = h.swap_unit;
  v.layout.stride = h.fortran_order ? StridedLayout::column_major(h.shape) : StridedLayout::row_major(h.shape);
  v.layout.shape = h.shape;
  v.logical_bytes = h.data_bytes;
  v.element_count = h.element_count;
  v.offset = h.data_offset;
  v.stored_bytes = h.data_bytes;
  v.bytes = std::move(source);
  return v;
}

}  // namespace

Result<std::unique_ptr<Source>> open_npy(std::shared_ptr<const ByteSource> source, std::string name,
                                         const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(TensorView view, array_view(std::move(name), std::move(source), limits));
  std::vector<TensorView> views;
  views.push_back(std::move(view));
  return std::unique_ptr<Source>(std::make_unique<ViewSource>(Format::kNpy, std::move(views), ModelInfo{}));
}

Result<std::unique_ptr<Source>> open_npy(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(auto source, open_file_source(path));
  // The array is named after the file: weights.npy -> "weights".
  std::string name = path.stem().string();
  if (name.empty()) name = "array";
  return open_npy(std::move(source), std::move(name), limits);
}

Result<std::unique_ptr<Source>> open_npz(std::shared_ptr<const ByteSource> source, const Limits& limits) {
  ZipLimits zl;
  zl.max_entries = limits.max_tensors;
  zl.max_name_bytes = std::uint64_t{limits.max_name_bytes} + 4;  // + ".npy"
  OWF_ASSIGN_OR_RETURN(auto zip, ZipArchive::open(std::move(source), zl));
  std::vector<TensorView> views;
  views.reserve(zip->entries().size());
  for (std::size_t i = 0; i < zip->entries().size(); ++i) {
    const ZipEntry& e = zip->entries()[i];
    const std::string place = zip->source().name() + ": member '" + e.name + "'";
    if (!e.name.ends_with(".npy") || e.name.size() == 4)
      return Error(ErrorCode::kForeignFormatUnsupported, place + " is not a .npy array");
    auto view = array_view(e.name.substr(0, e.name.size() - 4), zip->entry_source(i), limits);
    if (!view.ok()) return view.error();
    // Out-of-order reads of a compressed member are bounded (zip_archive.hpp).
    if (!view->layout.contiguous() && !e.stored && e.size > ZipArchive::kMaxCachedEntryBytes)
      return Error(ErrorCode::kLimitExceeded,
                   place + " holds a Fortran-order array in " + std::to_string(e.size) +
                       " compressed bytes; such arrays are read only from members of at most " +
                       std::to_string(ZipArchive::kMaxCachedEntryBytes) + " bytes (store the member uncompressed)");
    view->stored_bytes = e.compressed_size;
    views.push_back(std::move(*view));
  }
  return std::unique_ptr<Source>(std::make_unique<ViewSource>(Format::kNpz, std::move(views), ModelInfo{}));
}

Result<std::unique_ptr<Source>> open_npz(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(auto source, open_file_source(path));
  return open_npz(std::move(source), limits);
}

}  // namespace owf::internal
