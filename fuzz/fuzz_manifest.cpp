// The FlatBuffers manifest alone: verifier, per-field checks, and every
// decoded value touched. Reaches manifest corner cases without the framing
// and digest that guard them inside a file.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_budget.hpp"
#include "fuzz_common.hpp"
#include "manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::within_budget(size, [&] {
    std::vector<std::uint64_t> storage((size + 7) / 8);  // decode_manifest wants 8-aligned bytes
    if (size != 0) std::memcpy(storage.data(), data, size);
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(storage.data()), size);
    auto manifest = owf::internal::decode_manifest(bytes, owf::fuzz::limits());
    if (!manifest.ok()) return;
    const auto& m = *manifest;
    FUZZ_ASSERT(m.alignment != 0 && (m.alignment & (m.alignment - 1)) == 0);
    FUZZ_ASSERT(m.chunk_tables.size() == m.tensors.size());
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
      const auto& t = m.tensors[i];
      owf::fuzz::check_tensor_geometry(t, true);
      FUZZ_ASSERT(!t.name.empty() && t.name.size() <= owf::fuzz::limits().max_name_bytes);
      // Views point into the manifest bytes.
      FUZZ_ASSERT(t.name.data() >= reinterpret_cast<const char*>(bytes.data()) &&
                  t.name.data() + t.name.size() <= reinterpret_cast<const char*>(bytes.data() + bytes.size()));
      if (i > 0) FUZZ_ASSERT(m.tensors[i - 1].name < t.name);
      if (t.stored_bytes == 0)
        FUZZ_ASSERT(t.offset == 0);
      else
        FUZZ_ASSERT(t.offset % m.alignment == 0);
    }
    for (const auto& [k, v] : m.info.hyperparameters) owf::fuzz::touch(k, v);
    for (const auto& [k, v] : m.info.metadata) owf::fuzz::touch(k, v);
    FUZZ_ASSERT(m.info.license.has_value());
  });
  return 0;
}
