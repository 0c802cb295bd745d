#include "formats/safetensors/safetensors_metadata.hpp"

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "formats/safetensors/safetensors_json.hpp"

namespace owf::internal::safetensors {

namespace {

using Json = nlohmann::json;

// Values under the owf.* keys are decoded into a JSON tree; bound it.
constexpr std::size_t kMaxOwfValueBytes = 16u << 20;

constexpr std::string_view kLicensePrefix = "owf.license.";
constexpr std::string_view kProvenancePrefix = "owf.provenance.";
constexpr std::string_view kHparamPrefix = "owf.hparam.";

// The plain string fields of License and Provenance, by key suffix.
template <class T>
struct StringField {
  std::string_view name;
  std::string T::*member;
};
constexpr StringField<License> kLicenseStrings[] = {
    {"spdx", &License::spdx},
    {"concluded", &License::concluded},
    {"name", &License::name},
    {"url", &License::url},
    {"text", &License::text},
    {"attribution", &License::attribution},
    {"restrictions", &License::restrictions},
};
constexpr StringField<Provenance> kProvenanceStrings[] = {
    {"name", &Provenance::name},
    {"version", &Provenance::version},
    {"architecture", &Provenance::architecture},
    {"description", &Provenance::description},
    {"source_url", &Provenance::source_url},
    {"training_data", &Provenance::training_data},
    {"software", &Provenance::software},
    {"created", &Provenance::created},
};
template <class T, std::size_t N>
std::string T::*string_member(const StringField<T> (&fields)[N], std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return f.member;
  return nullptr;
}

struct IntTypeName {
  IntType type;
  std::string_view name;
  std::int64_t min;
  std::uint64_t max;
};
constexpr std::array<IntTypeName, 8> kIntTypes = {{
    {IntType::kI64, "i64", INT64_MIN, INT64_MAX},
    {IntType::kU8, "u8", 0, UINT8_MAX},
    {IntType::kI8, "i8", INT8_MIN, INT8_MAX},
    {IntType::kU16, "u16", 0, UINT16_MAX},
    {IntType::kI16, "i16", INT16_MIN, INT16_MAX},
    {IntType::kU32, "u32", 0, UINT32_MAX},
    {IntType::kI32, "i32", INT32_MIN, INT32_MAX},
    {IntType::kU64, "u64", 0, UINT64_MAX},
}};

std::string encode_value(const Value& v) {
  std::string out = "{";
  const auto int_name = [&] {
    for (const auto& t : kIntTypes)
      if (t.type == v.int_type) return t.name;
    return std::string_view("i64");
  };
  const std::string_view float_name = v.float_type == FloatType::kF32 ? "f32" : "f64";
  const auto append_int = [&](std::int64_t x) {
    out += v.int_type == IntType::kU64 ? std::to_string(static_cast<std::uint64_t>(x)) : std::to_string(x);
  };
  std::visit(
      [&](const auto& d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += "\"bool\":";
          out += d ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          append_json_string(out, int_name());
          out += ':';
          append_int(d);
        } else if constexpr (std::is_same_v<T, double>) {
          append_json_string(out, float_name);
          out += ':';
          append_json_double(out, d);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out += "\"string\":";
          append_json_string(out, d);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out += "\"string[]\":" + json_string_list(d);
        } else {
          if constexpr (std::is_same_v<T, std::vector<bool>>)
            out += "\"bool[]\":[";
          else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>)
            append_json_string(out, std::string(int_name()) + "[]"), out += ":[";
          else
            append_json_string(out, std::string(float_name) + "[]"), out += ":[";
          for (std::size_t i = 0; i < d.size(); ++i) {
            if (i) out += ',';
            if constexpr (std::is_same_v<T, std::vector<bool>>)
              out += d[i] ? "true" : "false";
            else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>)
              append_int(d[i]);
            else
              append_json_double(out, d[i]);
          }
          out += ']';
        }
      },
      v.data);
  return out + "}";
}

Error bad_owf_key(const std::string& key, const std::string& why) {
  return Error(ErrorCode::kBadMetadata, "__metadata__ key '" + key + "': " + why);
}

// Parses a small JSON document, refusing duplicate object keys.
Result<Json> parse_json_strict(const std::string& key, const std::string& text) {
  if (text.size() > kMaxOwfValueBytes)
    return bad_owf_key(key, "value exceeds " + std::to_string(kMaxOwfValueBytes) + " bytes");
  std::vector<std::set<std::string>> seen;
  std::string duplicate;
  bool too_deep = false;
  Json::parser_callback_t cb = [&](int depth, Json::parse_event_t event, Json& parsed) {
    // The values of the owf.* keys nest two containers at most; deeper ones
    // are discarded unparsed (bounded memory) and the value refused.
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) && depth >= 2) {
      too_deep = true;
      return false;
    }
    if (event == Json::parse_event_t::object_start)
      seen.emplace_back();
    else if (event == Json::parse_event_t::object_end && !seen.empty())
      seen.pop_back();
    else if (event == Json::parse_event_t::key && !seen.empty() &&
             !seen.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json j = Json::parse(text, cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad_owf_key(key, "value is not valid JSON");
  if (too_deep) return bad_owf_key(key, "value nests deeper than the mapping allows");
  if (!duplicate.empty()) return bad_owf_key(key, "duplicate key \"" + duplicate + "\"");
  return j;
}

Result<std::vector<std::string>> decode_string_list(const std::string& key, const std::string& text) {
  OWF_ASSIGN_OR_RETURN(Json j, parse_json_strict(key, text));
  if (!j.is_array()) return bad_owf_key(key, "value must be a JSON list of strings");
  std::vector<std::string> out;
  for (const Json& e : j) {
    if (!e.is_string()) return bad_owf_key(key, "value must be a JSON list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<std::int64_t> json_int(const Json& j, const IntTypeName& t) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u > t.max) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (j.is_number_integer()) {
    const auto s = j.get<std::int64_t>();
    if (s < t.min) return std::nullopt;
    return s;
  }
  return std::nullopt;
}

std::optional<double> json_double(const Json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::nan("");
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
  }
  return std::nullopt;
}

Result<Value> decode_value(const std::string& key, const std::string& text) {
  OWF_ASSIGN_OR_RETURN(Json j, parse_json_strict(key, text));
  if (!j.is_object() || j.size() != 1)
    return bad_owf_key(key, "value must be a JSON object with one type key, e.g. {\"i64\":5}");
  const std::string type = j.begin().key();
  const Json& v = j.begin().value();
  const bool list = type.size() > 2 && type.ends_with("[]");
  const std::string base = list ? type.substr(0, type.size() - 2) : type;
  if (list && !v.is_array()) return bad_owf_key(key, "type " + type + " needs a JSON list");
  const auto bad_element = [&] { return bad_owf_key(key, "value does not fit type " + type); };
  if (base == "bool") {
    if (!list) {
      if (!v.is_boolean()) return bad_element();
      return Value(v.get<bool>());
    }
    std::vector<bool> out;
    for (const Json& e : v) {
      if (!e.is_boolean()) return bad_element();
      out.push_back(e.get<bool>());
    }
    return Value(std::move(out));
  }
  if (base == "string") {
    if (!list) {
      if (!v.is_string()) return bad_element();
      return Value(v.get<std::string>());
    }
    std::vector<std::string> out;
    for (const Json& e : v) {
      if (!e.is_string()) return bad_element();
      out.push_back(e.get<std::string>());
    }
    return Value(std::move(out));
  }
  if (base == "f32" || base == "f64") {
    const FloatType ft = base == "f32" ? FloatType::kF32 : FloatType::kF64;
    if (!list) {
      auto d = json_double(v);
      if (!d) return bad_element();
      return Value(*d, ft);
    }
    std::vector<double> out;
    for (const Json& e : v) {
      auto d = json_double(e);
      if (!d) return bad_element();
      out.push_back(*d);
    }
    return Value(std::move(out), ft);
  }
  for (const auto& t : kIntTypes) {
    if (base != t.name) continue;
    if (!list) {
      auto i = json_int(v, t);
      if (!i) return bad_element();
      return Value(*i, t.type);
    }
    std::vector<std::int64_t> out;
    for (const Json& e : v) {
      auto i = json_int(e, t);
      if (!i) return bad_element();
      out.push_back(*i);
    }
    return Value(std::move(out), t.type);
  }
  return bad_owf_key(key, "unknown value type \"" + type + "\"");
}

bool is_mapped_key(std::string_view k) {
  return k.starts_with(kLicensePrefix) || k.starts_with(kProvenancePrefix) || k.starts_with(kHparamPrefix);
}

}  // namespace

Result<ModelInfo> decode_model_info(std::vector<std::pair<std::string, std::string>> entries) {
  ModelInfo info;
  License license;
  bool has_license = false;
  Provenance& p = info.provenance;
  for (auto& [key, value] : entries) {
    const std::string_view k = key;
    if (k.starts_with(kLicensePrefix)) {
      const std::string_view f = k.substr(kLicensePrefix.size());
      has_license = true;
      if (auto m = string_member(kLicenseStrings, f))
        license.*m = std::move(value);
      else if (f == "copyright") {
        OWF_ASSIGN_OR_RETURN(license.copyright, decode_string_list(key, value));
      } else {
        return bad_owf_key(key, "unknown license field");
      }
    } else if (k.starts_with(kProvenancePrefix)) {
      const std::string_view f = k.substr(kProvenancePrefix.size());
      if (auto m = string_member(kProvenanceStrings, f))
        p.*m = std::move(value);
      else if (f == "authors") {
        OWF_ASSIGN_OR_RETURN(p.authors, decode_string_list(key, value));
      } else if (f == "base_models") {
        OWF_ASSIGN_OR_RETURN(Json j, parse_json_strict(key, value));
        if (!j.is_array())
          return bad_owf_key(key, "value must be a JSON list of {\"name\", \"weights_digest\"} objects");
        for (const Json& e : j) {
          if (!e.is_object() || e.size() != 2 || !e.contains("name") || !e.contains("weights_digest") ||
              !e["name"].is_string() || !e["weights_digest"].is_string())
            return bad_owf_key(key, "value must be a JSON list of {\"name\", \"weights_digest\"} objects");
          BaseModel b;
          b.name = e["name"].get<std::string>();
          auto d = digest_from_hex(e["weights_digest"].get<std::string>());
          if (!d) return bad_owf_key(key, "weights_digest of '" + b.name + "' is not 64 hex digits");
          b.weights_digest = *d;
          p.base_models.push_back(std::move(b));
        }
      } else {
        return bad_owf_key(key, "unknown provenance field");
      }
    } else if (k.starts_with(kHparamPrefix)) {
      const std::string name(k.substr(kHparamPrefix.size()));
      if (auto s = validate_hyperparameter_key(name); !s.ok()) return bad_owf_key(key, s.error().message());
      OWF_ASSIGN_OR_RETURN(Value v, decode_value(key, value));
      info.hyperparameters.emplace(name, std::move(v));
    } else {
      info.metadata.emplace(std::move(key), std::move(value));
    }
  }
  if (has_license) {
    if (license.spdx.empty())
      return Error(ErrorCode::kBadLicense, "__metadata__ has owf.license.* keys but no owf.license.spdx");
    OWF_RETURN_IF_ERROR(validate_spdx_expression(license.spdx));
    info.license = std::move(license);
  }
  return info;
}

Result<std::map<std::string, std::string>> encode_model_info(const ModelInfo& info) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : info.metadata) {
    if (is_mapped_key(k))
      return Error(ErrorCode::kBadMetadata,
                   "metadata key '" + k + "' is reserved for OWF model information in safetensors");
    out.emplace(k, v);
  }
  const auto put = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out[k] = v;
  };
  if (info.license) {
    const License& l = *info.license;
    for (const auto& [name, member] : kLicenseStrings) put(std::string(kLicensePrefix) + std::string(name), l.*member);
    if (!l.copyright.empty()) out["owf.license.copyright"] = json_string_list(l.copyright);
  }
  const Provenance& p = info.provenance;
  for (const auto& [name, member] : kProvenanceStrings)
    put(std::string(kProvenancePrefix) + std::string(name), p.*member);
  if (!p.authors.empty()) out["owf.provenance.authors"] = json_string_list(p.authors);
  if (!p.base_models.empty()) {
    std::string s = "[";
    for (std::size_t i = 0; i < p.base_models.size(); ++i) {
      if (i) s += ',';
      s += "{\"name\":";
      append_json_string(s, p.base_models[i].name);
      s += ",\"weights_digest\":\"" + to_hex(p.base_models[i].weights_digest) + "\"}";
    }
    out["owf.provenance.base_models"] = s + "]";
  }
  for (const auto& [k, v] : info.hyperparameters) out[std::string(kHparamPrefix) + k] = encode_value(v);
  return out;
}

}  // namespace owf::internal::safetensors
