// owf._owf.Reader: one opened weights file of any format the library reads.
//
// OWF files are mapped by the extension (mapping.hpp) and validated by
// File::open_buffer; uncompressed OWF tensors come back as arrays viewing
// that mapping. Everything else (compressed tensors, foreign formats) is
// read by the library into a fresh array, with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "binding.hpp"
#include "info.hpp"
#include "mapping.hpp"

namespace owf::python {

namespace {

// How a tensor appears as a NumPy array. Dtypes NumPy has are used as they
// are; the others are raw: BF16 as uint16, F8 as uint8 (same shape), packed
// and block-quantized types as their bytes (uint8), one row of bytes per
// innermost row where rows are whole bytes, else one flat run of bytes.
struct ArrayLayout {
  const char* dtype;  // NumPy type string
  std::size_t itemsize;
  bool raw;
  std::vector<py::ssize_t> shape;
};

struct ElementType {
  const char* dtype;
  std::size_t itemsize;
  bool raw;
};

std::optional<ElementType> element_type(DType d) {
  switch (d) {
    case DType::kBool:
      return ElementType{"?", 1, false};
    case DType::kU8:
      return ElementType{"u1", 1, false};
    case DType::kI8:
      return ElementType{"i1", 1, false};
    case DType::kU16:
      return ElementType{"<u2", 2, false};
    case DType::kI16:
      return ElementType{"<i2", 2, false};
    case DType::kU32:
      return ElementType{"<u4", 4, false};
    case DType::kI32:
      return ElementType{"<i4", 4, false};
    case DType::kU64:
      return ElementType{"<u8", 8, false};
    case DType::kI64:
      return ElementType{"<i8", 8, false};
    case DType::kF16:
      return ElementType{"<f2", 2, false};
    case DType::kF32:
      return ElementType{"<f4", 4, false};
    case DType::kF64:
      return ElementType{"<f8", 8, false};
    case DType::kC64:
      return ElementType{"<c8", 8, false};
    case DType::kC128:
      return ElementType{"<c16", 16, false};
    case DType::kBF16:
      return ElementType{"<u2", 2, true};
    case DType::kF8_E4M3FN:
    case DType::kF8_E5M2:
    case DType::kF8_E8M0:
      return ElementType{"u1", 1, true};
    default:
      return std::nullopt;  // packed and block-quantized: bytes
  }
}

Result<ArrayLayout> layout_of(const TensorInfo& t) {
  // NumPy's limits (32 dimensions, dimensions that fit a signed size) are
  // below what the format allows; such tensors are refused, not truncated.
  constexpr std::size_t kNumpyMaxDims = 32;
  const auto max_dim = static_cast<std::uint64_t>(std::numeric_limits<py::ssize_t>::max());
  if (t.shape.size() > kNumpyMaxDims)
    return Error(ErrorCode::kUnsupported, "tensor '" + std::string(t.name) + "' has " + std::to_string(t.shape.size()) +
                                              " dimensions; NumPy allows " + std::to_string(kNumpyMaxDims));
  for (std::uint64_t d : t.shape)
    if (d > max_dim)
      return Error(ErrorCode::kUnsupported, "tensor '" + std::string(t.name) + "' has a dimension of " +
                                                std::to_string(d) + ", more than NumPy can index");
  if (auto e = element_type(t.dtype)) {
    // NumPy also needs the product of the non-zero dimensions, in bytes, to
    // fit a signed size, also for empty arrays.
    unsigned __int128 span = e->itemsize;
    for (std::uint64_t d : t.shape) {
      if (d != 0) span *= d;
      if (span > max_dim)
        return Error(ErrorCode::kUnsupported,
                     "tensor '" + std::string(t.name) + "': its dimensions span more bytes than NumPy can index");
    }
    return ArrayLayout{e->dtype, e->itemsize, e->raw, {t.shape.begin(), t.shape.end()}};
  }
  ArrayLayout l{"u1", 1, true, {}};
  const auto info = dtype_info(t.dtype);
  if (info && !t.shape.empty()) {
    const auto last = static_cast<unsigned __int128>(t.shape.back()) * info->block_bytes;
    if (last % info->block_elements == 0) {
      const auto row_bytes = static_cast<std::uint64_t>(last / info->block_elements);
      l.shape.assign(t.shape.begin(), t.shape.end() - 1);
      l.shape.push_back(static_cast<py::ssize_t>(row_bytes));
      unsigned __int128 total = 1;
      for (auto d : l.shape) total *= static_cast<std::uint64_t>(d);
      if (total == t.logical_bytes) return l;
    }
  }
  l.shape = {static_cast<py::ssize_t>(t.logical_bytes)};
  return l;
}

std::size_t nbytes(const ArrayLayout& l) {
  std::size_t n = l.itemsize;
  for (auto d : l.shape) n *= static_cast<std::size_t>(d);
  return n;
}

void set_writeable(py::array& a, bool writeable) {
  auto* proxy = py::detail::array_proxy(a.ptr());
  if (writeable)
    proxy->flags |= py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  else
    proxy->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
}

py::dtype numpy_dtype(const char* name) { return py::dtype::from_args(py::str(name)); }

std::string hex(const Sha256Digest& d) { return to_hex(d); }

}  // namespace

class Reader {
 public:
  static std::shared_ptr<Reader> open(const std::string& path, const std::optional<std::string>& format,
                                      const std::string& select, py::handle limits) {
    SourceOptions options;
    options.limits = limits_from_python(limits);
    options.select = select;
    if (format) {
      options.format = format_from_name(*format);
      if (!options.format)
        raise_error(ErrorCode::kInvalidArgument,
                    "unknown format '" + *format + "' (owf, safetensors, gguf, npz, npy, pytorch)");
    }
    auto reader = std::make_shared<Reader>();
    Status status;
    {
      py::gil_scoped_release release;
      status = reader->open_path(path, options);
    }
    check(status);
    return reader;
  }

  static std::shared_ptr<Reader> open_bytes(const py::buffer& data, py::handle limits) {
    const Limits l = limits_from_python(limits);
    const py::buffer_info b = data.request();
    if (!PyBuffer_IsContiguous(b.view(), 'C'))
      raise_error(ErrorCode::kInvalidArgument, "the buffer must be contiguous");
    const auto size = static_cast<std::size_t>(b.size * b.itemsize);
    auto reader = std::make_shared<Reader>();
    Status status;
    {
      py::gil_scoped_release release;
      status = reader->open_copy(Mapping::copy_of({static_cast<const std::byte*>(b.ptr), size}), l);
    }
    check(status);
    return reader;
  }

  std::string format() const { return std::string(format_name(source()->format())); }
  std::size_t count() const { return source()->tensor_count(); }
  std::uint64_t alignment() const { return source()->alignment(); }
  bool closed() const { return source_ == nullptr; }
  void close() {
    source_.reset();
    mapping_.reset();
    index_.clear();
  }

  std::vector<std::string> names() const {
    auto s = source();
    std::vector<std::string> out;
    out.reserve(s->tensor_count());
    for (std::size_t i = 0; i < s->tensor_count(); ++i) out.emplace_back(s->tensor(i).name);
    return out;
  }

  std::size_t index(const std::string& name) const {
    auto s = source();
    std::optional<std::size_t> i;
    if (const File* f = s->owf_file()) {
      i = f->find(name);
    } else {
      if (index_.empty())
        for (std::size_t k = 0; k < s->tensor_count(); ++k) index_.emplace(s->tensor(k).name, k);
      if (auto it = index_.find(name); it != index_.end()) i = it->second;
    }
    if (!i) raise_error(ErrorCode::kNotFound, "no tensor named '" + name + "'");
    return *i;
  }

  std::string name(std::size_t i) const { return std::string(tensor(*source(), i).name); }
  std::string dtype(std::size_t i) const { return std::string(dtype_name(tensor(*source(), i).dtype)); }

  py::dict tensor_info(std::size_t i) const {
    auto s = source();
    const TensorInfo t = tensor(*s, i);
    const auto l = layout_of(t);
    py::dict d;
    d["name"] = std::string(t.name);
    d["dtype"] = std::string(dtype_name(t.dtype));
    d["shape"] = std::vector<std::uint64_t>(t.shape.begin(), t.shape.end());
    d["role"] = std::string(role_name(t.role));
    d["codec"] = std::string(codec_name(t.codec));
    d["offset"] = t.offset;
    d["stored_bytes"] = t.stored_bytes;
    d["logical_bytes"] = t.logical_bytes;
    d["element_count"] = t.element_count;
    // How it reads as an array (None where NumPy cannot hold it).
    d["array_dtype"] = l.ok() ? py::object(numpy_dtype(l->dtype)) : py::object(py::none());
    d["array_shape"] = l.ok() ? py::object(py::tuple(py::cast(l->shape))) : py::object(py::none());
    d["raw"] = l.ok() && l->raw;
    d["zero_copy"] = l.ok() && view_of(*s, t, l->itemsize).has_value();
    return d;
  }

  /// The whole tensor: a view of the mapping when the tensor is stored
  /// uncompressed in an OWF file (read-only unless `writeable` and the
  /// mapping allows it), else a fresh array.
  py::array array(std::size_t i, bool writeable) const {
    auto s = source();
    const TensorInfo t = tensor(*s, i);
    const ArrayLayout l = unwrap(layout_of(t));
    if (auto view = view_of(*s, t, l.itemsize)) {
      py::array a(numpy_dtype(l.dtype), l.shape, {}, view->data(), py::cast(mapping_));
      set_writeable(a, writeable && mapping_->writable());
      return a;
    }
    py::array a(numpy_dtype(l.dtype), l.shape);
    if (nbytes(l) != t.logical_bytes)  // layout_of keeps them equal
      raise_error(ErrorCode::kUnsupported, "tensor '" + std::string(t.name) + "': no array layout");
    std::span<std::byte> out(static_cast<std::byte*>(a.mutable_data()), static_cast<std::size_t>(t.logical_bytes));
    Status status;
    {
      py::gil_scoped_release release;
      status = s->read(i, out);
    }
    check(status);
    return a;
  }

  /// Several whole tensors, as array() returns them; of an OWF file, the
  /// ones that need a copy are loaded together (File::load: several
  /// threads, each tensor's digest checked as it lands).
  py::list arrays(const std::vector<std::size_t>& indexes, bool writeable) const {
    auto s = source();
    const File* file = s->owf_file();
    py::list out;
    std::vector<LoadRequest> requests;
    for (const std::size_t i : indexes) {
      const TensorInfo t = tensor(*s, i);
      if (file == nullptr || view_of(*s, t, unwrap(layout_of(t)).itemsize)) {
        out.append(array(i, writeable));
        continue;
      }
      const ArrayLayout l = unwrap(layout_of(t));
      py::array a(numpy_dtype(l.dtype), l.shape);
      if (nbytes(l) != t.logical_bytes)  // layout_of keeps them equal
        raise_error(ErrorCode::kUnsupported, "tensor '" + std::string(t.name) + "': no array layout");
      requests.push_back({i, {static_cast<std::byte*>(a.mutable_data()), static_cast<std::size_t>(t.logical_bytes)}});
      out.append(a);
    }
    if (!requests.empty()) {
      Status status;
      {
        py::gil_scoped_release release;
        status = file->load(requests);
      }
      check(status);
    }
    return out;
  }

  /// Logical bytes [offset, offset + len(out)) of tensor i into `out`.
  void read_range(std::size_t i, std::uint64_t offset, const py::buffer& out) const {
    auto s = source();
    const py::buffer_info b = out.request(true);
    if (!PyBuffer_IsContiguous(b.view(), 'C'))
      raise_error(ErrorCode::kInvalidArgument, "the output buffer must be contiguous");
    std::span<std::byte> span(static_cast<std::byte*>(b.ptr), static_cast<std::size_t>(b.size * b.itemsize));
    Status status;
    {
      py::gil_scoped_release release;
      status = s->read_range(i, offset, span);
    }
    check(status);
  }

  py::dict info() const { return info_to_python(source()->info()); }

  std::string weights_digest(unsigned threads) const {
    auto s = source();
    Result<Sha256Digest> d = Sha256Digest{};
    {
      py::gil_scoped_release release;
      d = compute_weights_digest(*s, threads);
    }
    return hex(unwrap(std::move(d)));
  }

  /// OWF: every digest (File::verify). Other formats store no digests:
  /// every tensor is read (in parallel), which checks what reading checks.
  void verify(unsigned threads) const {
    auto s = source();
    Status status;
    {
      py::gil_scoped_release release;
      // Stored digests (an OWF file or set) are checked against the bytes;
      // other formats are read whole.
      DigestOptions options;
      options.threads = threads;
      options.check_stored = true;
      status = compute_digests(*s, options).status();
    }
    check(status);
  }

  std::string tensor_sha256(std::size_t i) const {
    auto s = source();
    tensor(*s, i);  // bounds check
    Result<Sha256Digest> d = Sha256Digest{};
    {
      py::gil_scoped_release release;
      d = s->tensor_sha256(i);
    }
    return hex(unwrap(std::move(d)));
  }

  std::shared_ptr<Mapping> mapping() const { return mapping_; }

 private:
  // Holds the source while a call runs without the GIL, so that close()
  // from another thread cannot pull it away.
  std::shared_ptr<const Source> source() const {
    if (!source_) raise_error(ErrorCode::kInvalidArgument, "the file is closed");
    return source_;
  }

  static TensorInfo tensor(const Source& s, std::size_t i) {
    if (i >= s.tensor_count())
      raise_error(ErrorCode::kNotFound, "tensor index " + std::to_string(i) + " is out of range");
    return s.tensor(i);
  }

  // These two run without the GIL.
  Status open_path(const std::string& path, const SourceOptions& options) {
    // URLs are read through their source (no mapping: tensors are copies).
    if (is_url(path)) {
      OWF_ASSIGN_OR_RETURN(source_, open_source(path, options));
      return {};
    }
    Format f = Format::kOwf;
    if (options.format) {
      f = *options.format;
    } else {
      OWF_ASSIGN_OR_RETURN(f, detect_format(path));
    }
    std::error_code ec;
    if (f == Format::kOwf && options.select.empty() && !std::filesystem::is_directory(path, ec)) {
      OWF_ASSIGN_OR_RETURN(File file,
                           File::open(path, OpenOptions{.limits = options.limits, .copy_on_write_views = true}));
      if (file.shard_set() != nullptr) {
        // A shard stands for its set (spec/shards.md), read as every tool reads it.
        OWF_ASSIGN_OR_RETURN(source_, open_source(path, options));
        return {};
      }
      source_ = source_of(std::move(file));
      mapping_ = Mapping::of_file(source_, *source_->owf_file(), path);
      return {};
    }
    OWF_ASSIGN_OR_RETURN(source_, open_source(path, options));
    return {};
  }

  // An OWF file held in memory: the copy outlives the source that reads it
  // (a call still running on another thread when close() drops mapping_
  // reads from it to the end).
  Status open_copy(Result<std::shared_ptr<Mapping>> mapping, const Limits& limits) {
    if (!mapping.ok()) return mapping.status();
    mapping_ = std::move(mapping).value();
    auto file = File::open_buffer(mapping_->bytes(), limits);
    if (!file.ok()) {
      mapping_.reset();
      return file.status();
    }
    source_ = std::shared_ptr<Source>(source_of(std::move(file).value()).release(),
                                      [keep = mapping_](Source* s) { delete s; });
    return {};
  }

  // The bytes of tensor t inside the mapping, when it can be viewed there:
  // an uncompressed OWF tensor, aligned for its array type.
  std::optional<std::span<const std::byte>> view_of(const Source& s, const TensorInfo& t, std::size_t itemsize) const {
    const File* f = s.owf_file();
    if (f == nullptr || mapping_ == nullptr || t.codec != Codec::kNone || t.logical_bytes == 0) return std::nullopt;
    auto bytes = f->bytes(t);
    if (!bytes.ok() || reinterpret_cast<std::uintptr_t>(bytes->data()) % itemsize != 0) return std::nullopt;
    return *bytes;
  }

  std::shared_ptr<Source> source_;
  std::shared_ptr<Mapping> mapping_;
  mutable std::unordered_map<std::string, std::size_t> index_;
};

void bind_reader(py::module_& m) {
  py::class_<Mapping, std::shared_ptr<Mapping>>(m, "Mapping",
                                                "The mapped bytes of an OWF file; arrays viewing them hold it.")
      .def_property_readonly("address",
                             [](const Mapping& mp) { return reinterpret_cast<std::uintptr_t>(mp.bytes().data()); })
      .def_property_readonly("size", [](const Mapping& mp) { return mp.bytes().size(); })
      .def_property_readonly("writable", &Mapping::writable)
      .def_property_readonly("path", &Mapping::path);

  py::class_<Reader, std::shared_ptr<Reader>>(m, "Reader", "An opened weights file (the engine behind owf.safe_open).")
      .def_static("open", &Reader::open, py::arg("path"), py::arg("format") = py::none(), py::arg("select") = "",
                  py::arg("limits") = py::none())
      .def_static("open_bytes", &Reader::open_bytes, py::arg("data"), py::arg("limits") = py::none())
      .def_property_readonly("format", &Reader::format)
      .def_property_readonly("alignment", &Reader::alignment)
      .def_property_readonly("closed", &Reader::closed)
      .def_property_readonly("mapping", &Reader::mapping)
      .def("close", &Reader::close)
      .def("__len__", &Reader::count)
      .def("names", &Reader::names)
      .def("index", &Reader::index, py::arg("name"))
      .def("name", &Reader::name, py::arg("index"))
      .def("dtype", &Reader::dtype, py::arg("index"), "The OWF dtype name of tensor `index`.")
      .def("tensor_info", &Reader::tensor_info, py::arg("index"))
      .def("array", &Reader::array, py::arg("index"), py::arg("writeable") = false)
      .def("arrays", &Reader::arrays, py::arg("indexes"), py::arg("writeable") = false)
      .def("read_range", &Reader::read_range, py::arg("index"), py::arg("offset"), py::arg("out"))
      .def("info", &Reader::info)
      .def("weights_digest", &Reader::weights_digest, py::arg("threads") = 0)
      .def("verify", &Reader::verify, py::arg("threads") = 0)
      .def("tensor_sha256", &Reader::tensor_sha256, py::arg("index"));
}

}  // namespace owf::python
