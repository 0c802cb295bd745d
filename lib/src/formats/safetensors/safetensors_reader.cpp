// safetensors reader (spec/interchange.md, safetensors "Reading"): the
// length and the JSON header are read through a ByteCursor, the whole
// layout is validated at open, and the tensors are byte ranges of the file
// read with read_at() (nothing is mapped).
#include <algorithm>
#include <string>

#include "formats/byte_range_source.hpp"
#include "formats/formats.hpp"
#include "formats/safetensors/safetensors_format.hpp"
#include "formats/safetensors/safetensors_header.hpp"
#include "formats/safetensors/safetensors_metadata.hpp"
#include "io/byte_cursor.hpp"
#include "utf8.hpp"

namespace owf::internal {

namespace {

using namespace safetensors;

// Length and header are read through this window: a remote source gets
// most headers in its first request.
constexpr std::size_t kLocalWindow = 64u << 10;
constexpr std::size_t kRemoteWindow = 1u << 20;

class SafetensorsSource final : public ByteRangeSource {
 public:
  SafetensorsSource(std::shared_ptr<const ByteSource> bytes, std::vector<RangeTensor> tensors, ModelInfo info)
      : ByteRangeSource(std::move(bytes), std::move(tensors)), info_(std::move(info)) {}
  Format format() const override { return Format::kSafetensors; }
  const ModelInfo& info() const override { return info_; }

 private:
  ModelInfo info_;
};

/// The tensors, sorted by (begin, end) (ties in header order), must tile
/// the data buffer exactly, as the reference library requires.
Status check_layout(std::vector<HeaderTensor>& tensors, std::uint64_t data_start, std::uint64_t file_size,
                    const std::string& where) {
  const auto invalid = [&](const std::string& what) { return Error(ErrorCode::kForeignFormatInvalid, where + what); };
  const std::uint64_t data_size = file_size - data_start;
  for (HeaderTensor& t : tensors) {
    const std::string tn = "tensor '" + t.name + "': ";
    if (t.begin > t.end)
      return invalid(tn + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                     "] has begin > end");
    auto count = element_count(t.shape);
    if (!count.ok()) return invalid(tn + "shape overflows: " + count.error().message());
    if (!fills_whole_bytes(*t.dtype, *count))
      return invalid(tn + std::to_string(*count) + " " + std::string(t.dtype->name) +
                     " elements do not fill whole bytes");
    auto bytes = tensor_byte_size(t.dtype->dtype, t.shape);
    if (!bytes.ok()) return invalid(tn + bytes.error().message());
    if (t.end - t.begin != *bytes)
      return invalid(tn + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] hold " +
                     std::to_string(t.end - t.begin) + " bytes but " + std::string(t.dtype->name) + " x shape needs " +
                     std::to_string(*bytes));
    if (t.end > data_size)
      return Error(ErrorCode::kTruncated, where + tn + "data_offsets end " + std::to_string(t.end) + " (file byte " +
                                              std::to_string(data_start + t.end) + ") is beyond the end of the " +
                                              std::to_string(file_size) + "-byte file");
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const HeaderTensor& a, const HeaderTensor& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  std::uint64_t expected = 0;
  const HeaderTensor* previous = nullptr;
  for (const HeaderTensor& t : tensors) {
    if (t.begin < expected)
      return invalid("tensor '" + t.name + "' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                     ") overlaps tensor '" + previous->name + "' [" + std::to_string(previous->begin) + ", " +
                     std::to_string(previous->end) + ")");
    if (t.begin > expected)
      return invalid("gap of " + std::to_string(t.begin - expected) + " bytes before tensor '" + t.name +
                     "' (data bytes [" + std::to_string(expected) + ", " + std::to_string(t.begin) +
                     ") belong to no tensor)");
    expected = t.end;
    previous = &t;
  }
  if (expected != data_size)
    return invalid("the tensors cover " + std::to_string(expected) + " of the " + std::to_string(data_size) +
                   " data bytes; the file has trailing bytes from byte " + std::to_string(data_start + expected));
  return {};
}

}  // namespace

Result<std::unique_ptr<Source>> open_safetensors(std::shared_ptr<const ByteSource> bytes, const Limits& limits) {
  const ByteSource& file = *bytes;
  const std::string where = file.name() + ": ";
  const auto invalid = [&](const std::string& what) { return Error(ErrorCode::kForeignFormatInvalid, where + what); };
  if (file.size() < 8)
    return Error(ErrorCode::kTruncated,
                 where + "file of " + std::to_string(file.size()) + " bytes is too short for a safetensors header");
  ByteCursor cursor(file, 0, file.size(), ErrorCode::kForeignFormatInvalid,
                    file.remote() ? kRemoteWindow : kLocalWindow);
  OWF_ASSIGN_OR_RETURN(const std::uint64_t n, cursor.read<std::uint64_t>("the header length"));
  if (n > kMaxHeaderBytes)
    return Error(ErrorCode::kLimitExceeded, where + "header length " + std::to_string(n) + " exceeds the limit of " +
                                                std::to_string(kMaxHeaderBytes) + " bytes");
  if (n > limits.max_manifest_bytes)
    return Error(ErrorCode::kLimitExceeded, where + "header length " + std::to_string(n) +
                                                " exceeds the manifest limit of " +
                                                std::to_string(limits.max_manifest_bytes) + " bytes");
  if (n > file.size() - 8)
    return Error(ErrorCode::kTruncated, where + "header length " + std::to_string(n) + " runs past the end of the " +
                                            std::to_string(file.size()) + "-byte file");
  if (n == 0) return invalid("empty header");
  Header header;
  {
    OWF_ASSIGN_OR_RETURN(const std::string text, cursor.read_string(n, kMaxHeaderBytes, "the header"));
    if (const auto bad = find_invalid_utf8(text); bad != std::string_view::npos)
      return invalid("header is not UTF-8 (invalid sequence at file byte " + std::to_string(8 + bad) + ")");
    if (text.front() != '{') return invalid("header does not start with '{'");
    auto parsed = parse_header(text, limits);
    if (!parsed.ok()) return Error(parsed.code(), where + parsed.error().message());
    header = std::move(*parsed);
  }

  const std::uint64_t data_start = 8 + n;
  OWF_RETURN_IF_ERROR(check_layout(header.tensors, data_start, file.size(), where));
  auto info = decode_model_info(std::move(header.metadata));
  if (!info.ok()) return Error(info.code(), where + info.error().message());

  std::vector<RangeTensor> tensors;
  tensors.reserve(header.tensors.size());
  for (HeaderTensor& t : header.tensors) {
    RangeTensor r;
    r.info.dtype = t.dtype->dtype;
    r.info.role = infer_role(t.name);
    r.info.offset = data_start + t.begin;
    r.info.logical_bytes = t.end - t.begin;
    r.info.element_count = element_count(t.shape).value();
    r.name = std::move(t.name);
    r.shape = std::move(t.shape);
    tensors.push_back(std::move(r));
  }
  return std::unique_ptr<Source>(
      std::make_unique<SafetensorsSource>(std::move(bytes), std::move(tensors), std::move(*info)));
}

Result<std::unique_ptr<Source>> open_safetensors(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(auto bytes, open_file_source(path));
  return open_safetensors(std::move(bytes), limits);
}

}  // namespace owf::internal
