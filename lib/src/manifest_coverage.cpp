#include "manifest_coverage.hpp"

#include <flatbuffers/minireflect.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "owf_generated.h"
#include "rules.hpp"

namespace owf::internal {
namespace {

using flatbuffers::ElementaryType;
using flatbuffers::TypeTable;

constexpr std::uint32_t kRootAndIdentifier = 8;  // root uoffset + "OWF1"

std::string range(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// Where the walk is, for messages: "tensors[3].shape".
struct Step {
  const char* field;
  std::int64_t index;  // -1: not a vector element
};

class CoverageWalk {
 public:
  CoverageWalk(std::span<const std::byte> bytes, const CoverageOptions& options)
      : data_(reinterpret_cast<const std::uint8_t*>(bytes.data())),
        size_(bytes.size()),
        options_(options),
        owned_((bytes.size() + 63) / 64, 0) {}

  Status run() {
    OWF_RETURN_IF_ERROR(claim(0, kRootAndIdentifier, "the root offset and file identifier"));
    OWF_RETURN_IF_ERROR(walk_table(u32(0), owf::fb::ManifestTypeTable()));
    // Objects reached through fields or union members this reader does not
    // know were not walked; their bytes cannot be told from hidden ones.
    if (unwalked_) return {};
    return check_unowned_bytes();
  }

 private:
  std::uint32_t u32(std::uint64_t at) const {
    std::uint32_t v;
    std::memcpy(&v, data_ + at, 4);
    return v;
  }
  std::uint16_t u16(std::uint64_t at) const {
    std::uint16_t v;
    std::memcpy(&v, data_ + at, 2);
    return v;
  }

  std::string path() const {
    std::string out = "manifest";
    for (const Step& s : path_) {
      out.append(".").append(s.field);
      if (s.index >= 0) out.append("[").append(std::to_string(s.index)).append("]");
    }
    return out;
  }

  Error invalid(const std::string& what) const {
    return Error(ErrorCode::kManifestInvalid, path() + ": " + what + " (rule R35)");
  }

  // Marks [begin, begin + length) as belonging to one object; fails if any
  // byte already belongs to another.
  Status claim(std::uint64_t begin, std::uint64_t length, const char* what) {
    if (length == 0) return {};
    if (begin > size_ || length > size_ - begin)
      return invalid(std::string(what) + " at manifest bytes " + range(begin, begin + length) +
                     " runs past the manifest's " + std::to_string(size_) + " bytes");
    const std::uint64_t end = begin + length;
    for (std::uint64_t word = begin / 64; word <= (end - 1) / 64; ++word) {
      const unsigned lo = word == begin / 64 ? static_cast<unsigned>(begin % 64) : 0;
      const unsigned hi = word == (end - 1) / 64 ? static_cast<unsigned>((end - 1) % 64) : 63;
      const std::uint64_t mask = (hi - lo == 63 ? ~0ull : ((1ull << (hi - lo + 1)) - 1)) << lo;
      if ((owned_[word] & mask) != 0) {
        const auto first = word * 64 + static_cast<std::uint64_t>(__builtin_ctzll(owned_[word] & mask));
        return invalid(std::string(what) + " at manifest bytes " + range(begin, end) + " shares byte " +
                       std::to_string(first) +
                       " with another object: every table, vector and string must be reached by exactly one offset");
      }
      owned_[word] |= mask;
    }
    return {};
  }

  static std::uint64_t inline_size(flatbuffers::TypeCode code, const TypeTable* ref) {
    return flatbuffers::InlineSize(static_cast<ElementaryType>(code.base_type), ref);
  }

  Status walk_string(std::uint64_t at) { return claim(at, 4ull + u32(at) + 1, "a string"); }

  Status walk_vector(std::uint64_t at, flatbuffers::TypeCode code, const TypeTable* ref) {
    const auto type = static_cast<ElementaryType>(code.base_type);
    const std::uint64_t count = u32(at);
    const std::uint64_t element = inline_size(code, ref);
    OWF_RETURN_IF_ERROR(claim(at, 4 + count * element, "a vector"));
    const bool of_offsets =
        type == flatbuffers::ET_STRING || (type == flatbuffers::ET_SEQUENCE && ref->st == flatbuffers::ST_TABLE);
    if (!of_offsets) return {};
    for (std::uint64_t i = 0; i < count; ++i) {
      path_.back().index = static_cast<std::int64_t>(i);
      const std::uint64_t slot = at + 4 + 4 * i;
      const std::uint64_t target = slot + u32(slot);
      OWF_RETURN_IF_ERROR(type == flatbuffers::ET_STRING ? walk_string(target) : walk_table(target, ref));
    }
    path_.back().index = -1;
    return {};
  }

  struct Field {
    std::uint64_t begin, end;  // relative to the table
  };

  Status walk_table(std::uint64_t at, const TypeTable* table) {
    // The vtable: shared by tables of one shape, claimed by the first.
    const auto soffset = static_cast<std::int32_t>(u32(at));
    const std::uint64_t vtable = static_cast<std::uint64_t>(static_cast<std::int64_t>(at) - soffset);
    const std::uint16_t vtable_size = u16(vtable);
    if (vtable_size < 4)
      return invalid("a vtable of " + std::to_string(vtable_size) + " bytes at manifest byte " +
                     std::to_string(vtable) + " is shorter than its 4-byte header");
    const std::uint16_t object_size = u16(vtable + 2);
    if (object_size < 4)
      return invalid("a table at manifest byte " + std::to_string(at) + " declares " + std::to_string(object_size) +
                     " bytes, less than its 4-byte vtable offset");
    if (vtables_.insert(static_cast<std::uint32_t>(vtable)).second)
      OWF_RETURN_IF_ERROR(claim(vtable, vtable_size, "a vtable"));
    OWF_RETURN_IF_ERROR(claim(at, object_size, "a table"));

    const std::size_t slots = (vtable_size - 4) / 2;
    std::vector<Field> fields;
    bool unknown_inline = false;
    for (std::size_t i = 0; i < slots; ++i) {
      const std::uint16_t offset = u16(vtable + 4 + 2 * i);
      if (offset == 0) continue;
      if (i >= table->num_elems) {
        if (!options_.newer_minor)
          return invalid("field " + std::to_string(i) + " is not in this version's schema (the table has " +
                         std::to_string(table->num_elems) + " fields)");
        unknown_inline = true;
        unwalked_ = true;
        continue;
      }
      if (table == owf::fb::ManifestTypeTable() && manifest_field_since(i) > options_.file_minor)
        return invalid("field '" + std::string(table->names[i]) + "' is not in version 1." +
                       std::to_string(options_.file_minor) + "'s schema (it came with 1." +
                       std::to_string(manifest_field_since(i)) + ")");
      const flatbuffers::TypeCode code = table->type_codes[i];
      const TypeTable* ref = code.sequence_ref >= 0 ? table->type_refs[code.sequence_ref]() : nullptr;
      const std::uint64_t size = code.is_repeating ? 4 : inline_size(code, ref);
      if (offset < 4 || offset + size > object_size)
        return invalid("field '" + std::string(table->names[i]) + "' at table offset " + std::to_string(offset) +
                       " lies outside its table of " + std::to_string(object_size) + " bytes");
      fields.push_back({offset, offset + size});
    }
    std::sort(fields.begin(), fields.end(), [](const Field& a, const Field& b) { return a.begin < b.begin; });
    for (std::size_t k = 1; k < fields.size(); ++k)
      if (fields[k].begin < fields[k - 1].end)
        return invalid("two fields of one table overlap at table offset " + std::to_string(fields[k].begin));
    // Table bytes outside every field are alignment padding: zero.
    if (!unknown_inline) {
      std::uint64_t cursor = 4;
      auto check_zero = [&](std::uint64_t from, std::uint64_t to) -> Status {
        for (std::uint64_t b = from; b < to; ++b)
          if (data_[at + b] != 0)
            return invalid("table byte " + std::to_string(b) + " (manifest byte " + std::to_string(at + b) +
                           ") belongs to no field and is not zero");
        return {};
      };
      for (const Field& f : fields) {
        OWF_RETURN_IF_ERROR(check_zero(cursor, f.begin));
        cursor = f.end;
      }
      OWF_RETURN_IF_ERROR(check_zero(cursor, object_size));
    }

    // Objects the fields point at.
    for (std::size_t i = 0; i < std::min<std::size_t>(slots, table->num_elems); ++i) {
      const std::uint16_t offset = u16(vtable + 4 + 2 * i);
      if (offset == 0) continue;
      const flatbuffers::TypeCode code = table->type_codes[i];
      const auto type = static_cast<ElementaryType>(code.base_type);
      const TypeTable* ref = code.sequence_ref >= 0 ? table->type_refs[code.sequence_ref]() : nullptr;
      const std::uint64_t slot = at + offset;
      path_.push_back({table->names[i], -1});
      Status s;
      if (code.is_repeating) {
        s = walk_vector(slot + u32(slot), code, ref);
      } else if (type == flatbuffers::ET_STRING) {
        s = walk_string(slot + u32(slot));
      } else if (type == flatbuffers::ET_SEQUENCE && ref->st == flatbuffers::ST_TABLE) {
        s = walk_table(slot + u32(slot), ref);
      } else if (type == flatbuffers::ET_SEQUENCE && ref->st == flatbuffers::ST_UNION) {
        s = walk_union_member(at, vtable, i, slot + u32(slot), ref);
      }
      path_.pop_back();
      OWF_RETURN_IF_ERROR(s);
    }
    return {};
  }

  // A union value's table; its type is the field before it (FlatBuffers
  // stores `x_type` then `x`). An unknown type is left to the rule that
  // refuses it (R25); its bytes are then not walked.
  Status walk_union_member(std::uint64_t table_at, std::uint64_t vtable, std::size_t value_field, std::uint64_t target,
                           const TypeTable* unions) {
    std::uint8_t type = 0;
    if (value_field > 0) {
      const std::uint16_t type_offset = u16(vtable + 4 + 2 * (value_field - 1));
      if (type_offset != 0) type = data_[table_at + type_offset];
    }
    if (type == 0 || type >= unions->num_elems) {
      unwalked_ = true;
      return {};
    }
    const flatbuffers::TypeCode member = unions->type_codes[type];
    if (member.sequence_ref < 0) {
      unwalked_ = true;
      return {};
    }
    return walk_table(target, unions->type_refs[member.sequence_ref]());
  }

  Status check_unowned_bytes() const {
    for (std::uint64_t word = 0; word < owned_.size(); ++word) {
      if (owned_[word] == ~0ull) continue;
      for (std::uint64_t b = word * 64; b < std::min<std::uint64_t>(size_, word * 64 + 64); ++b)
        if ((owned_[word] >> (b % 64) & 1) == 0 && data_[b] != 0)
          return Error(ErrorCode::kManifestInvalid,
                       "manifest byte " + std::to_string(b) +
                           " belongs to no table, vector or string and is not zero: hidden content (rule R35)");
    }
    return {};
  }

  const std::uint8_t* data_;
  std::uint64_t size_;
  CoverageOptions options_;
  std::vector<std::uint64_t> owned_;  // one bit per manifest byte
  std::unordered_set<std::uint32_t> vtables_;
  std::vector<Step> path_;
  bool unwalked_ = false;
};

}  // namespace

Status check_manifest_coverage(std::span<const std::byte> manifest, const CoverageOptions& options) {
  return CoverageWalk(manifest, options).run();
}

}  // namespace owf::internal
