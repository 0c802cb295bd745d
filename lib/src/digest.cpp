// The weights digest (spec/format.md, "Weights digest"): SHA-256 over
//   "OWF-WEIGHTS-V1" u64:count
//   per tensor in byte order of names:
//     u64:name_length name u32:dtype_code u32:rank u64:dim... sha256[32]
// all integers little-endian.
#include "owf/digest.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>

#include "owf/shard_set.hpp"
#include "owf/source.hpp"
#include "parallel.hpp"
#include "sha256.hpp"

namespace owf {

Sha256Digest weights_digest_of(std::vector<DigestEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const DigestEntry& a, const DigestEntry& b) {
    const int c = std::memcmp(a.name.data(), b.name.data(), std::min(a.name.size(), b.name.size()));
    return c != 0 ? c < 0 : a.name.size() < b.name.size();
  });
  internal::Sha256 h;
  constexpr std::string_view kDomain = "OWF-WEIGHTS-V1";
  h.update(kDomain.data(), kDomain.size());
  auto put_u64 = [&](std::uint64_t v) { h.update(&v, 8); };
  auto put_u32 = [&](std::uint32_t v) { h.update(&v, 4); };
  put_u64(entries.size());
  for (const auto& e : entries) {
    put_u64(e.name.size());
    h.update(e.name.data(), e.name.size());
    put_u32(static_cast<std::uint32_t>(e.dtype));
    put_u32(static_cast<std::uint32_t>(e.shape.size()));
    for (auto d : e.shape) put_u64(d);
    h.update(e.sha256.data(), e.sha256.size());
  }
  return h.finish();
}

Result<Digests> compute_digests(const Source& source, const DigestOptions& options) {
  const std::size_t n = source.tensor_count();
  std::vector<TensorInfo> infos(n);
  for (std::size_t i = 0; i < n; ++i) infos[i] = source.tensor(i);
  Digests out;
  out.tensors.resize(n);
  if (source.stores_digests()) {  // an OWF file or set
    if (options.check_stored) {
      VerifyOptions verify;
      verify.threads = options.threads;
      verify.progress = options.progress;
      const File* file = source.owf_file();
      OWF_RETURN_IF_ERROR(file != nullptr ? file->verify(verify) : source.owf_file_set()->verify(verify));
    }
    for (std::size_t i = 0; i < n; ++i) out.tensors[i] = infos[i].sha256;
    out.weights = *source.stored_weights_digest();  // a set's: over the stored digests (S5, checked at open)
    return out;
  }
  std::uint64_t total = 0;
  for (const auto& t : infos) total += t.logical_bytes;
  std::mutex mutex;
  std::uint64_t done = 0;
  std::vector<std::optional<Error>> errors(n);
  internal::parallel_for(n, options.threads, [&](std::size_t i) {
    auto d = source.tensor_sha256(i);
    if (d.ok())
      out.tensors[i] = *d;
    else
      errors[i] = d.error();
    if (options.progress) {
      std::lock_guard lock(mutex);
      done += infos[i].logical_bytes;
      options.progress(done, total);
    }
  });
  for (auto& e : errors)
    if (e) return *e;
  std::vector<DigestEntry> entries;
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    entries.push_back({infos[i].name, infos[i].dtype, infos[i].shape, out.tensors[i]});
  out.weights = weights_digest_of(std::move(entries));
  return out;
}

Result<Sha256Digest> compute_weights_digest(const Source& source, unsigned threads) {
  if (const auto stored = source.stored_weights_digest()) return *stored;
  DigestOptions options;
  options.threads = threads;
  OWF_ASSIGN_OR_RETURN(Digests d, compute_digests(source, options));
  return d.weights;
}

}  // namespace owf
