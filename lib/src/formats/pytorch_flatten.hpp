// From a checkpoint's unpickled object to named tensors and model
// information (spec/interchange.md, "PyTorch", "Names and order" and "Model
// information"): the object graph is walked in pickle order, tensors named
// by the dotted path of keys leading to them, plain values turned into
// hyperparameters or metadata.
//
// The walk is bounded by the pickle, not by what the graph expands to
// through shared references: at most 4 visits per object, containers nested
// at most kMaxNesting deep, a name is built in one buffer of at most
// max_name_bytes (a longer path can name nothing), and every byte of name
// built, every byte a value will hold (strings, list items) and every list
// item examined counts towards kWorkPerByte x the pickle's size plus
// kWorkFloor: a list or string reached through many references is charged
// at each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/pickle.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"

namespace owf::internal {

inline constexpr std::uint32_t kMaxNesting = 1000;  // containers inside containers
inline constexpr std::uint64_t kWorkPerByte = 8;
inline constexpr std::uint64_t kWorkFloor = 16ull << 20;

struct FlatCheckpoint {
  std::vector<std::pair<std::string, pickle::ObjectId>> tensors;  // walk order
  ModelInfo info;
};

/// Walks the checkpoint whose root is `root` (`pickle_bytes`: the size of
/// the pickle that built it). `select` (may be empty) names the sub-object
/// whose tensors are read, as SourceOptions::select describes; plain values
/// come from the whole checkpoint. Errors name `where` (the file).
Result<FlatCheckpoint> flatten_checkpoint(const pickle::Pickle& p, pickle::ObjectId root, std::uint64_t pickle_bytes,
                                          std::string_view select, const Limits& limits, const std::string& where);

}  // namespace owf::internal
