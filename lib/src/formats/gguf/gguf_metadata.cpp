#include "formats/gguf/gguf_metadata.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <map>

#include "base64.hpp"
#include "formats/gguf/gguf_format.hpp"

namespace owf::internal::gguf {

namespace {

constexpr std::string_view kAlignmentKey = "general.alignment";
constexpr std::string_view kLicenseKey = "general.license";
constexpr std::string_view kAuthorKey = "general.author";
constexpr std::string_view kKvPrefix = "gguf.kv.";                 // a pair kept as "<type>:<base64 payload>"
constexpr std::string_view kKvOrderKey = "gguf.kv_order";          // the file's key order, one key per line
constexpr std::string_view kTensorOrderKey = "gguf.tensor_order";  // the file's tensor order, one name per line
constexpr std::string_view kShapePrefix = "gguf.shape.";           // file shape of a tensor exposed as 1-D
constexpr std::string_view kReservedPrefix = "gguf.";
constexpr std::string_view kMetadataPrefix = "owf.metadata.";  // OWF metadata carried as string pairs

// Provenance fields that a GGUF string pair maps onto one-to-one.
struct ProvenanceKey {
  std::string_view key;
  std::string Provenance::*field;
};
constexpr std::array<ProvenanceKey, 5> kProvenanceKeys = {{
    {"general.name", &Provenance::name},
    {"general.version", &Provenance::version},
    {"general.architecture", &Provenance::architecture},
    {"general.description", &Provenance::description},
    {"general.source.url", &Provenance::source_url},
}};

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

// Tensor names may hold any character but NUL: in the tensor order a
// backslash is written "\\" and a line feed "\n".
std::string escape_line(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string unescape_line(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      ++i;
      out += line[i] == 'n' ? '\n' : line[i];
    } else {
      out += line[i];
    }
  }
  return out;
}

/// "[64, 172]"
std::string format_shape(std::span<const std::uint64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::optional<std::vector<std::uint64_t>> parse_shape(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  std::vector<std::uint64_t> shape;
  while (!text.empty()) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p == text.data()) return std::nullopt;
    shape.push_back(v);
    text.remove_prefix(static_cast<std::size_t>(p - text.data()));
    if (!text.empty()) {
      if (text.front() != ',') return std::nullopt;
      text.remove_prefix(1);
      if (text.empty()) return std::nullopt;
    }
  }
  return shape;
}

/// The bytes of a pair kept verbatim: as read, or re-encoded from its Value
/// (encode_value gives back exactly the bytes read_value read).
std::vector<std::byte> payload_of(KeyValue& kv) {
  if (!kv.value) return std::move(kv.raw);
  auto encoded = encode_value(kv.key, *kv.value);
  assert(encoded.ok());  // values read from a file fit their own types
  return encoded.ok() ? std::move(encoded->payload) : std::vector<std::byte>();
}

/// Whether a string pair maps onto a field of ModelInfo; sets it if so.
bool map_string(const std::string& key, const std::string& s, ModelInfo& info) {
  if (key == kLicenseKey && validate_spdx_expression(s).ok()) {
    License l;
    l.spdx = s;
    info.license = std::move(l);
    return true;
  }
  const auto* pk = std::find_if(kProvenanceKeys.begin(), kProvenanceKeys.end(),
                                [&](const ProvenanceKey& p) { return p.key == key; });
  if (pk != kProvenanceKeys.end() && !s.empty()) {
    info.provenance.*(pk->field) = s;
    return true;
  }
  if (key == kAuthorKey && !s.empty()) {
    info.provenance.authors = {s};
    return true;
  }
  if (key.starts_with(kMetadataPrefix)) {
    std::string rest = key.substr(kMetadataPrefix.size());
    if (!rest.empty() && !rest.starts_with(kReservedPrefix)) {
      info.metadata[std::move(rest)] = s;
      return true;
    }
  }
  return false;
}

/// Restores a pair kept verbatim in metadata ("<type>:<base64>"), checking
/// that the payload is exactly one well-formed value of that type.
Result<EncodedValue> decode_kept_kv(const std::string& key, const std::string& text) {
  const std::string what = "metadata '" + std::string(kKvPrefix) + key + "'";
  auto bad = [&](const std::string& why) { return Error(ErrorCode::kBadMetadata, what + ": " + why); };
  const auto colon = text.find(':');
  if (colon == std::string::npos) return bad("expected <type>:<base64>");
  const auto type = value_type_from_name(std::string_view(text).substr(0, colon));
  if (!type) return bad("unknown GGUF type '" + text.substr(0, colon) + "'");
  auto payload = base64_decode(std::string_view(text).substr(colon + 1));
  if (!payload) return bad("payload is not valid base64");
  OWF_RETURN_IF_ERROR(check_value_bytes(*type, *payload, what));
  return EncodedValue{*type, std::move(*payload)};
}

}  // namespace

ModelInfo model_info_from_kvs(std::vector<KeyValue> kvs) {
  ModelInfo info;
  std::string order;
  for (auto& kv : kvs) {
    if (!order.empty()) order += '\n';
    order += kv.key;
    if (kv.value) {
      if (const auto* s = std::get_if<std::string>(&kv.value->data); s && map_string(kv.key, *s, info)) continue;
      if (validate_hyperparameter_key(kv.key).ok()) {
        info.hyperparameters[kv.key] = std::move(*kv.value);
        continue;
      }
    }
    info.metadata[std::string(kKvPrefix) + kv.key] =
        std::string(value_type_name(kv.type)) + ":" + base64_encode(payload_of(kv));
  }
  if (!kvs.empty()) info.metadata[std::string(kKvOrderKey)] = std::move(order);
  return info;
}

Result<std::vector<std::pair<std::string, EncodedValue>>> kvs_from_model_info(const ModelInfo& info,
                                                                              std::uint64_t alignment) {
  std::map<std::string, EncodedValue> kvs;  // the first source of a key wins
  for (const auto& [key, value] : info.hyperparameters) {
    OWF_ASSIGN_OR_RETURN(EncodedValue kv, encode_value(key, value));
    kvs.emplace(key, std::move(kv));
  }
  for (const auto& [mkey, text] : info.metadata) {
    if (!mkey.starts_with(kKvPrefix)) continue;
    const std::string key = mkey.substr(kKvPrefix.size());
    if (key.empty() || kvs.count(key)) continue;
    OWF_ASSIGN_OR_RETURN(EncodedValue kv, decode_kept_kv(key, text));
    kvs.emplace(key, std::move(kv));
  }
  for (const auto& pk : kProvenanceKeys) {
    const std::string& v = info.provenance.*(pk.field);
    if (!v.empty()) kvs.emplace(std::string(pk.key), encode_string(v));
  }
  std::string authors;
  for (const auto& a : info.provenance.authors) {
    if (a.empty()) continue;
    if (!authors.empty()) authors += ", ";
    authors += a;
  }
  if (!authors.empty()) kvs.emplace(std::string(kAuthorKey), encode_string(authors));

  std::vector<std::string> order;
  if (auto it = info.metadata.find(std::string(kKvOrderKey)); it != info.metadata.end())
    order = split_lines(it->second);
  if (info.license && !info.license->spdx.empty()) {
    // NOASSERTION is what a converter states when the source said nothing;
    // it becomes a key only when the original file had it.
    const bool stated =
        info.license->spdx != "NOASSERTION" || std::find(order.begin(), order.end(), kLicenseKey) != order.end();
    if (stated) kvs.emplace(std::string(kLicenseKey), encode_string(info.license->spdx));
  }
  for (const auto& [mkey, text] : info.metadata) {
    if (mkey.starts_with(kReservedPrefix)) continue;
    kvs.emplace(std::string(kMetadataPrefix) + mkey, encode_string(text));
  }
  if (alignment != kDefaultAlignment || kvs.count(std::string(kAlignmentKey)))
    kvs[std::string(kAlignmentKey)] = encode_u32(static_cast<std::uint32_t>(alignment));

  std::vector<std::pair<std::string, EncodedValue>> out;
  out.reserve(kvs.size());
  for (const auto& key : order) {
    auto it = kvs.find(key);
    if (it == kvs.end()) continue;
    out.emplace_back(it->first, std::move(it->second));
    kvs.erase(it);
  }
  for (auto& [key, kv] : kvs) out.emplace_back(key, std::move(kv));
  return out;
}

void record_tensor_order(ModelInfo& info, std::span<const std::string> names) {
  if (names.size() < 2) return;
  std::string text;
  for (const auto& name : names) {
    if (!text.empty()) text += '\n';
    text += escape_line(name);
  }
  info.metadata[std::string(kTensorOrderKey)] = std::move(text);
}

std::vector<std::string> recorded_tensor_order(const ModelInfo& info) {
  const auto it = info.metadata.find(std::string(kTensorOrderKey));
  if (it == info.metadata.end()) return {};
  std::vector<std::string> names = split_lines(it->second);
  for (auto& name : names) name = unescape_line(name);
  return names;
}

std::string file_shape_key(std::string_view name) { return std::string(kShapePrefix) + std::string(name); }

void record_file_shape(ModelInfo& info, const std::string& name, std::span<const std::uint64_t> shape) {
  info.metadata[file_shape_key(name)] = format_shape(shape);
}

std::vector<std::uint64_t> file_shape(const ModelInfo& info, std::string_view name,
                                      std::span<const std::uint64_t> shape) {
  std::vector<std::uint64_t> dims(shape.begin(), shape.end());
  const auto it = info.metadata.find(file_shape_key(name));
  if (it == info.metadata.end() || dims.size() != 1) return dims;
  const auto kept = parse_shape(it->second);
  if (!kept || kept->size() < 2 || kept->size() > kMaxDims) return dims;
  const auto count = element_count(*kept);
  if (!count.ok() || *count != dims[0]) return dims;
  return *kept;
}

}  // namespace owf::internal::gguf
