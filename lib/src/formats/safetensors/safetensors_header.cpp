#include "formats/safetensors/safetensors_header.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "rules.hpp"

namespace owf::internal::safetensors {

namespace {

using Json = nlohmann::json;

class HeaderSax final : public nlohmann::json_sax<Json> {
 public:
  HeaderSax(const Limits& limits, Header& out) : limits_(limits), out_(out) {}
  const std::string& error() const { return error_; }
  ErrorCode error_code() const { return code_; }

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t) override { return scalar("a negative number"); }
  bool number_float(number_float_t, const string_t&) override { return scalar("a non-integer number"); }
  bool binary(binary_t&) override { return scalar("binary data"); }

  bool number_unsigned(number_unsigned_t v) override {
    if (state_ == State::kShape) {
      HeaderTensor& t = out_.tensors.back();
      if (t.shape.size() >= limits_.max_rank)
        return limit("tensor '" + t.name + "': shape has more than " + std::to_string(limits_.max_rank) +
                     " dimensions");
      t.shape.push_back(v);
      return true;
    }
    if (state_ == State::kOffsets) {
      HeaderTensor& t = out_.tensors.back();
      if (t.offsets_seen == 0)
        t.begin = v;
      else if (t.offsets_seen == 1)
        t.end = v;
      else
        return fail("tensor '" + t.name + "': data_offsets has more than 2 entries");
      ++t.offsets_seen;
      return true;
    }
    return scalar("a number");
  }

  bool string(string_t& s) override {
    if (state_ == State::kMetaValue) {
      if (s.size() > limits_.max_string_bytes)
        return limit("__metadata__ value for '" + out_.metadata.back().first + "' exceeds " +
                     std::to_string(limits_.max_string_bytes) + " bytes");
      out_.metadata.back().second = std::move(s);
      state_ = State::kMeta;
      return true;
    }
    if (state_ == State::kTensorValue && field_ == "dtype") {
      HeaderTensor& t = out_.tensors.back();
      t.dtype = dtype_by_name(s);
      if (t.dtype == nullptr) {
        if (s == "F8_E4M3FNUZ" || s == "F8_E5M2FNUZ")
          return fail("tensor '" + t.name + "': dtype " + s + " has no OWF equivalent",
                      ErrorCode::kForeignFormatUnsupported);
        return fail("tensor '" + t.name + "': unknown dtype \"" + s + "\"");
      }
      t.has_dtype = true;
      state_ = State::kTensor;
      return true;
    }
    return scalar("a string");
  }

  bool start_object(std::size_t) override {
    switch (state_) {
      case State::kStart:
        state_ = State::kTop;
        return true;
      case State::kMetaStart:
        state_ = State::kMeta;
        return true;
      case State::kTensorStart:
        state_ = State::kTensor;
        return true;
      default:
        return scalar("an object");
    }
  }

  // Repeated keys: tensor names are checked once the header is read
  // (duplicate_tensor_name), as a set of every name would cost more than
  // the names themselves; the few other keys are checked here.
  bool key(string_t& k) override {
    switch (state_) {
      case State::kTop:
        if (k == kMetadataKey) {
          if (out_.has_metadata) return fail(where() + "duplicate key \"" + k + "\"");
          out_.has_metadata = true;
          state_ = State::kMetaStart;
          return true;
        }
        if (out_.tensors.size() >= limits_.max_tensors)
          return limit("more than " + std::to_string(limits_.max_tensors) + " tensors");
        if (auto s = check_tensor_name(k, limits_); !s.ok())
          return fail("the name of tensor " + std::to_string(out_.tensors.size()) +
                          " (in header order): " + s.error().message(),
                      s.code());
        out_.tensors.emplace_back();
        out_.tensors.back().name = std::move(k);
        state_ = State::kTensorStart;
        return true;
      case State::kMeta:
        if (!metadata_keys_.insert(k).second) return fail(where() + "duplicate key \"" + k + "\"");
        if (out_.metadata.size() >= limits_.max_metadata_entries)
          return limit("more than " + std::to_string(limits_.max_metadata_entries) + " __metadata__ entries");
        if (k.size() > limits_.max_string_bytes)
          return limit("a __metadata__ key exceeds " + std::to_string(limits_.max_string_bytes) + " bytes");
        out_.metadata.emplace_back(std::move(k), std::string());
        state_ = State::kMetaValue;
        return true;
      case State::kTensor: {
        HeaderTensor& t = out_.tensors.back();
        if (k == "dtype") {
          if (t.has_dtype) return fail(where() + "duplicate key \"" + k + "\"");
          state_ = State::kTensorValue;
        } else if (k == "shape") {
          if (t.has_shape) return fail(where() + "duplicate key \"" + k + "\"");
          t.has_shape = true;
          state_ = State::kShapeStart;
        } else if (k == "data_offsets") {
          if (t.has_offsets) return fail(where() + "duplicate key \"" + k + "\"");
          t.has_offsets = true;
          state_ = State::kOffsetsStart;
        } else {
          return fail("tensor '" + t.name + "': unknown field \"" + k + "\"");
        }
        field_ = k;
        return true;
      }
      default:
        return fail("unexpected key \"" + k + "\"");
    }
  }

  bool end_object() override {
    switch (state_) {
      case State::kTop:
        state_ = State::kDone;
        return true;
      case State::kMeta:
        state_ = State::kTop;
        return true;
      case State::kTensor: {
        const HeaderTensor& t = out_.tensors.back();
        if (!t.has_dtype) return fail("tensor '" + t.name + "': no dtype");
        if (!t.has_shape) return fail("tensor '" + t.name + "': no shape");
        if (!t.has_offsets) return fail("tensor '" + t.name + "': no data_offsets");
        state_ = State::kTop;
        return true;
      }
      default:
        return fail("unexpected end of object");
    }
  }

  bool start_array(std::size_t) override {
    if (state_ == State::kShapeStart)
      state_ = State::kShape;
    else if (state_ == State::kOffsetsStart)
      state_ = State::kOffsets;
    else
      return scalar("an array");
    return true;
  }

  bool end_array() override {
    if (state_ == State::kOffsets && out_.tensors.back().offsets_seen != 2)
      return fail("tensor '" + out_.tensors.back().name + "': data_offsets must be [begin, end]");
    state_ = State::kTensor;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    if (error_.empty()) {
      std::string what = ex.what();
      if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
      error_ = "header is not valid JSON (near header byte " + std::to_string(position) + "): " + what;
    }
    return false;
  }

 private:
  enum class State {
    kStart,
    kTop,
    kMetaStart,
    kMeta,
    kMetaValue,
    kTensorStart,
    kTensor,
    kTensorValue,
    kShapeStart,
    kShape,
    kOffsetsStart,
    kOffsets,
    kDone
  };

  std::string where() const {
    if (state_ == State::kTop) return "header: ";
    if (state_ == State::kMeta) return "__metadata__: ";
    return "tensor '" + out_.tensors.back().name + "': ";
  }
  bool fail(std::string message, ErrorCode code = ErrorCode::kForeignFormatInvalid) {
    if (error_.empty()) {
      error_ = std::move(message);
      code_ = code;
    }
    return false;
  }
  bool limit(std::string message) { return fail(std::move(message), ErrorCode::kLimitExceeded); }
  // A value of the wrong kind, described by where the parser is.
  bool scalar(const std::string& what) {
    switch (state_) {
      case State::kStart:
        return fail("header is not a JSON object (it holds " + what + ")");
      case State::kMetaStart:
        return fail("__metadata__ must be an object of strings, not " + what);
      case State::kMetaValue:
        return fail("__metadata__ value for '" + out_.metadata.back().first + "' must be a string, not " + what);
      case State::kTensorStart:
        return fail("tensor '" + out_.tensors.back().name + "' must be an object, not " + what);
      case State::kTensorValue:
        return fail("tensor '" + out_.tensors.back().name + "': dtype must be a string, not " + what);
      case State::kShapeStart:
      case State::kShape:
        return fail("tensor '" + out_.tensors.back().name + "': shape must be a list of non-negative integers (found " +
                    what + ")");
      case State::kOffsetsStart:
      case State::kOffsets:
        return fail("tensor '" + out_.tensors.back().name +
                    "': data_offsets must be [begin, end] of non-negative integers (found " + what + ")");
      default:
        return fail("unexpected " + what + " in the header");
    }
  }

  const Limits& limits_;
  Header& out_;
  State state_ = State::kStart;
  std::string field_;
  std::unordered_set<std::string> metadata_keys_;
  std::string error_;
  ErrorCode code_ = ErrorCode::kForeignFormatInvalid;
};

// A tensor name the header holds twice, if any.
std::optional<std::string> duplicate_tensor_name(const Header& header) {
  std::vector<std::string_view> names;
  names.reserve(header.tensors.size());
  for (const HeaderTensor& t : header.tensors) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  const auto repeated = std::adjacent_find(names.begin(), names.end());
  if (repeated == names.end()) return std::nullopt;
  return std::string(*repeated);
}

}  // namespace

Result<Header> parse_header(std::string_view text, const Limits& limits) {
  Header header;
  HeaderSax sax(limits, header);
  const bool ok = Json::sax_parse(text, &sax, nlohmann::detail::input_format_t::json, /*strict=*/true);
  if (!ok || !sax.error().empty())
    return Error(sax.error_code(), sax.error().empty() ? "header is not valid JSON" : sax.error());
  if (const auto repeated = duplicate_tensor_name(header))
    return Error(ErrorCode::kForeignFormatInvalid, "header: duplicate key \"" + *repeated + "\"");
  return header;
}

}  // namespace owf::internal::safetensors
