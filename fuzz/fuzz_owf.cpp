// OWF: open from memory, then everything a reader does after open: every
// accessor, every tensor read (and decoded as numbers), verify, the weights
// digest. Asserts the guarantees of spec/security.md: an opened file's
// tensors lie inside the file; a verified file's digests recompute.
//
// Mutated manifests almost never keep the footer's SHA-256 valid, which
// would stop every input at step 4. So when an input fails only on that
// digest, it is opened a second time with the digest recomputed: the
// fuzzer reaches the manifest and data-section checks behind it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_budget.hpp"
#include "fuzz_common.hpp"
#include "layout.hpp"
#include "owf/reader.hpp"
#include "sha256.hpp"

namespace {

void exercise(std::span<const std::byte> bytes) {
  owf::Limits limits = owf::fuzz::limits();
  auto file = owf::File::open_buffer(bytes, limits);
  if (!file.ok()) return;
  const owf::File& f = *file;
  FUZZ_ASSERT(f.file_size() == bytes.size());
  // The manifest ends where the footer begins, and holds the bytes there.
  FUZZ_ASSERT(f.manifest_bytes().size() + owf::internal::kFooterSize <= bytes.size());
  const std::uint64_t manifest_at = bytes.size() - owf::internal::kFooterSize - f.manifest_bytes().size();
  FUZZ_ASSERT(std::memcmp(f.manifest_bytes().data(), bytes.data() + manifest_at, f.manifest_bytes().size()) == 0);
  std::uint64_t logical_total = 0;
  for (std::size_t i = 0; i < f.tensor_count(); ++i) {
    const owf::TensorInfo t = f.tensor(i);
    owf::fuzz::check_tensor_geometry(t, true);
    if (t.stored_bytes != 0) {
      FUZZ_ASSERT(t.offset >= owf::internal::kHeaderSize);
      FUZZ_ASSERT(t.offset <= bytes.size() && t.stored_bytes <= bytes.size() - t.offset);
      FUZZ_ASSERT(t.offset + t.stored_bytes <= manifest_at);
      FUZZ_ASSERT(t.offset % f.alignment() == 0);
    }
    auto found = f.find(t.name);
    FUZZ_ASSERT(found && *found == i);
    logical_total += t.logical_bytes;
  }
  for (const auto& [k, v] : f.info().hyperparameters) owf::fuzz::touch(k, v);
  for (const auto& [k, v] : f.info().metadata) owf::fuzz::touch(k, v);
  (void)f.weights_digest();

  // Tensor data: bounded so that a small file declaring a large decoded
  // size costs the fuzzer time, not memory.
  if (logical_total > owf::fuzz::kMaxLogicalBytes) return;
  const bool verified = f.verify({.threads = 1, .progress = {}}).ok();
  for (std::size_t i = 0; i < f.tensor_count(); ++i) {
    const owf::TensorInfo t = f.tensor(i);
    std::vector<std::byte> data(t.logical_bytes);
    const auto status = f.read(t, data, false);
    if (t.codec == owf::Codec::kNone) {
      FUZZ_ASSERT(status.ok());
      auto view = f.bytes(t);
      FUZZ_ASSERT(view.ok() && view->size() == data.size());
      FUZZ_ASSERT(data.empty() || std::memcmp(view->data(), data.data(), data.size()) == 0);
    }
    if (verified) {
      FUZZ_ASSERT(status.ok());
      FUZZ_ASSERT(owf::internal::sha256(data) == t.sha256);
    }
    if (status.ok())
      owf::fuzz::check_elements(t, data,
                                [&](std::uint64_t first, std::span<float> values, const owf::ReadElementsOptions& o) {
                                  return owf::read_elements(f, t, first, values, o);
                                });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::within_budget(size, [&] {
    // An 8-aligned copy, as a memory-mapped file would be.
    std::vector<std::uint64_t> storage((size + 7) / 8);
    if (size != 0) std::memcpy(storage.data(), data, size);
    std::span<std::byte> bytes(reinterpret_cast<std::byte*>(storage.data()), size);
    exercise(bytes);

    auto first = owf::File::open_buffer(bytes, owf::fuzz::limits());
    if (first.ok() || first.code() != owf::ErrorCode::kManifestDigestMismatch) return;
    const std::uint64_t footer_at = size - owf::internal::kFooterSize;
    const std::uint64_t offset = owf::internal::load_u64(bytes.data() + footer_at);
    const std::uint64_t length = owf::internal::load_u64(bytes.data() + footer_at + 8);
    const auto digest = owf::internal::sha256(bytes.subspan(offset, length));
    std::memcpy(bytes.data() + footer_at + 16, digest.data(), digest.size());
    exercise(bytes);
  });
  return 0;
}
