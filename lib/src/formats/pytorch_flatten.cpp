#include "formats/pytorch_flatten.hpp"

#include <unordered_set>

#include "rules.hpp"
#include "utf8.hpp"

namespace owf::internal {
namespace {

namespace pk = pickle;

std::string first_bytes(std::string_view s) {
  return s.size() <= 200 ? std::string(s) : std::string(s.substr(0, 200)) + "...";
}

class Flattener {
 public:
  Flattener(const pk::Pickle& p, const Limits& limits, const std::string& where, std::uint64_t pickle_bytes)
      : p_(p),
        limits_(limits),
        where_(where),
        work_budget_(kWorkFloor + kWorkPerByte * pickle_bytes),
        on_path_(p.objects.size(), 0),
        scalar_sequence_(p.objects.size(), -1) {}

  // Tensors under `node` (named relative to it, the node itself `root_name`)
  // and/or plain values (named from the root).
  Status walk(pk::ObjectId node, std::string_view root_name, bool want_tensors, bool want_values) {
    want_tensors_ = want_tensors;
    want_values_ = want_values;
    frames_.clear();
    path_.clear();
    overlong_ = false;
    OWF_RETURN_IF_ERROR(append(root_name));
    OWF_RETURN_IF_ERROR(visit(node));
    while (!frames_.empty()) {
      Frame& f = frames_.back();
      const pk::Kind k = p_.kind(f.obj);
      const std::size_t size = k == pk::Kind::kDict ? p_.dict(f.obj).size() : p_.sequence(f.obj).size();
      if (f.next >= size) {
        on_path_[f.obj] = 0;
        frames_.pop_back();
        continue;
      }
      const std::size_t i = f.next++;
      path_.resize(f.path_length);
      overlong_ = f.overlong;
      pk::ObjectId child;
      if (k == pk::Kind::kDict) {
        const auto [key, value] = p_.dict(f.obj)[i];
        OWF_RETURN_IF_ERROR(append_key(key));
        child = value;
      } else {
        OWF_RETURN_IF_ERROR(append_segment(std::to_string(i)));
        child = p_.sequence(f.obj)[i];
      }
      OWF_RETURN_IF_ERROR(visit(child));  // may push to frames_: `f` is not used after
    }
    return {};
  }

  FlatCheckpoint result;

 private:
  struct Frame {
    pk::ObjectId obj;
    std::size_t next;
    std::size_t path_length;  // path_ names this container
    bool overlong;
  };

  Status charge(std::uint64_t units) {
    work_ += units;
    if (work_ > work_budget_)
      return Error(ErrorCode::kLimitExceeded, where_ + ": naming the checkpoint's tensors and values takes more than " +
                                                  std::to_string(work_budget_) + " steps (" +
                                                  std::to_string(kWorkPerByte) + " per pickle byte plus " +
                                                  std::to_string(kWorkFloor) +
                                                  "): shared references expand it far beyond its size");
    return {};
  }

  // Appends to the name being built, keeping at most max_name_bytes + 1
  // bytes: a longer name is refused when something is given it.
  Status append(std::string_view s) {
    const std::size_t cap = std::size_t{limits_.max_name_bytes} + 1;  // one byte more marks a name as too long
    const std::string_view kept = s.substr(0, cap - std::min(path_.size(), cap));
    path_.append(kept);
    if (path_.size() > limits_.max_name_bytes) overlong_ = true;
    return charge(kept.size() + 1);
  }
  Status append_segment(std::string_view segment) {
    if (!path_.empty()) OWF_RETURN_IF_ERROR(append("."));
    return append(segment);
  }
  Status append_key(pk::ObjectId key) {
    switch (p_.kind(key)) {
      case pk::Kind::kString:
        return append_segment(p_.text(key));
      case pk::Kind::kInt:
        return append_segment(std::to_string(p_.at(key).i));
      case pk::Kind::kBool:
        return append_segment(p_.at(key).i ? "True" : "False");
      default:
        return Error(ErrorCode::kForeignFormatUnsupported,
                     where_ + ": dict '" + first_bytes(path_) + "' has a key of type " +
                         std::string(pk::kind_name(p_.kind(key))) + " (only str and int keys are read)");
    }
  }
  // The name built so far, for a tensor or value.
  Result<std::string> name(std::string_view what) const {
    if (overlong_)
      return Error(ErrorCode::kLimitExceeded, where_ + ": a " + std::string(what) + " named '" + first_bytes(path_) +
                                                  "' has a name longer than " + std::to_string(limits_.max_name_bytes) +
                                                  " bytes");
    return path_;
  }

  Status visit(pk::ObjectId v) {
    if (++visits_ > 4 * p_.objects.size() + 1024)
      return Error(ErrorCode::kLimitExceeded, where_ + ": the checkpoint's object graph is too large to walk");
    const pk::Kind k = p_.kind(v);
    if (k == pk::Kind::kTensor) return want_tensors_ ? add_tensor(v) : Status{};
    if (k == pk::Kind::kDict || k == pk::Kind::kList || k == pk::Kind::kTuple) {
      if (k != pk::Kind::kDict) {
        OWF_ASSIGN_OR_RETURN(const bool scalars, is_scalar_sequence(v));
        if (scalars) return want_values_ ? add_value(v) : Status{};
      }
      if (frames_.size() >= kMaxNesting)
        return Error(ErrorCode::kLimitExceeded,
                     where_ + ": containers nested deeper than " + std::to_string(kMaxNesting) + " levels");
      if (on_path_[v])
        return Error(ErrorCode::kForeignFormatInvalid,
                     where_ + ": the checkpoint contains a reference cycle at '" + first_bytes(path_) + "'");
      on_path_[v] = 1;
      frames_.push_back(Frame{v, 0, path_.size(), overlong_});
      return {};
    }
    return want_values_ ? add_value(v) : Status{};
  }

  // Lists of numbers, bools or strings become one value. The arena no
  // longer changes, so the answer is kept per object.
  Result<bool> is_scalar_sequence(pk::ObjectId v) {
    if (scalar_sequence_[v] >= 0) return scalar_sequence_[v] == 1;
    const auto& items = p_.sequence(v);
    OWF_RETURN_IF_ERROR(charge(items.size()));
    bool scalars = true;
    if (!items.empty()) {
      const pk::Kind first = p_.kind(items[0]);
      const bool first_number = first == pk::Kind::kInt || first == pk::Kind::kFloat;
      for (pk::ObjectId item : items) {
        const pk::Kind k = p_.kind(item);
        const bool number = k == pk::Kind::kInt || k == pk::Kind::kFloat;
        if (!(k == first || (number && first_number)) || (!number && k != pk::Kind::kBool && k != pk::Kind::kString)) {
          scalars = false;
          break;
        }
      }
    }
    scalar_sequence_[v] = scalars ? 1 : 0;
    return scalars;
  }

  Status add_tensor(pk::ObjectId v) {
    OWF_ASSIGN_OR_RETURN(std::string name, this->name("tensor"));
    if (auto s = check_tensor_name(name, limits_); !s.ok())
      return Error(s.code(), where_ + ": tensor '" + first_bytes(name) + "': " + s.error().message());
    if (result.tensors.size() >= limits_.max_tensors)
      return Error(ErrorCode::kLimitExceeded,
                   where_ + ": more than " + std::to_string(limits_.max_tensors) + " tensors");
    if (!tensor_names_.insert(name).second)
      return Error(ErrorCode::kDuplicateTensorName, where_ + ": two tensors are named '" + name + "'");
    result.tensors.emplace_back(std::move(name), v);
    return {};
  }

  Status add_value(pk::ObjectId v) {
    Value value;
    const pk::Object& o = p_.at(v);
    switch (o.kind) {
      case pk::Kind::kBool:
        value = Value(o.i != 0);
        break;
      case pk::Kind::kInt:
        value = Value(o.i);
        break;
      case pk::Kind::kFloat:
        value = Value(o.f);
        break;
      case pk::Kind::kString:
        OWF_RETURN_IF_ERROR(charge(p_.text(v).size()));
        value = Value(p_.text(v));
        break;
      case pk::Kind::kGlobal:
        value = Value(p_.global(v).name);
        break;
      case pk::Kind::kList:
      case pk::Kind::kTuple: {
        const auto& items = p_.sequence(v);
        OWF_RETURN_IF_ERROR(charge(sizeof(double) * items.size()));  // the bytes the value will hold
        const pk::Kind first = items.empty() ? pk::Kind::kInt : p_.kind(items[0]);
        bool any_float = false;
        for (auto item : items) any_float |= p_.kind(item) == pk::Kind::kFloat;
        if (first == pk::Kind::kString) {
          std::vector<std::string> xs;
          for (auto item : items) {
            OWF_RETURN_IF_ERROR(charge(sizeof(std::string) + p_.text(item).size()));
            xs.push_back(p_.text(item));
          }
          value = Value(std::move(xs));
        } else if (first == pk::Kind::kBool) {
          std::vector<bool> xs;
          for (auto item : items) xs.push_back(p_.at(item).i != 0);
          value = Value(std::move(xs));
        } else if (any_float) {
          std::vector<double> xs;
          for (auto item : items)
            xs.push_back(p_.kind(item) == pk::Kind::kFloat ? p_.at(item).f : static_cast<double>(p_.at(item).i));
          value = Value(std::move(xs));
        } else {
          std::vector<std::int64_t> xs;
          for (auto item : items) xs.push_back(p_.at(item).i);
          value = Value(std::move(xs));
        }
        break;
      }
      default:
        return {};  // None, bytes, big integers, bare storages: not model information
    }
    OWF_ASSIGN_OR_RETURN(const std::string name, this->name("value"));
    if (auto* s = std::get_if<std::string>(&value.data); s && !is_valid_utf8(*s))
      return Error(ErrorCode::kBadUtf8, where_ + ": the string at '" + first_bytes(name) + "' is not valid UTF-8");
    if (auto* xs = std::get_if<std::vector<std::string>>(&value.data))
      for (const auto& s : *xs)
        if (!is_valid_utf8(s))
          return Error(ErrorCode::kBadUtf8, where_ + ": a string at '" + first_bytes(name) + "' is not valid UTF-8");
    if (!is_valid_utf8(name)) return Error(ErrorCode::kBadUtf8, where_ + ": a key is not valid UTF-8");
    ModelInfo& info = result.info;
    if (info.hyperparameters.size() + info.metadata.size() >= limits_.max_metadata_entries)
      return Error(ErrorCode::kLimitExceeded,
                   where_ + ": more than " + std::to_string(limits_.max_metadata_entries) + " plain values");
    const std::string key = name.empty() ? "value" : name;
    if (validate_hyperparameter_key(key).ok()) {
      if (!info.hyperparameters.emplace(key, std::move(value)).second)
        return Error(ErrorCode::kForeignFormatInvalid, where_ + ": two values are named '" + key + "'");
    } else {
      if (!info.metadata.emplace("pytorch.value." + key, value_to_string(value)).second)
        return Error(ErrorCode::kForeignFormatInvalid, where_ + ": two values are named '" + key + "'");
    }
    return {};
  }

  const pk::Pickle& p_;
  const Limits& limits_;
  const std::string& where_;
  const std::uint64_t work_budget_;
  std::uint64_t work_ = 0;
  std::uint64_t visits_ = 0;
  std::vector<std::uint8_t> on_path_;
  std::vector<std::int8_t> scalar_sequence_;  // -1: not known yet
  std::vector<Frame> frames_;
  std::string path_;
  bool overlong_ = false;
  bool want_tensors_ = false;
  bool want_values_ = false;
  std::unordered_set<std::string> tensor_names_;
};

// Finds the sub-object a --select key names: a key of the root dict, or a
// dotted path through nested dicts (longest matching key first).
Result<pk::ObjectId> resolve_select(const pk::Pickle& p, pk::ObjectId root, std::string_view select,
                                    const std::string& where) {
  pk::ObjectId node = root;
  std::string_view rest = select;
  std::string walked;
  while (!rest.empty()) {
    const pk::Kind k = p.kind(node);
    if (k != pk::Kind::kDict && k != pk::Kind::kList && k != pk::Kind::kTuple)
      return Error(ErrorCode::kNotFound, where + ": --select '" + std::string(select) + "': '" + walked + "' is a " +
                                             std::string(pk::kind_name(k)) + ", not a dict");
    bool found = false;
    // Candidate keys: the whole rest, then shorter prefixes ending before a dot.
    for (std::size_t len = rest.size(); len > 0 && !found;) {
      const std::string_view candidate = rest.substr(0, len);
      if (k == pk::Kind::kDict) {
        for (const auto& [key, value] : p.dict(node)) {
          const bool match = (p.kind(key) == pk::Kind::kString && p.text(key) == candidate) ||
                             (p.kind(key) == pk::Kind::kInt && std::to_string(p.at(key).i) == candidate);
          if (match) {
            node = value;
            found = true;
            break;
          }
        }
      } else {
        const auto& items = p.sequence(node);
        for (std::size_t i = 0; i < items.size() && !found; ++i)
          if (std::to_string(i) == candidate) {
            node = items[i];
            found = true;
          }
      }
      if (found) {
        walked += (walked.empty() ? "" : ".") + std::string(candidate);
        rest.remove_prefix(len);
        if (!rest.empty()) rest.remove_prefix(1);  // the dot
        break;
      }
      const std::size_t dot = candidate.rfind('.');
      len = dot == std::string_view::npos ? 0 : dot;
    }
    if (!found) {
      std::string keys;
      if (k == pk::Kind::kDict) {
        std::size_t shown = 0;
        for (const auto& [key, value] : p.dict(node)) {
          if (p.kind(key) != pk::Kind::kString) continue;
          if (shown++ == 10) {
            keys += ", ...";
            break;
          }
          keys += (keys.empty() ? "" : ", ") + p.text(key).substr(0, 100);
        }
      }
      return Error(ErrorCode::kNotFound, where + ": --select '" + std::string(select) + "': no key '" +
                                             std::string(rest) + "'" +
                                             (walked.empty() ? "" : " under '" + walked + "'") +
                                             (keys.empty() ? "" : " (keys: " + keys + ")"));
    }
  }
  return node;
}

}  // namespace

Result<FlatCheckpoint> flatten_checkpoint(const pickle::Pickle& p, pickle::ObjectId root, std::uint64_t pickle_bytes,
                                          std::string_view select, const Limits& limits, const std::string& where) {
  Flattener flat(p, limits, where, pickle_bytes);
  if (select.empty()) {
    OWF_RETURN_IF_ERROR(flat.walk(root, p.kind(root) == pk::Kind::kTensor ? "tensor" : "", true, true));
  } else {
    OWF_ASSIGN_OR_RETURN(pk::ObjectId node, resolve_select(p, root, select, where));
    OWF_RETURN_IF_ERROR(flat.walk(root, "", false, true));
    OWF_RETURN_IF_ERROR(flat.walk(node, p.kind(node) == pk::Kind::kTensor ? select : "", true, false));
  }
  return std::move(flat.result);
}

}  // namespace owf::internal
