#include "validate.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "codec.hpp"
#include "rules.hpp"
#include "sha256.hpp"

namespace owf::internal {
namespace {

std::string range(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

std::string tensor_label(const TensorInfo& t) { return "tensor '" + std::string(t.name.substr(0, 200)) + "'"; }

// R1-R9 (format.md §8): size, header, footer, manifest location; then the
// manifest is read (R10, its digest, is check_manifest_digest).
Status check_framing(const ByteSource& source, const Limits& limits, ValidatedFile& out) {
  const std::uint64_t size = source.size();
  if (size < kHeaderSize + kFooterSize)
    return Error(ErrorCode::kTruncated, "file is " + std::to_string(size) + " bytes; an OWF file has at least " +
                                            std::to_string(kHeaderSize + kFooterSize));
  std::array<std::byte, kHeaderSize> header{};
  OWF_RETURN_IF_ERROR(source.read_at(0, header));
  OWF_ASSIGN_OR_RETURN(out.version, decode_header(header));
  const std::uint64_t footer_at = size - kFooterSize;
  std::array<std::byte, kFooterSize> footer{};
  OWF_RETURN_IF_ERROR(source.read_at(footer_at, footer));
  OWF_ASSIGN_OR_RETURN(out.footer, decode_footer(footer, footer_at));
  const Footer& f = out.footer;
  if (f.version.major != out.version.major || f.version.minor != out.version.minor)
    return Error(ErrorCode::kVersionMismatch,
                 "header says version " + std::to_string(out.version.major) + "." + std::to_string(out.version.minor) +
                     ", footer says " + std::to_string(f.version.major) + "." + std::to_string(f.version.minor));
  OWF_RETURN_IF_ERROR(check_manifest_size(f.manifest_length, limits));
  // The manifest must end exactly where the footer begins, so no byte after
  // the data section is unaccounted for.
  if (f.manifest_offset < kHeaderSize || f.manifest_offset % kManifestAlignment != 0 || f.manifest_length > footer_at ||
      f.manifest_offset != footer_at - f.manifest_length)
    return Error(ErrorCode::kManifestOutOfRange,
                 "footer places the manifest at " + range(f.manifest_offset, f.manifest_offset + f.manifest_length) +
                     "; it must be 8-aligned, after the header and end at the footer (offset " +
                     std::to_string(footer_at) + ")");
  // The length is inside the file (checked just above), so this allocation
  // is backed by bytes that exist.
  out.manifest_storage.resize(static_cast<std::size_t>((f.manifest_length + 7) / 8));
  auto manifest =
      std::as_writable_bytes(std::span(out.manifest_storage)).first(static_cast<std::size_t>(f.manifest_length));
  OWF_RETURN_IF_ERROR(source.read_at(f.manifest_offset, manifest));
  out.manifest_bytes = manifest;
  return {};
}

// R10, given the SHA-256 of the manifest bytes as they are in the file.
Status check_manifest_digest(const Sha256Digest& digest, const Footer& f, std::string_view when = {}) {
  if (digest != f.manifest_sha256)
    return Error(ErrorCode::kManifestDigestMismatch,
                 "SHA-256 of the manifest at " + range(f.manifest_offset, f.manifest_offset + f.manifest_length) +
                     (when.empty() ? " does not match the footer (offset " +
                                         std::to_string(f.manifest_offset + f.manifest_length + 16) + ")"
                                   : std::string(when)));
  return {};
}

// Reads the padding between tensors in windows: neighbouring gaps share one
// read, so a file of many small tensors costs a few large reads, and a file
// of large tensors one small read per gap.
class PaddingReader {
 public:
  /// `read`: false leaves the padding unread (check() finds nothing).
  PaddingReader(const ByteSource& source, bool read) : source_(source), read_(read) {}

  struct Gap {
    std::uint64_t begin, end;
    const TensorInfo* before;  // the tensor the gap precedes; nullptr: the manifest
  };

  void add(std::uint64_t begin, std::uint64_t end, const TensorInfo* before) {
    if (begin < end) gaps_.push_back({begin, end, before});
  }

  Status check() const {
    if (!read_) return {};
    constexpr std::uint64_t kWindow = 256u << 10;
    std::vector<std::byte> buffer;
    for (std::size_t i = 0; i < gaps_.size();) {
      // Gaps [i, j) are read together: they fit in one window.
      std::size_t j = i + 1;
      while (j < gaps_.size() && gaps_[j].end - gaps_[i].begin <= kWindow) ++j;
      const std::uint64_t base = gaps_[i].begin;
      buffer.resize(static_cast<std::size_t>(gaps_[j - 1].end - base));
      OWF_RETURN_IF_ERROR(source_.read_at(base, buffer));
      for (std::size_t k = i; k < j; ++k)
        for (std::uint64_t at = gaps_[k].begin; at < gaps_[k].end; ++at)
          if (buffer[at - base] != std::byte{0})
            return Error(ErrorCode::kNonZeroPadding,
                         "padding byte at offset " + std::to_string(at) + " " +
                             (gaps_[k].before ? "before " + tensor_label(*gaps_[k].before) : "before the manifest") +
                             " is not zero");
      i = j;
    }
    return {};
  }

 private:
  const ByteSource& source_;
  bool read_;
  std::vector<Gap> gaps_;
};

// Steps 7 and 8 of format.md §8's check order: R29-R30 tensor by tensor in
// manifest order (inside the data section, chunk tables), then R31-R33 in
// offset order (disjoint, packed with minimal zero padding, the manifest
// right after the last tensor). `read_padding`: false checks the layout
// without reading the padding bytes (R33), as open does for a
// remote file, where each gap would cost a request; verify reads them.
Status check_data_section(const ByteSource& source, const ValidatedFile& v, const Limits& limits, bool read_padding) {
  const auto& tensors = v.manifest.tensors;
  const std::uint64_t data_end = v.footer.manifest_offset;
  const std::uint64_t alignment = v.manifest.alignment;
  std::vector<std::uint32_t> order;
  order.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    if (t.stored_bytes == 0) continue;
    std::uint64_t end = 0;
    if (t.offset < kHeaderSize || __builtin_add_overflow(t.offset, t.stored_bytes, &end) || end > data_end)
      return Error(ErrorCode::kTensorOutOfRange, tensor_label(t) + " at " + range(t.offset, t.offset + t.stored_bytes) +
                                                     " lies outside the data section " + range(kHeaderSize, data_end));
    if (t.codec != Codec::kNone) OWF_RETURN_IF_ERROR(check_chunk_table(t, v.manifest.chunk_tables[i], limits));
    order.push_back(static_cast<std::uint32_t>(i));
  }
  // Writers usually store tensors in name order, so the sort is mostly skipped.
  const auto by_offset = [&](std::uint32_t a, std::uint32_t b) { return tensors[a].offset < tensors[b].offset; };
  if (!std::is_sorted(order.begin(), order.end(), by_offset)) std::sort(order.begin(), order.end(), by_offset);

  PaddingReader padding(source, read_padding);
  std::uint64_t cursor = kHeaderSize;
  const TensorInfo* previous = nullptr;
  for (std::uint32_t index : order) {
    const TensorInfo& t = tensors[index];
    // The padding before earlier tensors comes first in the check order
    // (format.md §8 step 8), so it is checked before either error is returned.
    if (t.offset < cursor) {
      OWF_RETURN_IF_ERROR(padding.check());
      return Error(ErrorCode::kTensorOverlap, tensor_label(t) + " at " + range(t.offset, t.offset + t.stored_bytes) +
                                                  " overlaps " + (previous ? tensor_label(*previous) : "the header") +
                                                  " ending at " + std::to_string(cursor));
    }
    const std::uint64_t expected = align_up(cursor, alignment);
    if (t.offset != expected) {
      OWF_RETURN_IF_ERROR(padding.check());
      return Error(ErrorCode::kUncoveredBytes,
                   "bytes " + range(expected, t.offset) + " before " + tensor_label(t) + " belong to no tensor");
    }
    padding.add(cursor, t.offset, &t);
    cursor = t.offset + t.stored_bytes;
    previous = &t;
  }
  const std::uint64_t manifest_expected = align_up(cursor, kManifestAlignment);
  if (data_end != manifest_expected) {
    OWF_RETURN_IF_ERROR(padding.check());
    return Error(ErrorCode::kUncoveredBytes,
                 "bytes " + range(manifest_expected, data_end) + " before the manifest belong to no tensor");
  }
  padding.add(cursor, data_end, nullptr);
  return padding.check();
}

}  // namespace

Status recheck_unhashed_bytes(const ByteSource& source, const ValidatedFile& validated, const Limits& limits) {
  const Footer& f = validated.footer;
  OWF_ASSIGN_OR_RETURN(std::vector<std::byte> now,
                       read_range_checked(source, f.manifest_offset, f.manifest_length, "the manifest"));
  OWF_RETURN_IF_ERROR(
      check_manifest_digest(sha256(now), f, " no longer matches the footer: the file changed after open"));
  return check_data_section(source, validated, limits, true);
}

Result<ValidatedFile> validate_file(const ByteSource& source, const Limits& limits) {
  ValidatedFile out;
  OWF_RETURN_IF_ERROR(check_framing(source, limits, out));
  // Large manifests (many tensors) are hashed on a second thread while this
  // one decodes them, which takes about as long; opening a 100,000-tensor
  // file costs the longer of the two instead of their sum. Decoding is safe
  // on unverified bytes (it trusts nothing), and a digest mismatch is still
  // the error reported, as step 4 comes first.
  constexpr std::uint64_t kParallelDigestBytes = 1u << 20;
  const auto stored = out.manifest_bytes;
  if (stored.size() >= kParallelDigestBytes && std::thread::hardware_concurrency() > 1) {
    Sha256Digest digest{};
    std::thread hasher([&] { digest = sha256(stored); });
    auto decoded = decode_manifest(stored, limits, out.version.minor);
    hasher.join();
    OWF_RETURN_IF_ERROR(check_manifest_digest(digest, out.footer));
    OWF_ASSIGN_OR_RETURN(out.manifest, std::move(decoded));
  } else {
    OWF_RETURN_IF_ERROR(check_manifest_digest(sha256(stored), out.footer));
    OWF_ASSIGN_OR_RETURN(out.manifest, decode_manifest(stored, limits, out.version.minor));
  }
  OWF_RETURN_IF_ERROR(check_data_section(source, out, limits, !source.remote()));
  return out;
}

}  // namespace owf::internal
