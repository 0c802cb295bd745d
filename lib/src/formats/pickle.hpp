// A data-only interpreter of Python pickles, for PyTorch checkpoints.
//
// It understands the opcodes of protocols 0-5 that state dicts are made of
// and builds plain values in an arena: None, bools, integers, floats,
// strings, bytes, tuples, lists, dicts (ordered, as Python's are), storage
// references (persistent ids) and tensors. It imports nothing and calls
// nothing: the only globals it accepts are the few that torch.save writes for
// state dicts (collections.OrderedDict, torch._utils._rebuild_tensor*,
// torch._utils._rebuild_parameter*, torch.*Storage, torch dtypes, torch.Size),
// and those are interpreted by this file, not looked up. Any other global is
// refused with an error that names it (module.name).
//
// Robustness: the interpreter is iterative (no recursion, so nesting cannot
// overflow the C++ stack) and every cost is bounded by the input it has
// read (spec/interchange.md, "The pickle interpreter", lists the limits):
// hard limits on stack size, MARK nesting, memo size, object count and
// string lengths; container entries stored, and entries examined by checks
// that look into containers (a memo lets one small opcode reach a large
// container again and again), are each at most kEntriesPerByte per pickle
// byte read so far plus kEntriesFloor. Every length is checked against the
// remaining input before anything is allocated. Objects refer to each
// other by index into the arena, so freeing a deeply nested structure does
// not recurse either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/byte_cursor.hpp"
#include "owf/dtype.hpp"
#include "owf/error.hpp"

namespace owf::internal::pickle {

struct PickleLimits {
  std::uint64_t max_objects = 1ull << 25;
  std::uint64_t max_stack = 1ull << 22;  // values on the stack at once
  std::uint32_t max_mark_depth = 1000;   // MARKs open at once
  std::uint64_t max_memo = 1ull << 24;   // memo entries
  std::uint64_t max_string_bytes = 64ull << 20;
  std::uint32_t max_rank = 64;  // tensor dimensions
};

/// Container entries (list and tuple items, dict keys and values) stored,
/// and entries examined, per byte of pickle read, beyond kEntriesFloor. A
/// pickle stores at most one entry per byte on its own; more can only come
/// from copying containers it reaches through the memo.
inline constexpr std::uint64_t kEntriesPerByte = 4;
inline constexpr std::uint64_t kEntriesFloor = 1ull << 20;

enum class Kind : std::uint8_t {
  kNone,
  kBool,
  kInt,
  kBigInt,  // more than 64 bits; little-endian two's complement bytes in `text`
  kFloat,
  kString,
  kBytes,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor,
};
std::string_view kind_name(Kind kind);

/// Callables and types a pickle may name.
enum class GlobalId : std::uint8_t {
  kOrderedDict,
  kRebuildTensor,              // torch._utils._rebuild_tensor(storage, offset, size, stride)
  kRebuildTensorV2,            // (storage, offset, size, stride, requires_grad, hooks[, metadata])
  kRebuildTensorV3,            // (storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])
  kRebuildParameter,           // (data, requires_grad, hooks)
  kRebuildParameterWithState,  // (data, requires_grad, hooks, state)
  kRebuildFromTypeV2,          // torch._tensor._rebuild_from_type_v2(func, type, args, state)
  kTorchSize,                  // torch.Size(tuple)
  kTensorType,                 // torch.Tensor, torch.nn.parameter.Parameter (as new_type only)
  kStorageType,                // torch.FloatStorage ..., torch.UntypedStorage
  kDtype,                      // torch.float32 ...
  kUnsupportedDtype,           // a real torch dtype OWF has no type for (refused when used)
};

struct Global {
  GlobalId id;
  std::string name;          // "module.name" as written
  DType dtype = DType::kU8;  // kStorageType, kDtype
  bool untyped = false;      // kStorageType: UntypedStorage (sizes in bytes)
};

/// A storage named by a persistent id ('storage', type, key, location, numel).
struct Storage {
  std::string key;
  DType dtype = DType::kU8;  // U8 for untyped storages
  bool untyped = false;
  std::uint64_t numel = 0;  // elements of dtype (bytes when untyped)
  std::string location;
};

/// What a persistent id evaluates to: a storage, or (legacy streams) a
/// slice [offset, offset + size) of one, in elements of its dtype.
struct StorageView {
  std::uint32_t storage = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

struct Tensor {
  std::uint32_t storage = 0;  // index into Pickle::storages
  DType dtype = DType::kF32;
  std::uint64_t offset = 0;  // in elements of dtype, view offsets included
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> stride;  // in elements
  std::uint64_t numel = 0;
};

using ObjectId = std::uint32_t;

struct Object {
  Kind kind = Kind::kNone;
  std::uint32_t aux = 0;  // index into the side table of its kind
  std::int64_t i = 0;     // kBool, kInt
  double f = 0;           // kFloat
};

/// The arena of everything one or more pickles built. Object ids stay valid
/// for the lifetime of the Pickle.
struct Pickle {
  std::vector<Object> objects;
  std::vector<std::string> texts;                                 // kString, kBytes, kBigInt
  std::vector<std::vector<ObjectId>> sequences;                   // kTuple, kList
  std::vector<std::vector<std::pair<ObjectId, ObjectId>>> dicts;  // kDict, insertion order
  std::vector<Global> globals;
  std::vector<Storage> storages;
  std::unordered_map<std::string, std::uint32_t> storage_by_key;
  std::vector<StorageView> views;  // kStorage
  std::vector<Tensor> tensors;

  const Object& at(ObjectId id) const { return objects[id]; }
  Kind kind(ObjectId id) const { return objects[id].kind; }
  const std::string& text(ObjectId id) const { return texts[objects[id].aux]; }
  const std::vector<ObjectId>& sequence(ObjectId id) const { return sequences[objects[id].aux]; }
  const std::vector<std::pair<ObjectId, ObjectId>>& dict(ObjectId id) const { return dicts[objects[id].aux]; }
  const Global& global(ObjectId id) const { return globals[objects[id].aux]; }
  const Tensor& tensor(ObjectId id) const { return tensors[objects[id].aux]; }
};

/// Runs one pickle from the cursor's position up to and including its STOP
/// opcode, adding what it builds to `pickle`, and leaves the cursor after
/// the STOP (pickles can follow one another, as in legacy torch.save
/// streams). Errors are foreign_format_invalid (malformed, truncated),
/// foreign_format_unsupported (a global or opcode that is not data),
/// limit_exceeded, or the source's io_error, with the byte offset in the
/// cursor's source of the opcode at fault.
Result<ObjectId> run(Pickle& pickle, ByteCursor& input, const PickleLimits& limits);

}  // namespace owf::internal::pickle
