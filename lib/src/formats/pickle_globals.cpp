#include "formats/pickle_globals.hpp"

#include <array>

namespace owf::internal::pickle {
namespace {

struct StorageName {
  std::string_view name;
  DType dtype;
};
constexpr std::array<StorageName, 12> kStorageTypes{{
    {"FloatStorage", DType::kF32},
    {"DoubleStorage", DType::kF64},
    {"HalfStorage", DType::kF16},
    {"BFloat16Storage", DType::kBF16},
    {"LongStorage", DType::kI64},
    {"IntStorage", DType::kI32},
    {"ShortStorage", DType::kI16},
    {"CharStorage", DType::kI8},
    {"ByteStorage", DType::kU8},
    {"BoolStorage", DType::kBool},
    {"ComplexFloatStorage", DType::kC64},
    {"ComplexDoubleStorage", DType::kC128},
}};

struct DtypeName {
  std::string_view name;
  DType dtype;
};
constexpr std::array<DtypeName, 27> kDtypes{{
    {"float32", DType::kF32},
    {"float", DType::kF32},
    {"float64", DType::kF64},
    {"double", DType::kF64},
    {"float16", DType::kF16},
    {"half", DType::kF16},
    {"bfloat16", DType::kBF16},
    {"int64", DType::kI64},
    {"long", DType::kI64},
    {"int32", DType::kI32},
    {"int", DType::kI32},
    {"int16", DType::kI16},
    {"short", DType::kI16},
    {"int8", DType::kI8},
    {"uint8", DType::kU8},
    {"uint16", DType::kU16},
    {"uint32", DType::kU32},
    {"uint64", DType::kU64},
    {"bool", DType::kBool},
    {"complex64", DType::kC64},
    {"cfloat", DType::kC64},
    {"complex128", DType::kC128},
    {"cdouble", DType::kC128},
    {"float8_e4m3fn", DType::kF8_E4M3FN},
    {"float8_e5m2", DType::kF8_E5M2},
    {"float8_e8m0fnu", DType::kF8_E8M0},
    {"float8_e8m0", DType::kF8_E8M0},
}};

// Real torch dtypes that OWF has no type for: accepted as values, refused
// as tensor element types.
constexpr std::array<std::string_view, 17> kOtherDtypes{
    "complex32", "chalf",    "float8_e4m3fnuz", "float8_e5m2fnuz", "float4_e2m1fn_x2", "qint8",   "quint8",
    "qint32",    "quint4x2", "quint2x4",        "bits8",           "bits16",           "bits1x8", "bits2x4",
    "bits4x2",   "cint",     "float8_e3m4"};

constexpr std::array<std::string_view, 5> kQuantizedStorages{"QInt8Storage", "QUInt8Storage", "QInt32Storage",
                                                             "QUInt4x2Storage", "QUInt2x4Storage"};

// A name as quoted in a message: at most 200 bytes of it.
std::string quoted(std::string_view s) {
  return s.size() <= 200 ? std::string(s) : std::string(s.substr(0, 200)) + "...";
}

Error refused(std::string_view module, std::string_view name, std::uint64_t at) {
  return Error(ErrorCode::kForeignFormatUnsupported,
               "pickle global '" + quoted(module) + "." + quoted(name) + "' at byte " + std::to_string(at) +
                   " is not allowed: only state-dict types are read, nothing is imported or called");
}

}  // namespace

Result<Global> resolve_global(std::string_view module, std::string_view name, std::uint64_t at) {
  // Every accepted name is short: a long one is refused before it is copied.
  if (module.size() > 64 || name.size() > 64) return refused(module, name, at);
  Global g;
  g.name = std::string(module) + "." + std::string(name);
  if (module == "collections" && name == "OrderedDict") {
    g.id = GlobalId::kOrderedDict;
    return g;
  }
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor")
      g.id = GlobalId::kRebuildTensor;
    else if (name == "_rebuild_tensor_v2")
      g.id = GlobalId::kRebuildTensorV2;
    else if (name == "_rebuild_tensor_v3")
      g.id = GlobalId::kRebuildTensorV3;
    else if (name == "_rebuild_parameter")
      g.id = GlobalId::kRebuildParameter;
    else if (name == "_rebuild_parameter_with_state")
      g.id = GlobalId::kRebuildParameterWithState;
    else
      return refused(module, name, at);
    return g;
  }
  if (module == "torch._tensor" && name == "_rebuild_from_type_v2") {
    g.id = GlobalId::kRebuildFromTypeV2;
    return g;
  }
  if ((module == "torch" && name == "Tensor") || (module == "torch.nn.parameter" && name == "Parameter")) {
    g.id = GlobalId::kTensorType;
    return g;
  }
  if (module == "torch" && name == "Size") {
    g.id = GlobalId::kTorchSize;
    return g;
  }
  if ((module == "torch" || module == "torch.storage") && name == "UntypedStorage") {
    g.id = GlobalId::kStorageType;
    g.untyped = true;
    return g;
  }
  if (module == "torch" || module == "torch.cuda") {
    for (const auto& s : kStorageTypes)
      if (s.name == name) {
        g.id = GlobalId::kStorageType;
        g.dtype = s.dtype;
        return g;
      }
    for (auto q : kQuantizedStorages)
      if (q == name)
        return Error(
            ErrorCode::kForeignFormatUnsupported,
            "pickle global '" + g.name + "' at byte " + std::to_string(at) + ": quantized storages are not supported");
  }
  if (module == "torch") {
    for (const auto& d : kDtypes)
      if (d.name == name) {
        g.id = GlobalId::kDtype;
        g.dtype = d.dtype;
        return g;
      }
    for (auto o : kOtherDtypes)
      if (o == name || (name.starts_with("int") && name.size() == 4 && name[3] >= '1' && name[3] <= '7') ||
          (name.starts_with("uint") && name.size() == 5 && name[4] >= '1' && name[4] <= '7')) {
        g.id = GlobalId::kUnsupportedDtype;
        return g;
      }
  }
  return refused(module, name, at);
}

}  // namespace owf::internal::pickle
