#include "info.hpp"

#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "binding.hpp"

namespace owf::python {

namespace {

// ---- to Python ----

py::object value_to_python(const Value& value) {
  const bool u64 = value.int_type == IntType::kU64;
  return std::visit(
      [&](const auto& v) -> py::object {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          return u64 ? py::int_(static_cast<std::uint64_t>(v)) : py::int_(v);
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          py::list out;
          for (std::int64_t x : v) out.append(u64 ? py::int_(static_cast<std::uint64_t>(x)) : py::int_(x));
          return out;
        } else if constexpr (std::is_same_v<T, std::vector<bool>>) {
          py::list out;
          for (bool x : v) out.append(py::bool_(x));
          return out;
        } else {
          return py::cast(v);
        }
      },
      value.data);
}

py::list strings(const std::vector<std::string>& v) {
  py::list out;
  for (const auto& s : v) out.append(py::str(s));
  return out;
}

py::dict license_to_python(const License& l) {
  py::dict d;
  d["spdx"] = l.spdx;
  d["concluded"] = l.concluded;
  d["name"] = l.name;
  d["url"] = l.url;
  d["text"] = l.text;
  d["copyright"] = strings(l.copyright);
  d["attribution"] = l.attribution;
  d["restrictions"] = l.restrictions;
  return d;
}

py::dict provenance_to_python(const Provenance& p) {
  py::dict d;
  d["name"] = p.name;
  d["version"] = p.version;
  d["architecture"] = p.architecture;
  d["description"] = p.description;
  d["authors"] = strings(p.authors);
  d["source_url"] = p.source_url;
  py::list bases;
  for (const auto& b : p.base_models) {
    py::dict e;
    e["name"] = b.name;
    e["weights_digest"] = to_hex(b.weights_digest);
    bases.append(e);
  }
  d["base_models"] = bases;
  d["training_data"] = p.training_data;
  d["software"] = p.software;
  d["created"] = p.created;
  return d;
}

// ---- from Python ----

std::string describe(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

std::string as_string(py::handle h, const std::string& what) {
  if (!py::isinstance<py::str>(h)) throw py::type_error(what + " must be a str, not " + describe(h));
  return h.cast<std::string>();
}

std::vector<std::string> as_strings(py::handle h, const std::string& what) {
  if (py::isinstance<py::str>(h) || !(py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)))
    throw py::type_error(what + " must be a list of str, not " + describe(h));
  std::vector<std::string> out;
  for (py::handle item : h) out.push_back(as_string(item, what + " item"));
  return out;
}

// Calls `field(name, value)` for each entry of a dict with str keys.
template <class F>
void for_fields(py::handle dict, const std::string& what, F field) {
  if (!py::isinstance<py::dict>(dict)) throw py::type_error(what + " must be a dict, not " + describe(dict));
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(dict)) {
    const std::string key = as_string(k, what + " key");
    if (!field(key, v)) raise_error(ErrorCode::kInvalidArgument, what + " has no field '" + key + "'");
  }
}

License license_from_python(py::handle h) {
  License l;
  if (py::isinstance<py::str>(h)) {
    l.spdx = h.cast<std::string>();
    return l;
  }
  for_fields(h, "license", [&](const std::string& k, py::handle v) {
    const std::string what = "license['" + k + "']";
    if (k == "copyright")
      l.copyright = as_strings(v, what);
    else if (k == "spdx")
      l.spdx = as_string(v, what);
    else if (k == "concluded")
      l.concluded = as_string(v, what);
    else if (k == "name")
      l.name = as_string(v, what);
    else if (k == "url")
      l.url = as_string(v, what);
    else if (k == "text")
      l.text = as_string(v, what);
    else if (k == "attribution")
      l.attribution = as_string(v, what);
    else if (k == "restrictions")
      l.restrictions = as_string(v, what);
    else
      return false;
    return true;
  });
  return l;
}

Provenance provenance_from_python(py::handle h) {
  Provenance p;
  for_fields(h, "provenance", [&](const std::string& k, py::handle v) {
    const std::string what = "provenance['" + k + "']";
    if (k == "authors") {
      p.authors = as_strings(v, what);
    } else if (k == "base_models") {
      if (!(py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)))
        throw py::type_error(what + " must be a list of dicts");
      for (py::handle item : v) {
        BaseModel b;
        std::string hex;
        for_fields(item, what + " item", [&](const std::string& bk, py::handle bv) {
          if (bk == "name")
            b.name = as_string(bv, what + " name");
          else if (bk == "weights_digest")
            hex = as_string(bv, what + " weights_digest");
          else
            return false;
          return true;
        });
        auto digest = digest_from_hex(hex);
        if (!digest)
          raise_error(ErrorCode::kBadProvenance, what + ": weights_digest '" + hex + "' is not 64 hex digits");
        b.weights_digest = *digest;
        p.base_models.push_back(std::move(b));
      }
    } else if (k == "name")
      p.name = as_string(v, what);
    else if (k == "version")
      p.version = as_string(v, what);
    else if (k == "architecture")
      p.architecture = as_string(v, what);
    else if (k == "description")
      p.description = as_string(v, what);
    else if (k == "source_url")
      p.source_url = as_string(v, what);
    else if (k == "training_data")
      p.training_data = as_string(v, what);
    else if (k == "software")
      p.software = as_string(v, what);
    else if (k == "created")
      p.created = as_string(v, what);
    else
      return false;
    return true;
  });
  return p;
}

// The declared type of a NumPy scalar or array (dtype.kind, dtype.itemsize).
struct NumpyType {
  char kind;
  int size;
};

std::optional<NumpyType> numpy_type(py::handle h) {
  if (!py::hasattr(h, "dtype") || !py::hasattr(h, "tolist")) return std::nullopt;
  const py::object dt = h.attr("dtype");
  if (!py::hasattr(dt, "kind") || !py::hasattr(dt, "itemsize")) return std::nullopt;
  return NumpyType{dt.attr("kind").cast<std::string>().at(0), dt.attr("itemsize").cast<int>()};
}

// The integer type a NumPy dtype declares (I64 for plain Python ints).
IntType int_type_of(std::optional<NumpyType> np, bool is_u64) {
  if (!np || (np->kind != 'i' && np->kind != 'u')) return is_u64 ? IntType::kU64 : IntType::kI64;
  const bool u = np->kind == 'u';
  switch (np->size) {
    case 1:
      return u ? IntType::kU8 : IntType::kI8;
    case 2:
      return u ? IntType::kU16 : IntType::kI16;
    case 4:
      return u ? IntType::kU32 : IntType::kI32;
    default:
      return u ? IntType::kU64 : IntType::kI64;
  }
}

FloatType float_type_of(std::optional<NumpyType> np) {
  return np && np->kind == 'f' && np->size <= 4 ? FloatType::kF32 : FloatType::kF64;
}

[[noreturn]] void bad_value(const std::string& key, const std::string& why) {
  raise_error(ErrorCode::kBadHyperparameter, "hyperparameter '" + key + "': " + why);
}

// Python ints as int64 values; above INT64_MAX as the bits of u64 values
// (then no value may be negative).
Value ints_from_python(const std::vector<py::handle>& items, bool list, const std::string& key,
                       std::optional<NumpyType> np) {
  std::vector<std::int64_t> out;
  bool is_u64 = false, negative = false;
  for (py::handle item : items) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
    if (overflow == 0) {
      negative |= v < 0;
      out.push_back(v);
      continue;
    }
    const unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(item.ptr()) : 0;
    if (overflow < 0 || PyErr_Occurred()) {
      PyErr_Clear();
      bad_value(key, std::string(py::str(item)) + " does not fit a 64-bit integer");
    }
    is_u64 = true;
    out.push_back(static_cast<std::int64_t>(u));
  }
  if (is_u64 && negative) bad_value(key, "mixes negative values and values above 2^63-1");
  const IntType type = int_type_of(np, is_u64);
  if (is_u64 && type != IntType::kU64) bad_value(key, "a value does not fit a 64-bit signed integer");
  if (list) return Value(std::move(out), type);
  return Value(out.at(0), type);
}

// A plain Python value (bool, int, float, str or a list of one of them);
// `np`: the NumPy type it came from, whose width it keeps.
Value plain_value_from_python(py::handle v, const std::string& key, std::optional<NumpyType> np);

Value value_from_python(py::handle v, const std::string& key) {
  const auto np = numpy_type(v);
  if (!np) return plain_value_from_python(v, key, std::nullopt);
  const py::object plain = v.attr("tolist")();
  if (py::isinstance<py::list>(plain))
    for (py::handle item : plain)
      if (py::isinstance<py::list>(item)) bad_value(key, "a NumPy array must be one-dimensional");
  return plain_value_from_python(plain, key, np);
}

Value plain_value_from_python(py::handle v, const std::string& key, std::optional<NumpyType> np) {
  const bool list = py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v);
  std::vector<py::handle> items;
  if (list)
    for (py::handle item : v) items.push_back(item);
  else
    items.push_back(v);
  bool all_bool = true, all_int = true, all_number = true, all_str = true;
  for (py::handle item : items) {
    const bool b = py::isinstance<py::bool_>(item);
    const bool i = !b && py::isinstance<py::int_>(item);
    all_bool &= b;
    all_int &= i;
    all_number &= i || py::isinstance<py::float_>(item);
    all_str &= py::isinstance<py::str>(item);
  }
  if (all_int) return ints_from_python(items, list, key, np);  // also the empty list: I64[]
  if (all_bool) {
    std::vector<bool> out;
    for (py::handle item : items) out.push_back(item.cast<bool>());
    return list ? Value(std::move(out)) : Value(bool(out.at(0)));
  }
  if (all_number) {
    std::vector<double> out;
    for (py::handle item : items) out.push_back(item.cast<double>());
    return list ? Value(std::move(out), float_type_of(np)) : Value(out.at(0), float_type_of(np));
  }
  if (all_str) {
    std::vector<std::string> out;
    for (py::handle item : items) out.push_back(item.cast<std::string>());
    return list ? Value(std::move(out)) : Value(std::move(out.at(0)));
  }
  if (list) bad_value(key, "a list must hold only bools, only numbers or only strings");
  throw py::type_error("hyperparameter '" + key + "' must be a bool, int, float, str or a list of them, not " +
                       describe(v));
}

}  // namespace

py::dict info_to_python(const ModelInfo& info) {
  py::dict d;
  d["license"] = info.license ? py::object(license_to_python(*info.license)) : py::object(py::none());
  d["provenance"] = provenance_to_python(info.provenance);
  py::dict h;
  for (const auto& [k, v] : info.hyperparameters) h[py::str(k)] = value_to_python(v);
  d["hyperparameters"] = h;
  py::dict m;
  for (const auto& [k, v] : info.metadata) m[py::str(k)] = py::str(v);
  d["metadata"] = m;
  return d;
}

ModelInfo info_from_python(py::handle license, py::handle provenance, py::handle hyperparameters, py::handle metadata) {
  ModelInfo info;
  if (!license.is_none()) info.license = license_from_python(license);
  if (!provenance.is_none()) info.provenance = provenance_from_python(provenance);
  if (!hyperparameters.is_none())
    for_fields(hyperparameters, "hyperparameters", [&](const std::string& k, py::handle v) {
      info.hyperparameters[k] = value_from_python(v, k);
      return true;
    });
  if (!metadata.is_none())
    for_fields(metadata, "metadata", [&](const std::string& k, py::handle v) {
      info.metadata[k] = as_string(v, "metadata['" + k + "']");
      return true;
    });
  return info;
}

Limits limits_from_python(py::handle limits) {
  Limits l;
  if (limits.is_none()) return l;
  for_fields(limits, "limits", [&](const std::string& k, py::handle v) {
    if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v))
      throw py::type_error("limits['" + k + "'] must be an int");
    const auto n = v.cast<std::uint64_t>();
    auto narrow = [&](std::uint32_t& field) {
      if (n > std::numeric_limits<std::uint32_t>::max())
        raise_error(ErrorCode::kInvalidArgument, "limits['" + k + "'] must fit 32 bits");
      field = static_cast<std::uint32_t>(n);
    };
    if (k == "max_manifest_bytes")
      l.max_manifest_bytes = n;
    else if (k == "max_tensors")
      l.max_tensors = n;
    else if (k == "max_rank")
      narrow(l.max_rank);
    else if (k == "max_name_bytes")
      narrow(l.max_name_bytes);
    else if (k == "max_metadata_entries")
      l.max_metadata_entries = n;
    else if (k == "max_string_bytes")
      l.max_string_bytes = n;
    else if (k == "max_alignment")
      l.max_alignment = n;
    else if (k == "max_chunk_bytes")
      l.max_chunk_bytes = n;
    else if (k == "max_signatures")
      narrow(l.max_signatures);
    else if (k == "max_shards")
      narrow(l.max_shards);
    else
      return false;
    return true;
  });
  return l;
}

void bind_info(py::module_& m) {
  m.def(
      "validate_spdx", [](const std::string& expression) { check(validate_spdx_expression(expression)); },
      py::arg("expression"), "Raises OWFError(bad_license) unless `expression` is a valid SPDX license expression.");
  m.def("spdx_license_list_version", [] { return std::string(spdx_license_list_version()); });
}

}  // namespace owf::python
