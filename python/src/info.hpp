// Model information (license, provenance, typed hyperparameters, string
// metadata) and reader limits between Python objects and the library's types.
#pragma once

#include <pybind11/pybind11.h>

#include "owf/owf.hpp"

namespace owf::python {

namespace py = pybind11;

/// {"license": dict | None, "provenance": dict, "hyperparameters": dict, "metadata": dict}
py::dict info_to_python(const ModelInfo& info);

/// license: None, an SPDX expression (str) or a dict of License fields;
/// provenance: None or a dict of Provenance fields; hyperparameters: None or
/// {key: bool | int | float | str | list of one of them | NumPy scalar or
/// 1-D array}; metadata: None or {str: str}. Raises TypeError or OWFError.
ModelInfo info_from_python(py::handle license, py::handle provenance, py::handle hyperparameters, py::handle metadata);

/// None, or a dict naming fields of owf::Limits.
Limits limits_from_python(py::handle limits);

}  // namespace owf::python
