// Shared pieces of the extension module owf._owf: turning library errors
// into Python exceptions, and the entry points of each part.
#pragma once

#include <pybind11/pybind11.h>

#include <utility>

#include "owf/owf.hpp"

namespace owf::python {

namespace py = pybind11;

/// Raises owf.OWFError (defined in owf/_errors.py) carrying the library's
/// code and message. Needs the GIL.
[[noreturn]] void raise_error(const Error& error);
[[noreturn]] void raise_error(ErrorCode code, const std::string& message);

inline void check(const Status& status) {
  if (!status.ok()) raise_error(status.error());
}

template <class T>
T unwrap(Result<T> result) {
  if (!result.ok()) raise_error(result.error());
  return std::move(result).value();
}

void bind_info(py::module_& m);
void bind_reader(py::module_& m);
void bind_save(py::module_& m);

}  // namespace owf::python
