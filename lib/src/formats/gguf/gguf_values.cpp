#include "formats/gguf/gguf_values.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "formats/gguf/gguf_format.hpp"
#include "io/byte_source.hpp"
#include "utf8.hpp"

namespace owf::internal::gguf {

namespace {

IntType int_type_of(std::uint32_t type) {
  switch (type) {
    case kU8:
      return IntType::kU8;
    case kI8:
      return IntType::kI8;
    case kU16:
      return IntType::kU16;
    case kI16:
      return IntType::kI16;
    case kU32:
      return IntType::kU32;
    case kI32:
      return IntType::kI32;
    case kU64:
      return IntType::kU64;
    default:
      return IntType::kI64;
  }
}

std::uint32_t value_type_of(IntType t) {
  switch (t) {
    case IntType::kU8:
      return kU8;
    case IntType::kI8:
      return kI8;
    case IntType::kU16:
      return kU16;
    case IntType::kI16:
      return kI16;
    case IntType::kU32:
      return kU32;
    case IntType::kI32:
      return kI32;
    case IntType::kU64:
      return kU64;
    case IntType::kI64:
      return kI64;
  }
  return kI64;
}

Error unsupported(const ByteCursor& c, std::uint64_t offset, std::string_view message) {
  return Error(ErrorCode::kForeignFormatUnsupported, c.error_at(offset, message).message());
}

// u64 values keep their bits in the int64 (IntType::kU64).
template <class T>
Status read_int(ByteCursor& c, std::int64_t* out, std::string_view what) {
  OWF_ASSIGN_OR_RETURN(T v, c.read<T>(what));
  *out = static_cast<std::int64_t>(v);
  return {};
}

/// One integer (into *i) or float (into *d) element of numeric type `type`.
Status read_number(ByteCursor& c, std::uint32_t type, std::int64_t* i, double* d) {
  switch (type) {
    case kU8:
      return read_int<std::uint8_t>(c, i, "a u8 value");
    case kI8:
      return read_int<std::int8_t>(c, i, "an i8 value");
    case kU16:
      return read_int<std::uint16_t>(c, i, "a u16 value");
    case kI16:
      return read_int<std::int16_t>(c, i, "an i16 value");
    case kU32:
      return read_int<std::uint32_t>(c, i, "a u32 value");
    case kI32:
      return read_int<std::int32_t>(c, i, "an i32 value");
    case kU64:
      return read_int<std::uint64_t>(c, i, "a u64 value");
    case kI64:
      return read_int<std::int64_t>(c, i, "an i64 value");
    case kF32: {
      OWF_ASSIGN_OR_RETURN(std::uint32_t bits, c.read<std::uint32_t>("an f32 value"));
      *d = f32_to_double(bits);
      return {};
    }
    case kF64: {
      OWF_ASSIGN_OR_RETURN(*d, c.read<double>("an f64 value"));
      return {};
    }
    default:
      return c.error_here("not a numeric type");
  }
}

Result<bool> read_bool(ByteCursor& c) {
  const std::uint64_t at = c.offset();
  OWF_ASSIGN_OR_RETURN(std::uint8_t v, c.read<std::uint8_t>("a bool value"));
  if (v > 1) return c.error_at(at, "bool value " + std::to_string(v) + " is neither 0 nor 1");
  return v == 1;
}

Result<std::optional<Value>> read_value_at(ByteCursor& c, std::uint32_t type, int depth, std::uint64_t max_string_bytes,
                                           ValueShape& shape) {
  const std::uint64_t at = c.offset();
  if (type >= kValueTypeCount) return unsupported(c, at, "unknown value type " + std::to_string(type));
  if (type == kBool) {
    OWF_ASSIGN_OR_RETURN(bool b, read_bool(c));
    return std::optional<Value>(Value(b));
  }
  if (type == kString) {
    OWF_ASSIGN_OR_RETURN(std::string s, read_string(c, max_string_bytes, "a string value", &shape));
    if (!is_valid_utf8(s)) return std::optional<Value>();
    return std::optional<Value>(Value(std::move(s)));
  }
  if (type != kArray) {
    std::int64_t i = 0;
    double d = 0;
    OWF_RETURN_IF_ERROR(read_number(c, type, &i, &d));
    if (type == kF32) return std::optional<Value>(Value(d, FloatType::kF32));
    if (type == kF64) return std::optional<Value>(Value(d, FloatType::kF64));
    return std::optional<Value>(Value(i, int_type_of(type)));
  }

  // Arrays: u32 element type, u64 count, elements.
  if (depth >= kMaxArrayDepth) return unsupported(c, at, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
  OWF_ASSIGN_OR_RETURN(std::uint32_t elem, c.read<std::uint32_t>("an array element type"));
  if (elem >= kValueTypeCount) return unsupported(c, at, "an array of unknown value type " + std::to_string(elem));
  const std::uint64_t count_at = c.offset();
  OWF_ASSIGN_OR_RETURN(std::uint64_t n, c.read<std::uint64_t>("an array length"));
  // Every element takes at least this many bytes, so the count is bounded
  // by the bytes left before anything is allocated from it.
  const std::uint64_t min_elem = elem == kString ? 8 : elem == kArray ? 12 : scalar_size(elem);
  if (n > c.remaining() / min_elem)
    return c.error_at(count_at, "array length " + std::to_string(n) + " exceeds the " + std::to_string(c.remaining()) +
                                    " bytes left");
  shape.largest_array = std::max(shape.largest_array, n);
  const auto count = static_cast<std::size_t>(n);
  switch (elem) {
    case kArray: {
      shape.nested_array = true;
      for (std::size_t k = 0; k < count; ++k) {
        auto inner = read_value_at(c, kArray, depth + 1, max_string_bytes, shape);
        if (!inner.ok()) return inner.error();
      }
      return std::optional<Value>();
    }
    case kString: {
      std::vector<std::string> v;
      v.reserve(count);
      bool utf8 = true;
      for (std::size_t k = 0; k < count; ++k) {
        OWF_ASSIGN_OR_RETURN(std::string s, read_string(c, max_string_bytes, "a string element", &shape));
        utf8 = utf8 && is_valid_utf8(s);
        if (utf8) v.push_back(std::move(s));
      }
      if (!utf8) return std::optional<Value>();
      return std::optional<Value>(Value(std::move(v)));
    }
    case kBool: {
      std::vector<bool> v;
      v.reserve(count);
      for (std::size_t k = 0; k < count; ++k) {
        OWF_ASSIGN_OR_RETURN(bool b, read_bool(c));
        v.push_back(b);
      }
      return std::optional<Value>(Value(std::move(v)));
    }
    case kF32:
    case kF64: {
      std::vector<double> v(count);
      std::int64_t unused = 0;
      for (std::size_t k = 0; k < count; ++k) OWF_RETURN_IF_ERROR(read_number(c, elem, &unused, &v[k]));
      return std::optional<Value>(Value(std::move(v), elem == kF32 ? FloatType::kF32 : FloatType::kF64));
    }
    default: {
      std::vector<std::int64_t> v(count);
      double unused = 0;
      for (std::size_t k = 0; k < count; ++k) OWF_RETURN_IF_ERROR(read_number(c, elem, &v[k], &unused));
      return std::optional<Value>(Value(std::move(v), int_type_of(elem)));
    }
  }
}

Status put_int(Encoder& e, std::uint32_t type, std::int64_t v, std::string_view key) {
  if (!fits_int_type(v, int_type_of(type)))
    return Error(ErrorCode::kBadHyperparameter, "hyperparameter '" + std::string(key) + "': value " +
                                                    std::to_string(v) + " does not fit " +
                                                    std::string(value_type_name(type)));
  switch (type) {
    case kU8:
      e.put(static_cast<std::uint8_t>(v));
      break;
    case kI8:
      e.put(static_cast<std::int8_t>(v));
      break;
    case kU16:
      e.put(static_cast<std::uint16_t>(v));
      break;
    case kI16:
      e.put(static_cast<std::int16_t>(v));
      break;
    case kU32:
      e.put(static_cast<std::uint32_t>(v));
      break;
    case kI32:
      e.put(static_cast<std::int32_t>(v));
      break;
    default:  // u64 (its bits) and i64
      e.put(v);
      break;
  }
  return {};
}

void put_float(Encoder& e, FloatType t, double v) {
  if (t == FloatType::kF32)
    e.put(f32_from_double(v));
  else
    e.put(v);
}

}  // namespace

Result<std::string> read_string(ByteCursor& c, std::uint64_t max_bytes, std::string_view what, ValueShape* shape) {
  const std::uint64_t at = c.offset();
  OWF_ASSIGN_OR_RETURN(std::uint64_t n, c.read<std::uint64_t>(std::string("the length of ") + std::string(what)));
  if (n > c.remaining())
    return c.error_at(at, std::string(what) + ": length " + std::to_string(n) + " exceeds the " +
                              std::to_string(c.remaining()) + " bytes left");
  if (shape != nullptr) shape->longest_string = std::max(shape->longest_string, n);
  return c.read_string(n, max_bytes, what);
}

Result<std::optional<Value>> read_value(ByteCursor& cursor, std::uint32_t type, std::uint64_t max_string_bytes,
                                        ValueShape& shape) {
  return read_value_at(cursor, type, 0, max_string_bytes, shape);
}

Result<EncodedValue> encode_value(std::string_view key, const Value& value) {
  Encoder e;
  EncodedValue out;
  if (const auto* b = std::get_if<bool>(&value.data)) {
    out.type = kBool;
    e.put<std::uint8_t>(*b ? 1 : 0);
  } else if (const auto* i = std::get_if<std::int64_t>(&value.data)) {
    out.type = value_type_of(value.int_type);
    OWF_RETURN_IF_ERROR(put_int(e, out.type, *i, key));
  } else if (const auto* d = std::get_if<double>(&value.data)) {
    out.type = value.float_type == FloatType::kF32 ? kF32 : kF64;
    put_float(e, value.float_type, *d);
  } else if (const auto* s = std::get_if<std::string>(&value.data)) {
    out.type = kString;
    e.str(*s);
  } else if (const auto* vb = std::get_if<std::vector<bool>>(&value.data)) {
    out.type = kArray;
    e.array_header(kBool, vb->size());
    for (bool x : *vb) e.put<std::uint8_t>(x ? 1 : 0);
  } else if (const auto* vi = std::get_if<std::vector<std::int64_t>>(&value.data)) {
    out.type = kArray;
    const std::uint32_t elem = value_type_of(value.int_type);
    e.array_header(elem, vi->size());
    for (std::int64_t x : *vi) OWF_RETURN_IF_ERROR(put_int(e, elem, x, key));
  } else if (const auto* vd = std::get_if<std::vector<double>>(&value.data)) {
    out.type = kArray;
    e.array_header(value.float_type == FloatType::kF32 ? kF32 : kF64, vd->size());
    for (double x : *vd) put_float(e, value.float_type, x);
  } else if (const auto* vs = std::get_if<std::vector<std::string>>(&value.data)) {
    out.type = kArray;
    e.array_header(kString, vs->size());
    for (const auto& x : *vs) e.str(x);
  }
  out.payload = std::move(e.bytes());
  return out;
}

EncodedValue encode_string(std::string_view s) {
  Encoder e;
  e.str(s);
  return {kString, std::move(e.bytes())};
}

EncodedValue encode_u32(std::uint32_t v) {
  Encoder e;
  e.put(v);
  return {kU32, std::move(e.bytes())};
}

Status check_value_bytes(std::uint32_t type, std::span<const std::byte> payload, std::string_view what) {
  const auto source = buffer_source(payload, std::string(what));
  ByteCursor c(*source, 0, payload.size(), ErrorCode::kBadMetadata);
  ValueShape shape;
  auto value = read_value(c, type, UINT64_MAX, shape);
  if (!value.ok()) return Error(ErrorCode::kBadMetadata, value.error().message());
  if (c.remaining() != 0) return c.error_here("bytes after the value");
  return {};
}

double f32_to_double(std::uint32_t bits) {
  const auto f = std::bit_cast<float>(bits);
  if (!std::isnan(f)) return static_cast<double>(f);
  const std::uint64_t sign = bits >> 31;
  const std::uint64_t fraction = bits & 0x7FFFFFu;
  return std::bit_cast<double>((sign << 63) | (0x7FFull << 52) | (fraction << 29));
}

std::uint32_t f32_from_double(double value) {
  if (std::isnan(value)) {
    const auto d = std::bit_cast<std::uint64_t>(value);
    const auto fraction = static_cast<std::uint32_t>((d >> 29) & 0x7FFFFFu);
    if ((d & ((1ull << 29) - 1)) == 0 && fraction != 0)
      return static_cast<std::uint32_t>(d >> 63) << 31 | 0x7F800000u | fraction;
  }
  return std::bit_cast<std::uint32_t>(static_cast<float>(value));
}

}  // namespace owf::internal::gguf
