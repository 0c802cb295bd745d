#include "validate.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "codec.hpp"
#include "sha256.hpp"

namespace owf::internal {
namespace {

std::string range(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

std::string tensor_label(const TensorInfo& t) { return "tensor '" + std::string(t.name.substr(0, 200)) + "'"; }

// Bytes in [begin, end) must be zero; names the first offender. `what()`
// describes the place and is only called on failure: open runs this once
// per tensor, and building the text eagerly dominated opening many tensors.
template <class Describe>
Status check_padding(std::span<const std::byte> file, std::uint64_t begin, std::uint64_t end, Describe&& what) {
  for (std::uint64_t i = begin; i < end; ++i)
    if (file[i] != std::byte{0})
      return Error(ErrorCode::kNonZeroPadding, "padding byte at offset " + std::to_string(i) + " " + what() + " is not zero");
  return {};
}

// Steps 1-3: size, header, footer, manifest location (step 4, the digest,
// is check_manifest_digest).
Status check_framing(std::span<const std::byte> file, const Limits& limits, ValidatedFile& out) {
  const std::uint64_t size = file.size();
  if (size < kHeaderSize + kFooterSize)
    return Error(ErrorCode::kTruncated, "file is " + std::to_string(size) + " bytes; an OWF file has at least " +
                                            std::to_string(kHeaderSize + kFooterSize));
  OWF_ASSIGN_OR_RETURN(out.version, decode_header(file.first<kHeaderSize>()));
  const std::uint64_t footer_at = size - kFooterSize;
  OWF_ASSIGN_OR_RETURN(out.footer, decode_footer(file.subspan(footer_at).first<kFooterSize>(), footer_at));
  const Footer& f = out.footer;
  if (f.version.major != out.version.major || f.version.minor != out.version.minor)
    return Error(ErrorCode::kVersionMismatch, "header says version " + std::to_string(out.version.major) + "." +
                                                  std::to_string(out.version.minor) + ", footer says " +
                                                  std::to_string(f.version.major) + "." + std::to_string(f.version.minor));
  if (f.manifest_length > limits.max_manifest_bytes)
    return Error(ErrorCode::kLimitExceeded, "manifest is " + std::to_string(f.manifest_length) +
                                                " bytes, over the limit of " + std::to_string(limits.max_manifest_bytes));
  // The manifest must end exactly where the footer begins, so no byte after
  // the data section is unaccounted for.
  if (f.manifest_offset < kHeaderSize || f.manifest_offset % kManifestAlignment != 0 ||
      f.manifest_length > footer_at || f.manifest_offset != footer_at - f.manifest_length)
    return Error(ErrorCode::kManifestOutOfRange,
                 "footer places the manifest at " + range(f.manifest_offset, f.manifest_offset + f.manifest_length) +
                     "; it must be 8-aligned, after the header and end at the footer (offset " + std::to_string(footer_at) + ")");
  auto manifest = file.subspan(f.manifest_offset, f.manifest_length);
  if (reinterpret_cast<std::uintptr_t>(manifest.data()) % kManifestAlignment != 0) {
    out.manifest_copy.assign(manifest.begin(), manifest.end());
    manifest = out.manifest_copy;
  }
  out.manifest_bytes = manifest;
  return {};
}

// Step 4, given the SHA-256 of the manifest bytes as they are in the file.
Status check_manifest_digest(const Sha256Digest& digest, const Footer& f) {
  if (digest != f.manifest_sha256)
    return Error(ErrorCode::kManifestDigestMismatch, "SHA-256 of the manifest at " +
                                                         range(f.manifest_offset, f.manifest_offset + f.manifest_length) +
                                                         " does not match the footer (offset " +
                                                         std::to_string(f.manifest_offset + f.manifest_length + 16) + ")");
  return {};
}

// Step 10: tensors inside the data section, disjoint, packed with minimal
// zero padding, and the manifest right after the last one.
Status check_data_section(std::span<const std::byte> file, const ValidatedFile& v, const Limits& limits) {
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
      return Error(ErrorCode::kTensorOutOfRange,
                   tensor_label(t) + " at " + range(t.offset, t.offset + t.stored_bytes) +
                       " lies outside the data section " + range(kHeaderSize, data_end));
    if (t.codec != Codec::kNone)
      OWF_RETURN_IF_ERROR(check_chunk_table(t, v.manifest.chunk_tables[i], limits));
    order.push_back(static_cast<std::uint32_t>(i));
  }
  // Writers usually store tensors in name order, so the sort is mostly skipped.
  const auto by_offset = [&](std::uint32_t a, std::uint32_t b) { return tensors[a].offset < tensors[b].offset; };
  if (!std::is_sorted(order.begin(), order.end(), by_offset)) std::sort(order.begin(), order.end(), by_offset);

  std::uint64_t cursor = kHeaderSize;
  const TensorInfo* previous = nullptr;
  for (std::uint32_t index : order) {
    const TensorInfo& t = tensors[index];
    if (t.offset < cursor)
      return Error(ErrorCode::kTensorOverlap, tensor_label(t) + " at " + range(t.offset, t.offset + t.stored_bytes) +
                                                  " overlaps " + (previous ? tensor_label(*previous) : "the header") +
                                                  " ending at " + std::to_string(cursor));
    const std::uint64_t expected = align_up(cursor, alignment);
    if (t.offset != expected)
      return Error(ErrorCode::kUncoveredBytes,
                   "bytes " + range(expected, t.offset) + " before " + tensor_label(t) + " belong to no tensor");
    OWF_RETURN_IF_ERROR(check_padding(file, cursor, t.offset, [&] { return "before " + tensor_label(t); }));
    cursor = t.offset + t.stored_bytes;
    previous = &t;
  }
  const std::uint64_t manifest_expected = align_up(cursor, kManifestAlignment);
  if (data_end != manifest_expected)
    return Error(ErrorCode::kUncoveredBytes, "bytes " + range(manifest_expected, data_end) +
                                                 " before the manifest belong to no tensor");
  return check_padding(file, cursor, data_end, [] { return std::string("before the manifest"); });
}

}  // namespace

Status recheck_unhashed_bytes(std::span<const std::byte> file, const ValidatedFile& validated, const Limits& limits) {
  const Footer& f = validated.footer;
  if (sha256(file.subspan(f.manifest_offset, f.manifest_length)) != f.manifest_sha256)
    return Error(ErrorCode::kManifestDigestMismatch, "SHA-256 of the manifest at " +
                                                         range(f.manifest_offset, f.manifest_offset + f.manifest_length) +
                                                         " no longer matches the footer: the file changed after open");
  return check_data_section(file, validated, limits);
}

Result<ValidatedFile> validate_file(std::span<const std::byte> file, const Limits& limits) {
  ValidatedFile out;
  OWF_RETURN_IF_ERROR(check_framing(file, limits, out));
  const auto stored = file.subspan(out.footer.manifest_offset, out.footer.manifest_length);
  // Large manifests (many tensors) are hashed on a second thread while this
  // one decodes them, which takes about as long; opening a 100,000-tensor
  // file costs the longer of the two instead of their sum. Decoding is safe
  // on unverified bytes (it trusts nothing), and a digest mismatch is still
  // the error reported, as step 4 comes first.
  constexpr std::uint64_t kParallelDigestBytes = 1u << 20;
  if (stored.size() >= kParallelDigestBytes && std::thread::hardware_concurrency() > 1) {
    Sha256Digest digest{};
    std::thread hasher([&] { digest = sha256(stored); });
    auto decoded = decode_manifest(out.manifest_bytes, limits);
    hasher.join();
    OWF_RETURN_IF_ERROR(check_manifest_digest(digest, out.footer));
    OWF_ASSIGN_OR_RETURN(out.manifest, std::move(decoded));
  } else {
    OWF_RETURN_IF_ERROR(check_manifest_digest(sha256(stored), out.footer));
    OWF_ASSIGN_OR_RETURN(out.manifest, decode_manifest(out.manifest_bytes, limits));
  }
  OWF_RETURN_IF_ERROR(check_data_section(file, out, limits));
  return out;
}

}  // namespace owf::internal
