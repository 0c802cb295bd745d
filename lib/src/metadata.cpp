#include "owf/metadata.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "owf/tensor.hpp"

namespace owf {

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

std::optional<Sha256Digest> digest_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256Digest out{};
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_float(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> parse_quoted(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return std::string(s.substr(1, s.size() - 2));
  return std::nullopt;
}

std::vector<std::string_view> split_list(std::string_view body) {
  std::vector<std::string_view> items;
  if (trim(body).empty()) return items;
  std::size_t start = 0;
  char quote = 0;
  for (std::size_t i = 0; i <= body.size(); ++i) {
    if (i < body.size() && quote) {
      if (body[i] == quote) quote = 0;
      continue;
    }
    if (i < body.size() && (body[i] == '"' || body[i] == '\'')) {
      quote = body[i];
      continue;
    }
    if (i == body.size() || body[i] == ',') {
      items.push_back(trim(body.substr(start, i - start)));
      start = i + 1;
    }
  }
  return items;
}

std::string format_double(double v) {
  char buf[64];
  // Shortest representation that round-trips.
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, ec == std::errc() ? p : buf);
  if (std::isfinite(v) && s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

Value parse_value_literal(std::string_view text) {
  const std::string_view s = trim(text);
  if (auto q = parse_quoted(s)) return Value(*q);
  if (s == "true") return Value(true);
  if (s == "false") return Value(false);
  if (auto i = parse_int(s)) return Value(*i);
  if (auto f = parse_float(s)) return Value(*f);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    auto items = split_list(s.substr(1, s.size() - 2));
    bool all_int = true, all_num = true, all_bool = true;
    for (auto item : items) {
      all_int = all_int && parse_int(item).has_value();
      all_num = all_num && parse_float(item).has_value();
      all_bool = all_bool && (item == "true" || item == "false");
    }
    if (!items.empty() && all_bool) {
      std::vector<bool> v;
      for (auto item : items) v.push_back(item == "true");
      return Value(std::move(v));
    }
    if (!items.empty() && all_int) {
      std::vector<std::int64_t> v;
      for (auto item : items) v.push_back(*parse_int(item));
      return Value(std::move(v));
    }
    if (!items.empty() && all_num) {
      std::vector<double> v;
      for (auto item : items) v.push_back(*parse_float(item));
      return Value(std::move(v));
    }
    std::vector<std::string> v;
    for (auto item : items) v.push_back(parse_quoted(item).value_or(std::string(item)));
    return Value(std::move(v));
  }
  return Value(std::string(s));
}

namespace {

std::string render_scalar(const Value& v, bool b) {
  (void)v;
  return b ? "true" : "false";
}
std::string render_scalar(const Value& v, std::int64_t i) {
  return v.int_type == IntType::kU64 ? std::to_string(static_cast<std::uint64_t>(i)) : std::to_string(i);
}
std::string render_scalar(const Value&, double d) { return format_double(d); }
std::string render_scalar(const Value&, const std::string& s) { return "\"" + s + "\""; }

template <class T>
std::string render_list(const Value& v, const std::vector<T>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    if constexpr (std::is_same_v<T, bool>)
      out += render_scalar(v, static_cast<bool>(items[i]));
    else
      out += render_scalar(v, items[i]);
  }
  return out + "]";
}

}  // namespace

std::string value_to_string(const Value& value) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<bool>> || std::is_same_v<T, std::vector<std::int64_t>> ||
                      std::is_same_v<T, std::vector<double>> || std::is_same_v<T, std::vector<std::string>>)
          return render_list(value, x);
        else
          return render_scalar(value, x);
      },
      value.data);
}

bool fits_int_type(std::int64_t v, IntType type) {
  switch (type) {
    case IntType::kI64:
      return true;
    case IntType::kU64:
      return true;  // the bits are the value
    case IntType::kU8:
      return v >= 0 && v <= 0xFF;
    case IntType::kI8:
      return v >= -128 && v <= 127;
    case IntType::kU16:
      return v >= 0 && v <= 0xFFFF;
    case IntType::kI16:
      return v >= -32768 && v <= 32767;
    case IntType::kU32:
      return v >= 0 && v <= 0xFFFFFFFFll;
    case IntType::kI32:
      return v >= INT32_MIN && v <= INT32_MAX;
  }
  return false;
}

bool fits_float_type(double v, FloatType type) {
  if (type == FloatType::kF64) return true;
  // Declared F32: the value must be exactly a float, so that writing it back
  // as F32 loses nothing.
  return std::isnan(v) || static_cast<double>(static_cast<float>(v)) == v;
}

Status validate_hyperparameter_key(std::string_view key) {
  auto fail = [&](const std::string& why) {
    return Error(ErrorCode::kBadHyperparameter, "hyperparameter key '" + std::string(key) + "': " + why);
  };
  if (key.empty()) return fail("empty key");
  bool segment_empty = true;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c == '.') {
      if (segment_empty) return fail("empty segment at byte " + std::to_string(i));
      segment_empty = true;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
      segment_empty = false;
    } else {
      return fail("character at byte " + std::to_string(i) + " is not [A-Za-z0-9_-.]");
    }
  }
  if (segment_empty) return fail("empty final segment");
  return {};
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kOther:
      return "other";
    case Role::kWeight:
      return "weight";
    case Role::kBias:
      return "bias";
    case Role::kEmbedding:
      return "embedding";
    case Role::kNormalization:
      return "normalization";
    case Role::kBuffer:
      return "buffer";
  }
  return "unknown";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (Role r : {Role::kOther, Role::kWeight, Role::kBias, Role::kEmbedding, Role::kNormalization, Role::kBuffer})
    if (role_name(r) == name) return r;
  return std::nullopt;
}

std::string_view codec_name(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZstd:
      return "zstd";
    case Codec::kZstdByteGroup:
      return "zstd+bytegroup";
  }
  return "unknown";
}

Role infer_role(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto last_dot = lower.rfind('.');
  const std::string_view leaf =
      last_dot == std::string::npos ? std::string_view(lower) : std::string_view(lower).substr(last_dot + 1);
  auto contains = [&](std::string_view needle) { return lower.find(needle) != std::string::npos; };
  if (leaf == "running_mean" || leaf == "running_var" || leaf == "num_batches_tracked" || contains("inv_freq") ||
      contains("rope_freqs") || leaf == "mask" || contains("position_ids") || contains("attn.masked_bias"))
    return Role::kBuffer;
  if (contains("embed") || contains("wte") || contains("wpe") || contains("token_embd") || contains("tok_embeddings") ||
      contains("word_embeddings"))
    return Role::kEmbedding;
  if (contains("norm") || contains("ln_") || contains(".ln") || lower.starts_with("ln") || contains("bn.") ||
      contains("batchnorm") || contains("layernorm"))
    return Role::kNormalization;
  if (leaf == "bias" || leaf == "b" || leaf.ends_with("_bias") || leaf == "beta") return Role::kBias;
  if (leaf == "weight" || leaf == "w" || leaf == "kernel" || leaf.ends_with("_weight") || leaf == "gamma" ||
      contains("weight") || contains("kernel"))
    return Role::kWeight;
  return Role::kOther;
}

}  // namespace owf

#include "owf/version.hpp"
namespace owf {
std::string_view library_version() { return "0.1.0"; }
}  // namespace owf
