// The weights digest (spec/format.md, "Weights digest"): SHA-256 over
//   "OWF-WEIGHTS-V1" u64:count
//   per tensor in byte order of names:
//     u64:name_length name u32:dtype_code u32:rank u64:dim... sha256[32]
// all integers little-endian.
#include <algorithm>
#include <cstring>

#include "owf/source.hpp"
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

}  // namespace owf
