// owf._owf.save: writes tensors held in Python buffers (NumPy arrays) to a
// file. OWF files go through owf::Writer, one tensor at a time straight from
// the caller's memory; other formats through owf::convert from an in-memory
// Source. The GIL is released while bytes are hashed, compressed and written.
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "binding.hpp"
#include "info.hpp"
#include "owf/convert.hpp"

namespace owf::python {

namespace {

struct Entry {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::span<const std::byte> data;
};

// Tensors in memory, in the caller's order, as a Source for owf::convert.
// format() says OWF: the tensors have OWF's semantics (logical bytes,
// OWF dtypes) and no other file format.
class ArraySource final : public Source {
 public:
  ArraySource(const std::vector<Entry>& entries, ModelInfo info) : entries_(entries), info_(std::move(info)) {}
  Format format() const override { return Format::kOwf; }
  std::size_t tensor_count() const override { return entries_.size(); }
  TensorInfo tensor(std::size_t index) const override {
    const Entry& e = entries_[index];
    TensorInfo t;
    t.name = e.name;
    t.dtype = e.dtype;
    t.shape = e.shape;
    t.role = infer_role(e.name);
    t.stored_bytes = t.logical_bytes = e.data.size();
    const auto elements = element_count(e.shape);  // the writer reports an overflow
    t.element_count = elements.ok() ? *elements : 0;
    return t;
  }
  Status read(std::size_t index, std::span<std::byte> out) const override { return read_range(index, 0, out); }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    const auto data = entries_[index].data;
    if (offset > data.size() || out.size() > data.size() - offset)
      return Error(ErrorCode::kInvalidArgument, "range outside tensor '" + entries_[index].name + "'");
    if (!out.empty()) std::memcpy(out.data(), data.data() + offset, out.size());
    return {};
  }
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return info_; }

 private:
  const std::vector<Entry>& entries_;
  ModelInfo info_;
};

Status write_owf(const std::string& path, const std::vector<Entry>& entries, const ModelInfo& info,
                 const WriteOptions& options) {
  OWF_ASSIGN_OR_RETURN(Writer writer, Writer::create(path, options));
  OWF_RETURN_IF_ERROR(writer.set_info(info));
  for (const Entry& e : entries)
    OWF_RETURN_IF_ERROR(writer.add_tensor({e.name, e.dtype, e.shape, infer_role(e.name)}, e.data));
  return writer.finish();
}

void save(const std::string& path, const std::optional<std::string>& format, const py::list& tensors,
          py::handle license, py::handle provenance, py::handle hyperparameters, py::handle metadata,
          std::optional<std::uint64_t> alignment, bool compress, int level, bool sync) {
  Format to = Format::kOwf;
  if (format) {
    auto f = format_from_name(*format);
    if (!f) raise_error(ErrorCode::kInvalidArgument, "unknown format '" + *format + "'");
    to = *f;
  }
  ModelInfo info = info_from_python(license, provenance, hyperparameters, metadata);
  // The buffers stay requested (and their objects alive) until the end.
  std::vector<py::buffer_info> buffers;
  std::vector<Entry> entries;
  buffers.reserve(py::len(tensors));
  for (py::handle item : tensors) {
    auto t = item.cast<py::tuple>();
    if (t.size() != 4) throw py::type_error("each tensor is (name, dtype name, shape, buffer)");
    Entry e;
    e.name = t[0].cast<std::string>();
    const auto dtype_text = t[1].cast<std::string>();
    const auto dtype = dtype_from_name(dtype_text);
    if (!dtype) raise_error(ErrorCode::kUnknownDtype, "tensor '" + e.name + "': unknown dtype '" + dtype_text + "'");
    e.dtype = *dtype;
    e.shape = t[2].cast<std::vector<std::uint64_t>>();
    buffers.push_back(t[3].cast<py::buffer>().request());
    const py::buffer_info& b = buffers.back();
    if (!PyBuffer_IsContiguous(b.view(), 'C'))
      raise_error(ErrorCode::kInvalidArgument, "tensor '" + e.name + "': the buffer is not C-contiguous");
    e.data = {static_cast<const std::byte*>(b.ptr), static_cast<std::size_t>(b.size * b.itemsize)};
    entries.push_back(std::move(e));
  }
  Status status;
  {
    py::gil_scoped_release release;
    if (to == Format::kOwf) {
      WriteOptions options;
      if (alignment) options.alignment = *alignment;
      options.compression.enabled = compress;
      options.compression.level = level;
      options.sync = sync;
      status = write_owf(path, entries, info, options);
    } else if (compress) {
      status = Error(ErrorCode::kInvalidArgument,
                     "compression applies to OWF files only, not " + std::string(format_name(to)));
    } else {
      const ArraySource source(entries, std::move(info));
      ConvertOptions options;
      options.write.sync = sync;
      options.write.alignment = alignment.value_or(0);
      options.alignment_given = alignment.has_value();
      status = convert(source, path, to, options).status();
    }
  }
  check(status);
}

}  // namespace

void bind_save(py::module_& m) {
  m.def("save", &save, py::arg("path"), py::arg("format"), py::arg("tensors"), py::arg("license") = py::none(),
        py::arg("provenance") = py::none(), py::arg("hyperparameters") = py::none(), py::arg("metadata") = py::none(),
        py::arg("alignment") = py::none(), py::arg("compress") = false, py::arg("level") = 3, py::arg("sync") = true,
        "Writes (name, dtype name, shape, buffer) tensors to `path` in `format` (None: OWF).");
}

}  // namespace owf::python
