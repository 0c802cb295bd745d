// The extension module owf._owf. The Python package (owf/) builds the
// safetensors-style API on top of it; everything about formats is the C++
// library's.
#include <pybind11/stl.h>

#include "binding.hpp"

namespace owf::python {

[[noreturn]] void raise_error(const Error& error) { raise_error(error.code(), error.message()); }

[[noreturn]] void raise_error(ErrorCode code, const std::string& message) {
  const py::object cls = py::module_::import("owf._errors").attr("OWFError");
  // Messages may quote bytes of a hostile file that are not UTF-8.
  const auto text = py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "backslashreplace"));
  if (!text) throw py::error_already_set();
  const py::object exc = cls(static_cast<int>(code), text);
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

namespace {

// (code, name) of every error code the library defines.
std::vector<std::pair<int, std::string>> error_codes() {
  std::vector<std::pair<int, std::string>> out;
  for (int c = 0; c <= 0xFFFF; ++c) {
    const auto name = error_code_name(static_cast<ErrorCode>(c));
    if (name != error_code_name(static_cast<ErrorCode>(0xFFFF))) out.emplace_back(c, std::string(name));
  }
  return out;
}

}  // namespace

}  // namespace owf::python

PYBIND11_MODULE(_owf, m) {
  using namespace owf::python;
  m.doc() = "OWF C++ library binding; use the owf package instead of this module.";
  m.attr("library_version") = std::string(owf::library_version());
  m.attr("remote_supported") = owf::remote_supported();  // http(s):// URLs can be opened
  m.def("error_codes", &error_codes, "(code, name) of every library error code.");
  m.def("error_code_name",
        [](int code) { return std::string(owf::error_code_name(static_cast<owf::ErrorCode>(code))); });
  m.def(
      "dtype_names",
      [] {
        std::vector<std::string> out;
        for (const auto& d : owf::all_dtypes()) out.emplace_back(d.name);
        return out;
      },
      "Every dtype name the library knows, in code order.");
  m.def(
      "detect_format",
      [](const std::string& path) { return std::string(owf::format_name(unwrap(owf::detect_format(path)))); },
      py::arg("path"));
  bind_info(m);
  bind_reader(m);
  bind_save(m);
}
