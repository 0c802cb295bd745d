// Generates the conformance suite (spec/conformance.md): small OWF files,
// valid and invalid, and index.json describing each one's expected outcome.
//
//   owf_conformance_generate <dir>   writes <dir>/index.json and <dir>/files/
//
// Files are laid out here byte by byte, independently of owf::Writer, so
// that invalid files can break exactly one rule. Only the manifest encoder
// (manifest.hpp), the header/footer encoders (layout.hpp) and the table of
// byte-group widths (codec.hpp) are shared with the library; hand-made
// FlatBuffers cover what the encoder refuses to write. The output is deterministic: CI regenerates it and compares
// it byte for byte with the checked-in copy. Compressed tensors
// (spec/compression.md) are framed with libzstd directly (level 3, one
// thread), not with the library's compressor: their bytes are the same
// wherever the same zstd version runs.
#include <flatbuffers/minireflect.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "codec.hpp"
#include "layout.hpp"
#include "manifest.hpp"
#include "owf/owf.hpp"
#include "owf_generated.h"
#include "sha256.hpp"

namespace {

using owf::DType;
using owf::Role;
using owf::internal::ManifestModel;
using owf::internal::TensorRecord;
using Bytes = std::vector<std::byte>;
using json = nlohmann::ordered_json;

constexpr std::uint64_t kHeader = owf::internal::kHeaderSize;
constexpr std::uint64_t kFooter = owf::internal::kFooterSize;

// Deterministic tensor contents (splitmix64), the same on every platform.
Bytes pattern(std::size_t n, std::uint64_t seed) {
  Bytes out(n);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    out[i] = static_cast<std::byte>((z ^ (z >> 31)) & 0xFF);
  }
  return out;
}

// `bytes` made canonical (format.md §5): BOOL bytes become 0 or 1, and the
// bits of a packed tensor's last byte past its last element become 0.
Bytes canonical(DType dtype, const std::vector<std::uint64_t>& shape, Bytes bytes) {
  const auto info = owf::dtype_info(dtype);
  if (dtype == DType::kBool)
    for (auto& b : bytes) b &= std::byte{1};
  if (info && info->block_elements > 1 && !info->row_blocked && !bytes.empty()) {
    std::uint64_t elements = 1;
    for (auto d : shape) elements *= d;
    const std::uint64_t bits = elements * (8 * info->block_bytes / info->block_elements);
    const std::uint64_t spare = 8 * bytes.size() - bits;  // 0..7
    bytes.back() &= static_cast<std::byte>(0xFF >> spare);
  }
  return bytes;
}

void put_u16_at(std::byte* p, std::uint16_t v) { std::memcpy(p, &v, 2); }

struct TensorDef {
  std::string name;
  std::uint16_t dtype = static_cast<std::uint16_t>(DType::kF32);
  std::vector<std::uint64_t> shape;
  Role role = Role::kWeight;
  std::optional<Bytes> data;     // default: dtype x shape bytes of pattern()
  std::uint64_t gap_before = 0;  // extra bytes left before aligning (uncovered bytes)
  // Compressed storage: the logical bytes cut into chunks of chunk_length,
  // each one zstd frame; edit_frames may change the frames before they are
  // laid out (the chunk table follows the edited frames).
  owf::Codec codec = owf::Codec::kNone;
  std::uint64_t chunk_length = 0;
  std::function<void(std::vector<Bytes>& frames)> edit_frames;
};

struct Model {
  std::uint64_t alignment = 64;
  std::vector<TensorDef> tensors;  // laid out in this order
  owf::ModelInfo info;
  std::vector<std::string> features;
  std::uint64_t manifest_gap = 0;  // extra bytes before the manifest
  std::uint16_t minor = 0;         // format minor version in header and footer
  // Hooks, in the order they run.
  std::function<void(ManifestModel&)> edit_model;
  std::function<void(Bytes& manifest)> edit_manifest;  // the footer digest follows the edit
  std::function<void(Bytes& file)> edit_file;          // nothing is recomputed after this
};

struct Built {
  Bytes bytes;
  std::size_t tensor_count = 0;
  owf::Sha256Digest weights_digest{};
};

owf::License license(std::string spdx = "Apache-2.0") {
  owf::License l;
  l.spdx = std::move(spdx);
  return l;
}

void put_u16(Bytes& b, std::size_t at, std::uint16_t v) { std::memcpy(b.data() + at, &v, 2); }
void put_u64(Bytes& b, std::size_t at, std::uint64_t v) { std::memcpy(b.data() + at, &v, 8); }
std::uint64_t get_u64(const Bytes& b, std::size_t at) { return owf::internal::load_u64(b.data() + at); }
std::size_t footer_at(const Bytes& b) { return b.size() - kFooter; }

// Recomputes the footer's manifest digest from the range the footer names.
void refresh_manifest_digest(Bytes& b) {
  const std::size_t f = footer_at(b);
  const auto d = owf::internal::sha256(std::span(b).subspan(get_u64(b, f), get_u64(b, f + 8)));
  std::memcpy(b.data() + f + 16, d.data(), d.size());
}

// Replaces the one occurrence of `from` by `to` (same length).
void replace_once(Bytes& b, std::string_view from, std::string_view to) {
  if (from.size() != to.size()) throw std::logic_error("replace_once: lengths differ");
  const auto* begin = reinterpret_cast<const char*>(b.data());
  const std::string_view all(begin, b.size());
  const auto at = all.find(from);
  if (at == std::string_view::npos || all.find(from, at + 1) != std::string_view::npos)
    throw std::logic_error("replace_once: '" + std::string(from) + "' does not occur exactly once");
  std::memcpy(b.data() + at, to.data(), to.size());
}

// Lists `first` and `second` (sorted, same length) as `renamed`, `first`:
// renaming in the encoded manifest reorders what the encoder sorted.
void unsort(Model& m, std::string first, std::string second, std::string renamed) {
  m.edit_manifest = [=](Bytes& b) {
    replace_once(b, first, renamed);
    replace_once(b, second, first);
  };
}

// ---------------------------------------------------------------------------
// zstd frames

constexpr int kZstdLevel = 3;

struct FrameOptions {
  bool content_size = true;
  bool checksum = false;
  unsigned planes = 1;  // >1: a zstd flush after each of this many equal planes
};

// One zstd frame holding `in`, without a dictionary ID.
Bytes zstd_frame(std::span<const std::byte> in, FrameOptions o = {}) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  auto check = [](std::size_t r) {
    if (ZSTD_isError(r)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(r));
    return r;
  };
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, kZstdLevel));
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, o.content_size ? 1 : 0));
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, o.checksum ? 1 : 0));
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_dictIDFlag, 0));
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, 0));
  check(ZSTD_CCtx_setPledgedSrcSize(cctx.get(), in.size()));
  Bytes out(ZSTD_compressBound(in.size()) + 64 * o.planes);
  ZSTD_outBuffer dst{out.data(), out.size(), 0};
  const std::size_t plane = in.size() / o.planes;
  for (unsigned k = 0; k < o.planes; ++k) {
    const std::size_t end = k + 1 == o.planes ? in.size() : (k + 1) * plane;
    ZSTD_inBuffer src{in.data() + k * plane, end - k * plane, 0};
    const ZSTD_EndDirective mode = k + 1 == o.planes ? ZSTD_e_end : ZSTD_e_flush;
    while (check(ZSTD_compressStream2(cctx.get(), &dst, &src, mode)) != 0 || src.pos != src.size) {
      if (dst.pos == dst.size) throw std::runtime_error("zstd: frame over its bound");
    }
  }
  out.resize(dst.pos);
  return out;
}

// `frame` (which must have a Window_Descriptor: not single-segment) with
// the Window_Descriptor byte replaced by `descriptor`.
Bytes with_window(Bytes frame, unsigned descriptor) {
  if ((std::to_integer<unsigned>(frame[4]) & 0x20) != 0) throw std::logic_error("frame has no Window_Descriptor");
  frame[5] = static_cast<std::byte>(descriptor);
  return frame;
}

// A frame laid out by hand (RFC 8878): no content size, Window_Descriptor
// `descriptor`, and one last block of `type` (0 raw, 1 RLE) regenerating
// `size` bytes from `payload` (the bytes of a raw block, the one byte of
// an RLE block).
Bytes one_block_frame(unsigned descriptor, unsigned type, std::uint32_t size, const Bytes& payload) {
  const std::uint32_t header = size << 3 | type << 1 | 1;
  Bytes f = {std::byte{0x28}, std::byte{0xB5}, std::byte{0x2F},
             std::byte{0xFD}, std::byte{0},    static_cast<std::byte>(descriptor)};
  for (int k = 0; k < 3; ++k) f.push_back(static_cast<std::byte>(header >> (8 * k) & 0xFF));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

// A skippable frame (magic 0x184D2A50) with 4 bytes of payload.
Bytes skippable_frame() {
  const unsigned char b[] = {0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 'o', 'w', 'f', '!'};
  const auto* p = reinterpret_cast<const std::byte*>(b);
  return Bytes(p, p + sizeof b);
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The byte-group filter of compression.md §3: filtered[k*n + e] = logical[e*W + k].
Bytes byte_group(std::span<const std::byte> in, unsigned width) {
  const std::size_t n = in.size() / width;
  Bytes out(in.size());
  for (std::size_t e = 0; e < n; ++e)
    for (unsigned k = 0; k < width; ++k) out[k * n + e] = in[e * width + k];
  return out;
}

// One frame per chunk of `data`, as compression.md §1-3 lay them out.
std::vector<Bytes> compress_chunks(const TensorDef& t, const Bytes& data) {
  if (t.chunk_length == 0) throw std::logic_error("tensor '" + t.name + "' needs a chunk_length");
  std::vector<Bytes> frames;
  for (std::size_t at = 0; at < data.size(); at += t.chunk_length) {
    const auto chunk = std::span(data).subspan(at, std::min<std::size_t>(t.chunk_length, data.size() - at));
    const unsigned width = owf::internal::byte_group_width(static_cast<DType>(t.dtype));
    if (t.codec == owf::Codec::kZstdByteGroup && width != 0 && chunk.size() % width == 0)
      frames.push_back(zstd_frame(byte_group(chunk, width), {.planes = width}));
    else
      frames.push_back(zstd_frame(chunk));
  }
  return frames;
}

Built build(const Model& m) {
  Built out;
  auto header = owf::internal::encode_header();
  put_u16_at(header.data() + 10, m.minor);
  out.bytes.assign(header.begin(), header.end());
  ManifestModel mm;
  mm.alignment = m.alignment;
  mm.required_features = m.features;
  mm.info = m.info;
  std::uint64_t cursor = kHeader;
  std::uint64_t seed = 1;
  for (const TensorDef& t : m.tensors) {
    Bytes data;
    if (t.data) {
      data = *t.data;
    } else {
      auto size = owf::tensor_byte_size(static_cast<DType>(t.dtype), t.shape);
      if (!size.ok()) throw std::logic_error("tensor '" + t.name + "' needs explicit data");
      data = canonical(static_cast<DType>(t.dtype), t.shape, pattern(static_cast<std::size_t>(*size), seed));
    }
    ++seed;
    TensorRecord r;
    r.name = t.name;
    r.dtype = static_cast<DType>(t.dtype);
    r.shape = t.shape;
    r.role = t.role;
    r.sha256 = owf::internal::sha256(data);
    Bytes stored;
    if (t.codec == owf::Codec::kNone) {
      stored = data;
    } else {
      auto frames = compress_chunks(t, data);
      if (t.edit_frames) t.edit_frames(frames);
      r.codec = t.codec;
      r.chunk_length = t.chunk_length;
      for (const Bytes& f : frames) {
        r.chunks.push_back({stored.size(), f.size()});
        stored.insert(stored.end(), f.begin(), f.end());
      }
    }
    r.stored_length = stored.size();
    if (!stored.empty()) {
      r.offset = owf::internal::align_up(cursor + t.gap_before, m.alignment);
      out.bytes.resize(r.offset, std::byte{0});
      out.bytes.insert(out.bytes.end(), stored.begin(), stored.end());
      cursor = out.bytes.size();
    }
    mm.tensors.push_back(std::move(r));
  }
  out.bytes.resize(owf::internal::align_up(cursor, 8) + m.manifest_gap, std::byte{0});

  std::vector<owf::DigestEntry> entries;
  for (const auto& r : mm.tensors) entries.push_back({r.name, r.dtype, r.shape, r.sha256});
  out.weights_digest = owf::weights_digest_of(std::move(entries));
  out.tensor_count = mm.tensors.size();

  if (m.edit_model) m.edit_model(mm);
  auto manifest = owf::internal::encode_manifest(std::move(mm));
  if (!manifest.ok()) throw std::logic_error("encode_manifest: " + manifest.error().to_string());
  if (m.edit_manifest) m.edit_manifest(*manifest);
  owf::internal::Footer footer;
  footer.manifest_offset = out.bytes.size();
  footer.manifest_length = manifest->size();
  footer.manifest_sha256 = owf::internal::sha256(*manifest);
  footer.version.minor = m.minor;
  out.bytes.insert(out.bytes.end(), manifest->begin(), manifest->end());
  const auto f = owf::internal::encode_footer(footer);
  out.bytes.insert(out.bytes.end(), f.begin(), f.end());
  if (m.edit_file) m.edit_file(out.bytes);
  return out;
}

// The model most invalid cases start from: two F32 tensors,
// a.weight [2,3] at 64 and b.bias [3] at 128, manifest at 144.
Model base() {
  Model m;
  m.tensors = {{"a.weight", static_cast<std::uint16_t>(DType::kF32), {2, 3}, Role::kWeight},
               {"b.bias", static_cast<std::uint16_t>(DType::kF32), {3}, Role::kBias}};
  m.info.license = license();
  return m;
}

std::uint16_t code(DType d) { return static_cast<std::uint16_t>(d); }

// A manifest written with the generated FlatBuffers code directly, for
// defects the encoder cannot produce.
Bytes finish_raw(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<owf::fb::Manifest> root) {
  owf::fb::FinishManifestBuffer(fbb, root);
  const auto* p = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  return Bytes(p, p + fbb.GetSize());
}

// A manifest without tensors, written with the generated FlatBuffers code
// for values the encoder never writes: `license` defaults to Apache-2.0,
// `hyperparameter`, if given, makes the only hyperparameter.
using Fbb = flatbuffers::FlatBufferBuilder;
struct RawManifest {
  std::function<flatbuffers::Offset<owf::fb::License>(Fbb&)> license;
  std::function<flatbuffers::Offset<owf::fb::Hyperparameter>(Fbb&)> hyperparameter;
  std::vector<std::string> features;  // as given: neither sorted nor deduplicated
};

Model raw_model(RawManifest raw) {
  Model m;
  m.info.license = license();
  m.edit_manifest = [raw](Bytes& b) {
    Fbb fbb;
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<owf::fb::Hyperparameter>>> hparams;
    if (raw.hyperparameter) hparams = fbb.CreateVector(std::vector{raw.hyperparameter(fbb)});
    const auto l = raw.license ? raw.license(fbb) : owf::fb::CreateLicense(fbb, fbb.CreateString("Apache-2.0"));
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> features;
    if (!raw.features.empty()) features = fbb.CreateVectorOfStrings(raw.features);
    owf::fb::ManifestBuilder mb(fbb);
    mb.add_required_features(features);
    mb.add_hyperparameters(hparams);
    mb.add_license(l);
    b = finish_raw(fbb, mb.Finish());
  };
  return m;
}

// A hyperparameter `key` whose value is the table `value` with union type `type`.
std::function<flatbuffers::Offset<owf::fb::Hyperparameter>(Fbb&)> raw_hyperparameter(
    std::string key, std::uint8_t type, std::function<flatbuffers::Offset<void>(Fbb&)> value) {
  return [=](Fbb& fbb) {
    const auto k = fbb.CreateString(key);
    const auto v = value(fbb);
    return owf::fb::CreateHyperparameter(fbb, k, static_cast<owf::fb::Value>(type), v);
  };
}

// Where scalar field `field` of `table` (a table inside `b`) is in `b`.
template <class Table>
std::size_t field_at(const Bytes& b, const Table* table, flatbuffers::voffset_t field) {
  const auto* p = reinterpret_cast<const flatbuffers::Table*>(table)->GetAddressOf(field);
  if (p == nullptr) throw std::logic_error("field_at: the field is absent");
  return static_cast<std::size_t>(p - reinterpret_cast<const std::uint8_t*>(b.data()));
}

class Suite {
 public:
  explicit Suite(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "files");
  }

  /// A file that must open and verify.
  void valid(const std::string& id, const std::string& section, const std::string& description, const Model& m) {
    const Built b = build(m);
    json expect = {{"open", "ok"},
                   {"verify", "ok"},
                   {"tensor_count", b.tensor_count},
                   {"weights_digest", owf::to_hex(b.weights_digest)}};
    add(id, section, "", description, b.bytes, expect, {});
  }

  /// A valid file whose manifest was written by hand (Model::edit_manifest):
  /// the caller states its tensor count and weights digest.
  void valid_raw(const std::string& id, const std::string& section, const std::string& description, const Model& m,
                 std::size_t tensor_count, const owf::Sha256Digest& weights_digest) {
    json expect = {{"open", "ok"},
                   {"verify", "ok"},
                   {"tensor_count", tensor_count},
                   {"weights_digest", owf::to_hex(weights_digest)}};
    add(id, section, "", description, build(m).bytes, expect, {});
  }

  /// A file that open() must refuse with `error`.
  void invalid(const std::string& id, const std::string& rule, const std::string& description, const Model& m,
               const std::string& error, json limits = {}) {
    invalid_in("format.md §8", id, rule, description, m, error, std::move(limits));
  }

  /// A file that open() must refuse with `error`, for a rule of `section`.
  void invalid_in(const std::string& section, const std::string& id, const std::string& rule,
                  const std::string& description, const Model& m, const std::string& error, json limits = {}) {
    add(id, section, rule, description, build(m).bytes, {{"open", error}}, std::move(limits));
  }

  /// Raw bytes that open() must refuse with `error`.
  void invalid_bytes(const std::string& id, const std::string& rule, const std::string& description, const Bytes& bytes,
                     const std::string& error) {
    add(id, "format.md §8", rule, description, bytes, {{"open", error}}, {});
  }

  /// A file that opens but fails verification with `error`.
  void unverifiable(const std::string& id, const std::string& rule, const std::string& description, const Model& m,
                    const std::string& error) {
    unverifiable_in("format.md §8", id, rule, description, m, error);
  }

  /// A file that opens but fails verification with `error`, for a rule of `section`.
  void unverifiable_in(const std::string& section, const std::string& id, const std::string& rule,
                       const std::string& description, const Model& m, const std::string& error) {
    add(id, section, rule, description, build(m).bytes, {{"open", "ok"}, {"verify", error}}, {});
  }

  /// A valid file whose embedded signatures, checked against `trusted`
  /// (key files of the suite), must give `results` (signatures.md), in
  /// stored order.
  void signed_case(const std::string& id, const std::string& description, const Model& m,
                   const std::vector<std::string>& trusted, const std::vector<std::string>& results) {
    const Built b = build(m);
    json expect = {{"open", "ok"},
                   {"verify", "ok"},
                   {"tensor_count", b.tensor_count},
                   {"weights_digest", owf::to_hex(b.weights_digest)},
                   {"signatures", {{"trusted_keys", trusted}, {"results", results}}}};
    add(id, "signatures.md", "", description, b.bytes, expect, {});
  }

  /// A shard set (spec/shards.md): `files` written to sets/<id>/, opened
  /// from `open` (a file name of the set, or "" for the directory). The
  /// expected outcome of opening it whole (S1-S6) and, when that is ok, of
  /// verifying it.
  void set_case(const std::string& id, const std::string& rule, const std::string& description,
                const std::vector<std::pair<std::string, Bytes>>& files, const std::string& open, json expect) {
    for (const auto& c : sets_)
      if (c["id"] == id) throw std::logic_error("duplicate set case id " + id);
    const std::string dir = "sets/" + id;
    std::filesystem::create_directories(dir_ / dir);
    for (const auto& [name, bytes] : files) {
      std::ofstream out(dir_ / dir / name, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    json c = {{"id", id},
              {"directory", dir},
              {"open", open.empty() ? dir : dir + "/" + open},
              {"description", description},
              {"section", "shards.md §4"}};
    if (!rule.empty()) c["rule"] = rule;
    c["expect"] = std::move(expect);
    sets_.push_back(std::move(c));
  }

  /// A file of the suite that is not a case (the keys of the signed cases).
  void write_file(const std::string& name, std::string_view text) const {
    std::ofstream out(dir_ / "files" / name, std::ios::binary | std::ios::trunc);
    out << text;
  }

  void write_index() const {
    const owf::Limits d;
    json index = {{"suite", "owf-conformance"},
                  {"format_version", "1.0"},
                  {"description", "Files that define OWF by example; see spec/conformance.md for how to run them."},
                  {"default_limits",
                   {{"max_manifest_bytes", d.max_manifest_bytes},
                    {"max_tensors", d.max_tensors},
                    {"max_rank", d.max_rank},
                    {"max_name_bytes", d.max_name_bytes},
                    {"max_metadata_entries", d.max_metadata_entries},
                    {"max_string_bytes", d.max_string_bytes},
                    {"max_alignment", d.max_alignment},
                    {"max_chunk_bytes", d.max_chunk_bytes},
                    {"max_signatures", d.max_signatures},
                    {"max_shards", d.max_shards}}},
                  {"cases", cases_},
                  {"sets", sets_}};
    std::ofstream out(dir_ / "index.json", std::ios::binary | std::ios::trunc);
    out << index.dump(2) << "\n";
  }

  std::size_t size() const { return cases_.size() + sets_.size(); }

 private:
  void add(const std::string& id, const std::string& section, const std::string& rule, const std::string& description,
           const Bytes& bytes, json expect, json limits) {
    for (const auto& c : cases_)
      if (c["id"] == id) throw std::logic_error("duplicate case id " + id);
    const std::string file = "files/" + id + ".owf";
    std::ofstream out(dir_ / file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    json c = {{"id", id}, {"file", file}, {"description", description}, {"section", section}};
    if (!rule.empty()) c["rule"] = rule;
    if (!limits.is_null()) c["limits"] = std::move(limits);
    c["expect"] = std::move(expect);
    cases_.push_back(std::move(c));
  }

  std::filesystem::path dir_;
  json cases_ = json::array();
  json sets_ = json::array();
};

// ---------------------------------------------------------------------------
// Valid files

void valid_cases(Suite& s) {
  {
    Model m;
    m.tensors = {{"w", code(DType::kU8), {4}, Role::kWeight}};
    m.info.license = license();
    s.valid("valid-minimal", "format.md §1", "one U8 tensor of 4 bytes", m);
  }
  s.valid("valid-two-tensors", "format.md §3", "two F32 tensors at offsets 64 and 128, default alignment 64", base());
  {
    Model m;
    m.info.license = license();
    s.valid("valid-no-tensors", "format.md §3", "no tensors at all: header, manifest, footer", m);
  }
  {
    Model m;
    m.info.license = license();
    for (const auto& info : owf::all_dtypes()) {
      std::vector<std::uint64_t> shape;
      if (info.row_blocked)
        shape = {2, info.block_elements};
      else if (info.block_elements > 1)
        shape = {3, 5};  // packed sub-byte: a partial final block
      else
        shape = {2, 3};
      m.tensors.push_back({"dtype." + std::string(info.name), code(info.dtype), shape, Role::kWeight});
    }
    std::sort(m.tensors.begin(), m.tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    m.features = {"nvfp4", "q1_0", "q2_0"};  // the dtypes of version 1.1
    m.minor = 1;
    s.valid("valid-every-dtype", "format.md §5",
            "version 1.1: one tensor of every dtype in §5, including packed and block-quantized, and the features "
            "the 1.1 dtypes need",
            m);
  }
  {
    Model m = base();
    m.tensors = {{"scalar.bool", code(DType::kBool), {}, Role::kOther},
                 {"scalar.f64", code(DType::kF64), {}, Role::kOther},
                 {"scalar.i64", code(DType::kI64), {}, Role::kBuffer}};
    s.valid("valid-scalars", "format.md §4.2", "rank-0 tensors (shape []) holding one element each", m);
  }
  {
    Model m = base();
    m.tensors = {{"empty.a", code(DType::kF32), {0}, Role::kOther},
                 {"empty.b", code(DType::kI8), {3, 0, 2}, Role::kOther},
                 {"empty.q", code(DType::kQ4_0), {0, 32}, Role::kOther},
                 {"z.data", code(DType::kU8), {3}, Role::kOther}};
    s.valid("valid-zero-size", "format.md §3", "zero-size tensors (offset 0, no bytes) beside a non-empty one", m);
  }
  {
    Model m = base();
    m.tensors = {{"a.f64", code(DType::kF64), {1ull << 32, 1ull << 32, 0}, Role::kOther},
                 {"b.u8", code(DType::kU8), {0, ~std::uint64_t{0}}, Role::kOther},
                 {"c.q4_0", code(DType::kQ4_0), {1ull << 40, 1ull << 40, 0}, Role::kOther},
                 {"d.data", code(DType::kU8), {2}, Role::kOther}};
    s.valid("valid-zero-size-large-dims", "format.md §8 (R18)",
            "zero-size tensors whose other dimensions multiply past 2^64: a zero dimension makes the element "
            "count 0",
            m);
  }
  {
    Model m = base();
    m.alignment = 1;
    m.tensors = {{"a", code(DType::kU8), {3}, Role::kOther},
                 {"b", code(DType::kI16), {1}, Role::kOther},
                 {"c", code(DType::kU8), {5}, Role::kOther}};
    s.valid("valid-alignment-1", "format.md §3", "alignment 1: tensors packed back to back at 64, 67, 69", m);
  }
  {
    Model m = base();
    m.alignment = 1ull << 21;
    m.tensors = {{"w", code(DType::kU8), {16}, Role::kWeight}};
    s.valid("valid-alignment-max", "format.md §3", "the maximum alignment 2^21: the tensor starts at 2 MiB", m);
  }
  {
    Model m = base();
    m.tensors = {{"b", code(DType::kU8), {5}, Role::kOther}, {"a", code(DType::kU8), {7}, Role::kOther}};
    s.valid("valid-layout-order", "format.md §3", "the data section need not follow name order: b is stored before a",
            m);
  }
  {
    Model m = base();
    m.tensors.clear();
    const Role roles[] = {Role::kOther,     Role::kWeight,        Role::kBias,
                          Role::kEmbedding, Role::kNormalization, Role::kBuffer};
    for (int i = 0; i < 6; ++i) m.tensors.push_back({"role." + std::to_string(i), code(DType::kU8), {2}, roles[i]});
    s.valid("valid-every-role", "format.md §4.3", "one tensor per role code 0..5", m);
  }
  {
    Model m = base();
    m.alignment = 8;
    m.tensors.clear();
    for (int i = 0; i < 600; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "layers.%03d.w", i);
      m.tensors.push_back({name, code(DType::kU8), {static_cast<std::uint64_t>(1 + i % 8)}, Role::kWeight});
    }
    s.valid("valid-many-tensors", "format.md §4.2", "600 small tensors, alignment 8", m);
  }
  {
    Model m = base();
    // Byte order: "ascii" < "emoji.\xF0..." < "z" < "\xC3\xA9" < "\xE6\x97\xA5...".
    m.tensors = {{"ascii", code(DType::kU8), {1}, Role::kOther},
                 {"emoji.\xF0\x9F\x99\x82", code(DType::kU8), {1}, Role::kOther},
                 {"z", code(DType::kU8), {1}, Role::kOther},
                 {"\xC3\xA9", code(DType::kU8), {1}, Role::kOther},
                 {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E.weight", code(DType::kU8), {1}, Role::kOther}};
    s.valid("valid-unicode-names", "format.md §4.2",
            "UTF-8 names of 1 to 4 byte sequences, sorted by their bytes (not by code point tables)", m);
  }
  {
    Model m = base();
    m.tensors = {{std::string(4096, 'n'), code(DType::kU8), {1}, Role::kOther}};
    s.valid("valid-name-at-limit", "format.md §9", "a tensor name of exactly 4096 bytes (the default limit)", m);
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kU8), {1}, Role::kOther}};
    m.tensors[0].shape.assign(64, 1);
    s.valid("valid-rank-at-limit", "format.md §9", "a tensor of rank 64 (the default limit)", m);
  }
  {
    Model m = base();
    auto& h = m.info.hyperparameters;
    h["b.true"] = owf::Value(true);
    h["b.false"] = owf::Value(false);
    h["i.i64.min"] = owf::Value(std::numeric_limits<std::int64_t>::min());
    h["i.i64.max"] = owf::Value(std::numeric_limits<std::int64_t>::max());
    h["i.u8"] = owf::Value(std::int64_t{255}, owf::IntType::kU8);
    h["i.i8"] = owf::Value(std::int64_t{-128}, owf::IntType::kI8);
    h["i.u16"] = owf::Value(std::int64_t{65535}, owf::IntType::kU16);
    h["i.i16"] = owf::Value(std::int64_t{-32768}, owf::IntType::kI16);
    h["i.u32"] = owf::Value(std::int64_t{4294967295}, owf::IntType::kU32);
    h["i.i32"] = owf::Value(std::int64_t{-2147483648ll}, owf::IntType::kI32);
    h["i.u64.max"] = owf::Value(std::int64_t{-1}, owf::IntType::kU64);
    h["f.f64"] = owf::Value(3.141592653589793);
    h["f.f64.neg-zero"] = owf::Value(-0.0);
    h["f.f64.inf"] = owf::Value(std::numeric_limits<double>::infinity());
    h["f.f32"] = owf::Value(static_cast<double>(0.1f), owf::FloatType::kF32);
    h["s.ascii"] = owf::Value(std::string("llama"));
    h["s.unicode"] = owf::Value(std::string("\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82"));
    h["s.empty"] = owf::Value(std::string());
    h["a.bool"] = owf::Value(std::vector<bool>{true, false, true});
    h["a.int.i32"] = owf::Value(std::vector<std::int64_t>{-1, 0, 2147483647}, owf::IntType::kI32);
    h["a.int.empty"] = owf::Value(std::vector<std::int64_t>{});
    h["a.float.f32"] = owf::Value(std::vector<double>{0.5, -2.0, 1e30f}, owf::FloatType::kF32);
    h["a.float.f64"] = owf::Value(std::vector<double>{1e-300, 2.5});
    h["a.string"] = owf::Value(std::vector<std::string>{"a", "", "\xC3\xA9"});
    h["model_type-2.layer_count"] = owf::Value(std::int64_t{12}, owf::IntType::kU32);
    // The file must carry every value as given, -0.0 included (operator== of
    // doubles does not tell -0.0 from 0.0).
    const Bytes bytes = build(m).bytes;
    auto file = owf::File::open_buffer(bytes);
    if (!file.ok()) throw std::logic_error("valid-hyperparameters: " + file.error().to_string());
    if (file->info() != m.info ||
        !std::signbit(std::get<double>(file->info().hyperparameters.at("f.f64.neg-zero").data)))
      throw std::logic_error("valid-hyperparameters: the file does not carry the hyperparameters as given");
    s.valid("valid-hyperparameters", "format.md §4.4",
            "a hyperparameter of every value type, integer types at their bounds, F32 values exactly representable", m);
  }
  {
    Model m = base();
    m.info.metadata = {{"format", "pt"}, {"note", "\xE6\x97\xA5\xE6\x9C\xAC"}, {"z.empty", ""}};
    owf::License& l = *m.info.license;
    l.spdx = "(Apache-2.0 WITH LLVM-exception OR MIT) AND LicenseRef-Custom";
    l.concluded = "MIT";
    l.name = "Custom terms";
    l.url = "https://example.org/license";
    l.text = "Permission is granted...";
    l.copyright = {"2024 Example Org", "2025 Someone Else"};
    l.attribution = "Built with Example";
    l.restrictions = "No use for evil.";
    owf::Provenance& p = m.info.provenance;
    p.name = "tiny";
    p.version = "1.0";
    p.architecture = "mlp";
    p.description = "a conformance file";
    p.authors = {"A. Author", "B. Author"};
    p.source_url = "https://example.org/tiny";
    p.base_models = {{"base", owf::internal::sha256(pattern(4, 9))}, {"", {}}};
    p.training_data = "none";
    p.software = "generate.cpp";
    p.created = "2025-01-01T00:00:00Z";
    s.valid("valid-metadata-license-provenance", "format.md §4.5-4.7",
            "string metadata, a license with every field and a compound SPDX expression, full provenance", m);
  }
  {
    Model m = base();
    m.info.license = license("NOASSERTION");
    s.valid("valid-license-noassertion", "format.md §4.6", "license NOASSERTION", m);
  }
  {
    Model m = base();
    m.info.license = license(
        "(GPL-2.0+ WITH Classpath-exception-2.0 OR mit) AND DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2 AND "
        "LicenseRef-x.1 WITH llvm-exception AND  apache-2.0 ");
    m.info.license->concluded = std::string(64, '(') + "BSD-3-Clause" + std::string(64, ')');
    s.valid("valid-license-spdx-forms", "format.md §4.6",
            "SPDX forms: a deprecated identifier with '+' and an exception, identifiers and an exception in lower "
            "case, DocumentRef, LicenseRef WITH an exception, extra spaces; concluded nested 64 deep",
            m);
  }
  {
    Model m = raw_model({.license = [](Fbb& fbb) {
      const auto spdx = fbb.CreateString("NONE");
      const auto concluded = fbb.CreateString("");
      return owf::fb::CreateLicense(fbb, spdx, concluded);
    }});
    s.valid("valid-license-concluded-empty", "format.md §4.6",
            "license NONE with license.concluded present and empty (0 bytes): not checked, like an absent one", m);
  }
  s.valid("valid-required-features-as-set", "format.md §8 (R12)",
          "required_features lists zstd twice and no tensor is compressed: the list is a set, unused features "
          "are not errors",
          raw_model({.features = {"zstd", "zstd"}}));
  {
    Model m = base();
    m.edit_file = [](Bytes& b) {
      put_u16(b, 10, 7);
      put_u16(b, footer_at(b) + 50, 7);
    };
    s.valid("valid-minor-version", "format.md §2", "version 1.7: readers accept any minor version of major 1", m);
  }
}

// ---------------------------------------------------------------------------
// Invalid files, one or more per rule of format.md §8

void framing_cases(Suite& s) {
  const Bytes good = build(base()).bytes;
  s.invalid_bytes("r01-empty-file", "R1", "an empty file", {}, "truncated");
  s.invalid_bytes("r01-127-bytes", "R1", "the first 127 bytes of a valid file", Bytes(good.begin(), good.begin() + 127),
                  "truncated");
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[0] = std::byte{0x88}; };
    s.invalid("r02-bad-magic", "R2", "first magic byte 0x88 instead of 0x89", m, "bad_magic");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[4] = std::byte{'\n'}; };
    s.invalid("r02-magic-text-mode", "R2", "the magic's CR became LF, as after a text-mode transfer", m, "bad_magic");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { std::memcpy(b.data(), "GGUF", 4); };
    s.invalid("r02-other-format", "R2", "a file starting with another format's magic", m, "bad_magic");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) {
      put_u16(b, 8, 2);
      put_u16(b, footer_at(b) + 48, 2);
    };
    s.invalid("r03-major-version-2", "R3", "major version 2 in header and footer", m, "unsupported_version");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { put_u16(b, 8, 0); };
    s.invalid("r03-major-version-0", "R3", "major version 0 in the header", m, "unsupported_version");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[40] = std::byte{1}; };
    s.invalid("r04-header-reserved", "R4", "header byte 40 (reserved) is 1", m, "bad_header");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b.back() = std::byte{0}; };
    s.invalid("r05-footer-magic", "R5", "last byte of the footer magic is 0", m, "bad_footer_magic");
  }
  s.invalid_bytes("r05-truncated-tail", "R5", "a valid file missing its last 8 bytes",
                  Bytes(good.begin(), good.end() - 8), "bad_footer_magic");
  s.invalid_bytes("r05-truncated-data", "R5", "a valid file cut in its data section (first 140 bytes)",
                  Bytes(good.begin(), good.begin() + 140), "bad_footer_magic");
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[footer_at(b) + 53] = std::byte{1}; };
    s.invalid("r06-footer-reserved", "R6", "footer reserved byte (footer offset 53) is 1", m, "bad_footer");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { put_u16(b, footer_at(b) + 50, 1); };
    s.invalid("r07-version-mismatch", "R7", "header says 1.0, footer says 1.1", m, "version_mismatch");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { put_u16(b, footer_at(b) + 48, 2); };
    s.invalid("r07-major-mismatch", "R7", "header says 1.0, footer says 2.0", m, "version_mismatch");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { put_u64(b, footer_at(b) + 8, 1ull << 63); };
    s.invalid("r08-manifest-length-2p63", "R8", "the footer declares a manifest of 2^63 bytes", m, "limit_exceeded");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { put_u64(b, footer_at(b) + 8, (1ull << 30) + 8); };
    s.invalid("r08-manifest-over-limit", "R8", "the footer declares a manifest of 1 GiB + 8 bytes", m,
              "limit_exceeded");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) {
      const std::size_t f = footer_at(b);
      put_u64(b, f, 0);
      put_u64(b, f + 8, f);
    };
    s.invalid("r09-manifest-in-header", "R9", "manifest_offset 0: the manifest would overlap the header", m,
              "manifest_out_of_range");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { put_u64(b, footer_at(b) + 8, get_u64(b, footer_at(b) + 8) - 8); };
    s.invalid("r09-manifest-short", "R9", "the manifest range ends 8 bytes before the footer", m,
              "manifest_out_of_range");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) {
      const std::size_t f = footer_at(b);
      put_u64(b, f, ~std::uint64_t{63});
      put_u64(b, f + 8, 16);
    };
    s.invalid("r09-manifest-offset-wraps", "R9", "manifest_offset 2^64-64: offset + length overflows", m,
              "manifest_out_of_range");
  }
  {
    // Four zero bytes before the manifest, and the footer pointing past them.
    Model m = base();
    m.edit_file = [](Bytes& b) {
      const std::size_t f = footer_at(b);
      const std::uint64_t offset = get_u64(b, f);
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(offset), 4, std::byte{0});
      put_u64(b, f + 4, offset + 4);
    };
    s.invalid("r09-manifest-unaligned", "R9", "manifest_offset 148 is not a multiple of 8", m, "manifest_out_of_range");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[footer_at(b) + 16] ^= std::byte{1}; };
    s.invalid("r10-footer-digest", "R10", "one bit of the footer's manifest digest flipped", m,
              "manifest_digest_mismatch");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[get_u64(b, footer_at(b)) + 20] ^= std::byte{0x40}; };
    s.invalid("r10-manifest-byte", "R10", "one bit of the manifest flipped, digest unchanged", m,
              "manifest_digest_mismatch");
  }
}

void manifest_cases(Suite& s) {
  {
    Model m = base();
    m.edit_manifest = [](Bytes& b) { std::memcpy(b.data() + 4, "OWF2", 4); };
    s.invalid("r11-wrong-identifier", "R11", "FlatBuffers identifier OWF2 instead of OWF1", m, "manifest_invalid");
  }
  {
    Model m = base();
    m.edit_manifest = [](Bytes& b) {
      const Bytes noise = pattern(b.size(), 11);
      for (std::size_t i = 8; i < b.size(); ++i) b[i] = noise[i];
    };
    s.invalid("r11-garbage", "R11", "identifier OWF1 followed by random bytes", m, "manifest_invalid");
  }
  {
    Model m = base();
    m.edit_manifest = [](Bytes& b) { put_u64(b, 0, 0xFFFFFF00u | (get_u64(b, 0) & ~0xFFFFFFFFull)); };
    s.invalid("r11-root-out-of-range", "R11", "the root table offset points far outside the manifest", m,
              "manifest_invalid");
  }
  {
    Model m = base();
    m.edit_manifest = [](Bytes& b) {
      flatbuffers::FlatBufferBuilder fbb;
      owf::fb::ManifestBuilder mb(fbb);
      mb.add_alignment(64);
      b = finish_raw(fbb, mb.Finish());
    };
    m.tensors.clear();
    s.invalid("r11-missing-license", "R11", "a manifest without the required license table", m, "manifest_invalid");
  }
  {
    Model m = base();
    m.edit_manifest = [](Bytes& b) { b.resize(b.size() / 2); };
    s.invalid("r11-cut-manifest", "R11", "the first half of a manifest, framed and digested as if whole", m,
              "manifest_invalid");
  }
  {
    // IntArray values at a position 4 past a multiple of 8: the verifier
    // checks vectors for 4-byte alignment only.
    Model m = raw_model(
        {.hyperparameter = raw_hyperparameter("x", static_cast<std::uint8_t>(owf::fb::Value::IntArray), [](Fbb& fbb) {
           const std::int64_t values[] = {1, 2};
           fbb.Align(4);
           // Built back to front: the elements end up at (final size - size
           // after pushing them), and the final size is a multiple of 8.
           if ((fbb.GetSize() + sizeof values) % 8 == 0) fbb.Pad(4);
           fbb.StartVector(2 * std::size(values), sizeof(std::uint32_t));
           fbb.PushBytes(reinterpret_cast<const std::uint8_t*>(values), sizeof values);
           const flatbuffers::Offset<flatbuffers::Vector<std::int64_t>> v(fbb.EndVector(std::size(values)));
           return owf::fb::CreateIntArray(fbb, v).Union();
         })});
    const auto edit = m.edit_manifest;
    m.edit_manifest = [edit](Bytes& b) {
      edit(b);
      const auto* a = owf::fb::GetManifest(b.data())->hyperparameters()->Get(0)->value_as_IntArray();
      if ((reinterpret_cast<const std::byte*>(a->values()->Data()) - b.data()) % 8 != 4)
        throw std::logic_error("r11-misaligned-int-array: the values are not misaligned");
    };
    s.invalid("r11-misaligned-int-array", "R11",
              "an IntArray hyperparameter whose 8-byte values start 4 bytes past an 8-byte boundary", m,
              "manifest_invalid");
  }
  {
    Model m = base();
    m.tensors.clear();
    m.info.provenance.base_models.assign(1100, {"", {}});
    s.invalid("r11-too-many-tables", "R11",
              "1103 tables (root, license, provenance, 1100 base models) with max_tensors = 1 and "
              "max_metadata_entries = 1: over 2 x 1 + 3 x 1 + 1024",
              m, "manifest_invalid", {{"max_tensors", 1}, {"max_metadata_entries", 1}});
  }
  {
    Model m = base();
    m.features = {"teleportation"};
    s.invalid("r12-unknown-feature", "R12", "required_features lists a feature no reader knows", m,
              "unknown_required_feature");
  }
  {
    Model m = base();
    m.features = {"teleportation"};
    m.edit_model = [](ManifestModel& mm) {
      mm.alignment = 3;
      mm.tensors[0].dtype = static_cast<DType>(999);
    };
    s.invalid("r12-unknown-feature-first", "R12",
              "an unknown required feature is reported before the file's other defects (alignment 3, dtype 999)", m,
              "unknown_required_feature");
  }
  for (const auto& [id, value, what] : {std::tuple{"r13-alignment-3", 3ull, "alignment 3 (not a power of two)"},
                                        std::tuple{"r13-alignment-0", 0ull, "alignment 0"},
                                        std::tuple{"r13-alignment-2p22", 1ull << 22, "alignment 2^22 (over 2^21)"}}) {
    Model m = base();
    const std::uint64_t v = value;
    m.edit_model = [v](ManifestModel& mm) { mm.alignment = v; };
    s.invalid(id, "R13", what, m, "bad_alignment");
  }
  {
    Model m = base();
    m.alignment = 128;
    s.invalid("r13-alignment-over-reader-limit", "R13", "alignment 128 with a reader limit max_alignment = 64", m,
              "bad_alignment", {{"max_alignment", 64}});
  }
  {
    Model m = base();
    m.tensors.push_back({"c", code(DType::kU8), {1}, Role::kOther});
    s.invalid("r14-too-many-tensors", "R14", "3 tensors with a reader limit max_tensors = 2", m, "limit_exceeded",
              {{"max_tensors", 2}});
  }
}

// R35: manifests written with the generated code, where offsets share one
// object or bytes hide outside every object. No tensor has data, so each
// file is otherwise valid.
namespace coverage {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

const owf::Sha256Digest kEmptyDigest = owf::internal::sha256({});
const std::vector<std::uint64_t> kShape = {0, 3};

// U8 [0, 3]: no bytes, so no data section is needed.
Offset<owf::fb::Tensor> empty_tensor(FlatBufferBuilder& fbb, Offset<flatbuffers::String> name,
                                     Offset<flatbuffers::Vector<std::uint64_t>> shape) {
  const owf::fb::Sha256 digest(flatbuffers::span<const std::uint8_t, 32>(kEmptyDigest.data(), 32));
  return owf::fb::CreateTensor(fbb, name, code(DType::kU8), shape, owf::fb::Role::Other, 0, 0, owf::fb::Codec::None,
                               &digest);
}

Offset<owf::fb::Manifest> manifest_with(FlatBufferBuilder& fbb, std::vector<Offset<owf::fb::Tensor>> tensors,
                                        std::vector<Offset<owf::fb::KeyValue>> metadata = {}) {
  const auto t = tensors.empty() ? 0 : fbb.CreateVector(tensors);
  const auto md = metadata.empty() ? 0 : fbb.CreateVector(metadata);
  return owf::fb::CreateManifest(fbb, 64, 0, t, 0, md, owf::fb::CreateLicense(fbb, fbb.CreateString("MIT")));
}

Model raw(std::function<Offset<owf::fb::Manifest>(FlatBufferBuilder&)> make, std::function<void(Bytes&)> after = {}) {
  Model m = base();
  m.tensors.clear();
  m.edit_manifest = [make, after](Bytes& b) {
    FlatBufferBuilder fbb;
    b = finish_raw(fbb, make(fbb));
    if (after) after(b);
    b.resize(owf::internal::align_up(b.size(), 8), std::byte{0});
  };
  return m;
}

// The weights digest of empty tensors with these names.
owf::Sha256Digest digest_of(std::vector<std::string> names) {
  std::vector<owf::DigestEntry> entries;
  for (const auto& n : names) entries.push_back({n, DType::kU8, kShape, kEmptyDigest});
  return owf::weights_digest_of(std::move(entries));
}

}  // namespace coverage

void coverage_cases(Suite& s) {
  using namespace coverage;
  auto shape = [](FlatBufferBuilder& fbb) { return fbb.CreateVector(kShape); };
  s.valid_raw("valid-shared-vtables", "format.md §4.8", "three tensor tables share one vtable, as builders write them",
              raw([&](FlatBufferBuilder& fbb) {
                std::vector<Offset<owf::fb::Tensor>> list;
                for (const char* name : {"a", "b", "c"})
                  list.push_back(empty_tensor(fbb, fbb.CreateString(name), shape(fbb)));
                return manifest_with(fbb, list);
              }),
              3, digest_of({"a", "b", "c"}));
  s.invalid("r35-shared-shape", "R35", "two tensors' shape offsets reach one vector", raw([&](FlatBufferBuilder& fbb) {
              const auto one = shape(fbb);
              return manifest_with(
                  fbb, {empty_tensor(fbb, fbb.CreateString("a"), one), empty_tensor(fbb, fbb.CreateString("b"), one)});
            }),
            "manifest_invalid");
  s.invalid("r35-tensor-listed-twice", "R35",
            "the tensors vector holds one table twice (refused as shared before names are compared)",
            raw([&](FlatBufferBuilder& fbb) {
              const auto t = empty_tensor(fbb, fbb.CreateString("a"), shape(fbb));
              return manifest_with(fbb, {t, t});
            }),
            "manifest_invalid");
  s.invalid("r35-shared-name", "R35", "two tensors' names reach one string", raw([&](FlatBufferBuilder& fbb) {
              const auto name = fbb.CreateString("a");
              return manifest_with(fbb, {empty_tensor(fbb, name, shape(fbb)), empty_tensor(fbb, name, shape(fbb))});
            }),
            "manifest_invalid");
  s.invalid("r35-shared-metadata-value", "R35", "two metadata entries' values reach one string",
            raw([&](FlatBufferBuilder& fbb) {
              const auto value = fbb.CreateString(std::string(1000, 'v'));
              return manifest_with(fbb, {},
                                   {owf::fb::CreateKeyValue(fbb, fbb.CreateString("a"), value),
                                    owf::fb::CreateKeyValue(fbb, fbb.CreateString("b"), value)});
            }),
            "manifest_invalid");
  s.invalid("r35-hidden-bytes", "R35", "eight non-zero bytes after the last object of the manifest",
            raw(
                [&](FlatBufferBuilder& fbb) {
                  return manifest_with(fbb, {empty_tensor(fbb, fbb.CreateString("a"), shape(fbb))});
                },
                [](Bytes& b) {
                  for (char c : std::string_view("HIDDEN!!")) b.push_back(static_cast<std::byte>(c));
                }),
            "manifest_invalid");
  s.valid_raw("valid-zero-bytes-after-objects", "format.md §4.8",
              "sixteen zero bytes after the last object of the manifest",
              raw(
                  [&](FlatBufferBuilder& fbb) {
                    return manifest_with(fbb, {empty_tensor(fbb, fbb.CreateString("a"), shape(fbb))});
                  },
                  [](Bytes& b) { b.resize(b.size() + 16, std::byte{0}); }),
              1, digest_of({"a"}));
  s.invalid(
      "r35-table-padding", "R35", "a non-zero padding byte inside a tensor table, between its fields",
      raw(
          [&](FlatBufferBuilder& fbb) {
            return manifest_with(fbb, {empty_tensor(fbb, fbb.CreateString("a"), shape(fbb))});
          },
          [](Bytes& b) {
            // The tensor table holds dtype (2 bytes) and role, codec (1 byte
            // each) among 8-byte fields: find a byte no field covers.
            const auto* t = reinterpret_cast<const std::uint8_t*>(owf::fb::GetManifest(b.data())->tensors()->Get(0));
            const auto* vt = t - flatbuffers::ReadScalar<std::int32_t>(t);
            const std::uint16_t vsize = flatbuffers::ReadScalar<std::uint16_t>(vt);
            const std::uint16_t object = flatbuffers::ReadScalar<std::uint16_t>(vt + 2);
            const auto* tt = owf::fb::TensorTypeTable();
            std::vector<bool> used(object, false);
            for (std::size_t f = 0; 4 + 2 * f < vsize; ++f) {
              const std::uint16_t at = flatbuffers::ReadScalar<std::uint16_t>(vt + 4 + 2 * f);
              if (at == 0) continue;
              const auto c = tt->type_codes[f];
              const auto* ref = c.sequence_ref >= 0 ? tt->type_refs[c.sequence_ref]() : nullptr;
              const std::size_t size =
                  c.is_repeating ? 4
                                 : flatbuffers::InlineSize(static_cast<flatbuffers::ElementaryType>(c.base_type), ref);
              for (std::size_t k = at; k < at + size; ++k) used[k] = true;
            }
            for (std::size_t k = 4; k < object; ++k)
              if (!used[k]) {
                b[static_cast<std::size_t>(t - reinterpret_cast<const std::uint8_t*>(b.data())) + k] = std::byte{0x5A};
                return;
              }
            throw std::logic_error("r35-table-padding: the tensor table has no padding byte");
          }),
      "manifest_invalid");
  auto future_field = [](FlatBufferBuilder& fbb) {
    const auto license = owf::fb::CreateLicense(fbb, fbb.CreateString("MIT"));
    const auto extra = fbb.CreateString("a field of a later version");
    owf::fb::ManifestBuilder mb(fbb);
    mb.add_license(license);
    fbb.AddOffset(4 + 2 * 9, extra);  // field 9: past signatures (7) and shard_set (8)
    return mb.Finish();
  };
  s.invalid("r35-unknown-field", "R35", "a 1.0 manifest with a field the 1.0 schema does not have", raw(future_field),
            "manifest_invalid");
  {
    Model m = raw(future_field);
    m.minor = 4;
    s.valid("valid-newer-minor-unknown-field", "versioning.md",
            "version 1.4: a manifest field a 1.3 reader does not know is skipped, its bytes unchecked", m);
  }
}

void tensor_cases(Suite& s) {
  auto one = [](std::string name) {
    Model m = base();
    m.tensors = {{std::move(name), code(DType::kU8), {2}, Role::kOther}};
    return m;
  };
  s.invalid("r15-empty-name", "R15", "a tensor with an empty name", one(""), "bad_tensor_name");
  s.invalid("r15-name-over-limit", "R15", "a tensor name of 4097 bytes (limit 4096)", one(std::string(4097, 'n')),
            "limit_exceeded");
  s.invalid("r15-name-nul", "R15", "a tensor name containing a NUL byte", one(std::string("a\0b", 3)),
            "bad_tensor_name");
  s.invalid("r15-name-overlong-utf8", "R15", "name with an overlong encoding of '/' (C0 AF)", one("a\xC0\xAF"),
            "bad_utf8");
  s.invalid("r15-name-surrogate", "R15", "name with an encoded UTF-16 surrogate (ED A0 80)", one("a\xED\xA0\x80"),
            "bad_utf8");
  s.invalid("r15-name-above-u10ffff", "R15", "name with a code point above U+10FFFF (F4 90 80 80)",
            one("a\xF4\x90\x80\x80"), "bad_utf8");
  s.invalid("r15-name-cut-sequence", "R15", "name ending inside a multi-byte sequence", one("a\xE6\x97"), "bad_utf8");
  s.invalid("r15-name-lone-continuation", "R15", "name with a lone continuation byte", one("a\x80z"), "bad_utf8");
  for (const auto& [id, value] :
       {std::pair{"r16-dtype-0", 0}, std::pair{"r16-dtype-99", 99}, std::pair{"r16-dtype-65535", 65535}}) {
    Model m = base();
    const int v = value;
    m.edit_model = [v](ManifestModel& mm) { mm.tensors[0].dtype = static_cast<DType>(v); };
    s.invalid(id, "R16", "dtype code " + std::to_string(v) + " is not in §5", m, "unknown_dtype");
  }
  for (const auto& [id, dtype, feature] : {std::tuple{"r16-nvfp4-feature-unlisted", DType::kNVFP4, "nvfp4"},
                                           std::tuple{"r16-q1-0-feature-unlisted", DType::kQ1_0, "q1_0"},
                                           std::tuple{"r16-q2-0-feature-unlisted", DType::kQ2_0, "q2_0"}}) {
    Model m = base();
    m.minor = 1;
    m.features = {"zstd"};  // listed but not the one the dtype needs
    m.tensors = {{"w", code(dtype), {1, owf::dtype_info(dtype)->block_elements}, Role::kWeight}};
    s.invalid(id, "R16",
              std::string("version 1.1: a ") + std::string(owf::dtype_name(dtype)) +
                  " tensor in a file whose required_features does not list " + feature,
              m, "unknown_dtype");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kU8), std::vector<std::uint64_t>(65, 1), Role::kOther}};
    s.invalid("r17-rank-65", "R17", "a tensor of rank 65 (limit 64)", m, "limit_exceeded");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kU8), {1ull << 32, 1ull << 32, 2}, Role::kOther, pattern(8, 1)}};
    s.invalid("r18-element-count-overflow", "R18", "shape [2^32, 2^32, 2]: 2^65 elements", m, "shape_overflow");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kF32), {1ull << 62}, Role::kOther, pattern(8, 1)}};
    s.invalid("r18-byte-size-overflow", "R18", "F32 shape [2^62]: the elements fit, 2^64 bytes do not", m,
              "shape_overflow");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kQ8_0), {(1ull << 59) - 1, 32}, Role::kOther, pattern(34, 1)}};
    s.invalid("r18-block-byte-size-overflow", "R18",
              "Q8_0 shape [2^59-1, 32]: 2^64-32 elements fit, their 34 bytes per 32 elements do not", m,
              "shape_overflow");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kQ8_0), {(1ull << 59) - 1, 31}, Role::kOther, pattern(34, 1)}};
    s.invalid("r18-overflow-before-partial-block", "R18",
              "Q8_0 shape [2^59-1, 31]: the byte size overflows (R18) and rows are partial blocks (R19)", m,
              "shape_overflow");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kQ4_0), {2, 31}, Role::kOther, pattern(36, 1)}};
    s.invalid("r19-partial-block", "R19", "Q4_0 with an innermost dimension of 31 (block size 32)", m,
              "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kQ4_K), {2, 128}, Role::kOther, pattern(144, 1)}};
    s.invalid("r19-k-quant-partial-block", "R19", "Q4_K with an innermost dimension of 128 (block size 256)", m,
              "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kMXFP4), {16}, Role::kOther, pattern(17, 1)}};
    s.invalid("r19-mxfp4-partial-block", "R19", "MXFP4 [16] (block size 32)", m, "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kQ4_0), {0, 31}, Role::kOther, Bytes{}}};
    s.invalid("r19-zero-rows-partial-block", "R19",
              "Q4_0 [0, 31]: no elements, but rows of 31 are not whole blocks of 32", m, "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kQ8_0), {}, Role::kOther, pattern(34, 1)}};
    s.invalid("r19-scalar-block-type", "R19", "a rank-0 Q8_0 tensor (one element, not a whole block)", m,
              "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].role = static_cast<Role>(6); };
    s.invalid("r20-role-6", "R20", "role code 6", m, "unknown_role");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].codec = static_cast<owf::Codec>(3); };
    s.invalid("r21-codec-3", "R21", "codec code 3", m, "unknown_codec");
  }
  {
    Model m = base();
    m.tensors[0].data = pattern(20, 1);
    s.invalid("r21-stored-short", "R21", "F32 [2,3] storing 20 bytes instead of 24", m, "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.tensors[0].data = pattern(28, 1);
    s.invalid("r21-stored-long", "R21", "F32 [2,3] storing 28 bytes instead of 24", m, "tensor_size_mismatch");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].chunk_length = 16; };
    s.invalid("r21-chunk-length-uncompressed", "R21", "an uncompressed tensor with chunk_length 16", m,
              "bad_chunk_table");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].offset = 96; };
    s.invalid("r22-misaligned", "R22", "offset 96 with alignment 64", m, "misaligned_tensor");
  }
  {
    Model m = base();
    m.tensors.push_back({"c.empty", code(DType::kF32), {0}, Role::kOther});
    m.edit_model = [](ManifestModel& mm) { mm.tensors[2].offset = 64; };
    s.invalid("r22-empty-tensor-offset", "R22", "an empty tensor with offset 64 instead of 0", m, "misaligned_tensor");
  }
  {
    Model m = base();
    m.tensors[1].name = "a.weight";
    s.invalid("r23-duplicate-name", "R23", "two tensors named a.weight", m, "duplicate_tensor_name");
  }
  {
    Model m = base();
    m.tensors = {{"tensor.a", code(DType::kU8), {2}, Role::kOther}, {"tensor.b", code(DType::kU8), {2}, Role::kOther}};
    unsort(m, "tensor.a", "tensor.b", "tensor.x");
    s.invalid("r23-unsorted-names", "R23", "tensors listed as tensor.x, tensor.a", m, "tensor_names_unsorted");
  }
}

void metadata_cases(Suite& s) {
  {
    Model m = base();
    m.info.hyperparameters = {{"a", owf::Value(true)}, {"b", owf::Value(true)}};
    m.info.metadata = {{"c", "x"}};
    s.invalid("r24-too-many-entries", "R24", "2 hyperparameters + 1 metadata entry with max_metadata_entries = 2", m,
              "limit_exceeded", {{"max_metadata_entries", 2}});
  }
  auto hp = [](std::string key, owf::Value v) {
    Model m = base();
    m.info.hyperparameters[std::move(key)] = std::move(v);
    return m;
  };
  s.invalid("r25-key-space", "R25", "hyperparameter key 'model name' (space)", hp("model name", owf::Value(1)),
            "bad_hyperparameter");
  s.invalid("r25-key-empty-segment", "R25", "hyperparameter key 'a..b'", hp("a..b", owf::Value(1)),
            "bad_hyperparameter");
  s.invalid("r25-key-trailing-dot", "R25", "hyperparameter key 'a.'", hp("a.", owf::Value(1)), "bad_hyperparameter");
  s.invalid("r25-u8-256", "R25", "value 256 declared U8", hp("x", owf::Value(std::int64_t{256}, owf::IntType::kU8)),
            "bad_hyperparameter");
  s.invalid("r25-i32-array-element", "R25", "element 1 of an I8 array is 200",
            hp("x", owf::Value(std::vector<std::int64_t>{1, 200}, owf::IntType::kI8)), "bad_hyperparameter");
  s.invalid("r25-f32-inexact", "R25", "0.1 (as a double) declared F32", hp("x", owf::Value(0.1, owf::FloatType::kF32)),
            "bad_hyperparameter");
  s.invalid("r25-int-type-8", "R25", "integer type code 8",
            hp("x", owf::Value(std::int64_t{1}, static_cast<owf::IntType>(8))), "bad_hyperparameter");
  s.invalid("r25-float-type-2", "R25", "float type code 2", hp("x", owf::Value(1.0, static_cast<owf::FloatType>(2))),
            "bad_hyperparameter");
  s.invalid("r25-key-not-ascii", "R25", "hyperparameter key 'caf\u00e9' (valid UTF-8, not [A-Za-z0-9_-])",
            hp("caf\xC3\xA9", owf::Value(1)), "bad_hyperparameter");
  for (const auto& [id, type, what] : {std::tuple{"r25-union-type-0", 0, "union type 0 (NONE) with a value table"},
                                       std::tuple{"r25-union-type-9", 9, "union type 9 (after StringArray)"}}) {
    const auto t = static_cast<std::uint8_t>(type);
    Model m = raw_model({.hyperparameter = raw_hyperparameter(
                             "x", t, [](Fbb& fbb) { return owf::fb::CreateIntValue(fbb, 1).Union(); })});
    s.invalid(id, "R25", std::string("a hyperparameter with ") + what, m, "bad_hyperparameter");
  }
  {
    Model m = raw_model(
        {.hyperparameter = raw_hyperparameter("x", static_cast<std::uint8_t>(owf::fb::Value::BoolValue), [](Fbb& fbb) {
           const auto start = fbb.StartTable();
           fbb.AddElement<std::uint8_t>(owf::fb::BoolValue::VT_VALUE, 2, 0);
           return flatbuffers::Offset<void>(fbb.EndTable(start));
         })});
    s.invalid("r25-bool-value-2", "R25", "a BoolValue whose byte is 2 (booleans are 0 or 1)", m, "bad_hyperparameter");
  }
  {
    Model m = raw_model(
        {.hyperparameter = raw_hyperparameter("x", static_cast<std::uint8_t>(owf::fb::Value::BoolArray), [](Fbb& fbb) {
           const auto values = fbb.CreateVector(std::vector<std::uint8_t>{1, 0, 255});
           return owf::fb::CreateBoolArray(fbb, values).Union();
         })});
    s.invalid("r25-bool-array-element-255", "R25", "element 2 of a BoolArray is the byte 255", m, "bad_hyperparameter");
  }
  {
    Model m = base();
    m.info.hyperparameters = {{"key.a", owf::Value(1)}, {"key.b", owf::Value(2)}};
    unsort(m, "key.a", "key.b", "key.x");
    s.invalid("r25-keys-unsorted", "R25", "hyperparameters listed as key.x, key.a", m, "bad_hyperparameter");
  }
  {
    Model m = base();
    m.info.hyperparameters = {{"key.a", owf::Value(1)}, {"key.b", owf::Value(2)}};
    m.edit_manifest = [](Bytes& b) { replace_once(b, "key.b", "key.a"); };
    s.invalid("r25-keys-duplicate", "R25", "two hyperparameters named key.a", m, "bad_hyperparameter");
  }
  {
    Model m = base();
    m.info.metadata = {{"", "x"}};
    s.invalid("r26-empty-key", "R26", "a metadata entry with an empty key", m, "bad_metadata");
  }
  {
    Model m = base();
    m.info.metadata = {{"meta.a", "1"}, {"meta.b", "2"}};
    unsort(m, "meta.a", "meta.b", "meta.x");
    s.invalid("r26-keys-unsorted", "R26", "metadata listed as meta.x, meta.a", m, "bad_metadata");
  }
  {
    Model m = base();
    m.info.metadata = {{"meta.a", "1"}, {"meta.b", "2"}};
    m.edit_manifest = [](Bytes& b) { replace_once(b, "meta.b", "meta.a"); };
    s.invalid("r26-keys-duplicate", "R26", "two metadata entries named meta.a", m, "bad_metadata");
  }
  {
    Model m = base();
    m.info.metadata = {{"note", "bad \xFF byte"}};
    s.invalid("r27-metadata-utf8", "R27", "a metadata value with the byte FF", m, "bad_utf8");
  }
  s.invalid("r27-hyperparameter-utf8", "R27", "a string hyperparameter with a surrogate",
            hp("x", owf::Value(std::string("\xED\xB0\x80"))), "bad_utf8");
  {
    Model m = base();
    m.info.license->name = "caf\xC3";
    s.invalid("r27-license-utf8", "R27", "license.name ends inside a UTF-8 sequence", m, "bad_utf8");
  }
  {
    Model m = base();
    m.info.provenance.authors = {"ok", "\xC0\x80"};
    s.invalid("r27-provenance-utf8", "R27", "provenance.authors[1] is an overlong NUL", m, "bad_utf8");
  }
  {
    Model m = base();
    m.info.metadata = {{"note", std::string(17, 's')}};
    s.invalid("r27-string-over-limit", "R27", "a 17-byte metadata value with max_string_bytes = 16", m,
              "limit_exceeded", {{"max_string_bytes", 16}});
  }
  // R27 for every string field: each field once with invalid UTF-8 (a
  // trailing FF byte) and once 17 bytes long under max_string_bytes = 16.
  struct StringField {
    const char* id;
    const char* name;
    bool utf8_case;   // false where an older case already covers it
    bool limit_case;  // likewise
    std::function<void(Model&, std::string)> set;
  };
  const StringField fields[] = {
      {"metadata-key", "a metadata key", true, true,
       [](Model& m, std::string v) {
         m.info.metadata = {{v, "x"}};
       }},
      {"metadata-value", "a metadata value", false, false, nullptr},
      {"hyperparameter-key", "a hyperparameter key", true, true,
       [](Model& m, std::string v) {
         m.info.hyperparameters = {{v, owf::Value(1)}};
       }},
      {"hyperparameter-string", "a string hyperparameter", false, true,
       [](Model& m, std::string v) {
         m.info.hyperparameters = {{"x", owf::Value(v)}};
       }},
      {"hyperparameter-string-array", "element 1 of a string array hyperparameter", true, true,
       [](Model& m, std::string v) {
         m.info.hyperparameters = {{"x", owf::Value(std::vector<std::string>{"ok", v})}};
       }},
      {"license-spdx", "license.spdx", true, true, [](Model& m, std::string v) { m.info.license->spdx = v; }},
      {"license-concluded", "license.concluded", true, true,
       [](Model& m, std::string v) { m.info.license->concluded = v; }},
      {"license-name", "license.name", false, true, [](Model& m, std::string v) { m.info.license->name = v; }},
      {"license-url", "license.url", true, true, [](Model& m, std::string v) { m.info.license->url = v; }},
      {"license-text", "license.text", true, true, [](Model& m, std::string v) { m.info.license->text = v; }},
      {"license-copyright", "license.copyright[1]", true, true,
       [](Model& m, std::string v) {
         m.info.license->copyright = {"ok", v};
       }},
      {"license-attribution", "license.attribution", true, true,
       [](Model& m, std::string v) { m.info.license->attribution = v; }},
      {"license-restrictions", "license.restrictions", true, true,
       [](Model& m, std::string v) { m.info.license->restrictions = v; }},
      {"provenance-name", "provenance.name", true, true, [](Model& m, std::string v) { m.info.provenance.name = v; }},
      {"provenance-version", "provenance.version", true, true,
       [](Model& m, std::string v) { m.info.provenance.version = v; }},
      {"provenance-architecture", "provenance.architecture", true, true,
       [](Model& m, std::string v) { m.info.provenance.architecture = v; }},
      {"provenance-description", "provenance.description", true, true,
       [](Model& m, std::string v) { m.info.provenance.description = v; }},
      {"provenance-authors", "provenance.authors[1]", false, true,
       [](Model& m, std::string v) {
         m.info.provenance.authors = {"ok", v};
       }},
      {"provenance-source-url", "provenance.source_url", true, true,
       [](Model& m, std::string v) { m.info.provenance.source_url = v; }},
      {"provenance-base-model-name", "provenance.base_models[0].name", true, true,
       [](Model& m, std::string v) {
         m.info.provenance.base_models = {{v, {}}};
       }},
      {"provenance-training-data", "provenance.training_data", true, true,
       [](Model& m, std::string v) { m.info.provenance.training_data = v; }},
      {"provenance-software", "provenance.software", true, true,
       [](Model& m, std::string v) { m.info.provenance.software = v; }},
      {"provenance-created", "provenance.created", true, true,
       [](Model& m, std::string v) { m.info.provenance.created = v; }},
  };
  for (const StringField& f : fields) {
    // 16 valid bytes of the field's own syntax (a dotted key, an SPDX
    // expression), so that only R27 is broken.
    const bool spdx =
        std::string_view(f.id).starts_with("license-spdx") || std::string_view(f.id).starts_with("license-concluded");
    const std::string valid16 = spdx ? "Apache-2.0 OR MI" : "abcdefghijklmnop";
    if (f.utf8_case) {
      Model m = base();
      f.set(m, (spdx ? std::string("MIT") : std::string("abc")) + "\xFF");
      s.invalid(std::string("r27-utf8-") + f.id, "R27", std::string(f.name) + " ends with the byte FF", m, "bad_utf8");
    }
    if (f.limit_case) {
      Model m = base();
      f.set(m, spdx ? "Apache-2.0 OR MIT" : valid16 + "q");
      s.invalid(std::string("r27-limit-") + f.id, "R27",
                std::string(f.name) + " of 17 bytes with max_string_bytes = 16", m, "limit_exceeded",
                {{"max_string_bytes", 16}});
    }
  }
  {
    Model m = base();
    m.info.metadata = {{"note", std::string(16, 's') + "\xFF"}};
    s.invalid("r27-limit-before-utf8", "R27",
              "a 17-byte metadata value ending in FF with max_string_bytes = 16: the limit is checked first", m,
              "limit_exceeded", {{"max_string_bytes", 16}});
  }
  {
    Model m = base();
    m.info.hyperparameters = {{"model name 1234567", owf::Value(1)}};
    s.invalid("r27-key-limit-before-r25", "R27",
              "a 18-byte hyperparameter key with a space, max_string_bytes = 16: R27 before the key syntax (R25)", m,
              "limit_exceeded", {{"max_string_bytes", 16}});
  }
  {
    Model m = base();
    m.info.metadata = {{"m.b", "1"}, {"m.c\xFF", "2"}};
    m.edit_manifest = [](Bytes& b) { replace_once(b, "m.c\xFF", "m.a\xFF"); };
    s.invalid("r27-key-utf8-before-r26-order", "R27",
              "metadata keys m.b, then m.a FF: the second key's UTF-8 (R27) is checked before its order (R26)", m,
              "bad_utf8");
  }
  {
    Model m = base();
    m.info.license->spdx = "Apache 2.0";
    m.info.license->name = "caf\xC3";
    s.invalid("r28-spdx-before-name-utf8", "R28",
              "license.spdx 'Apache 2.0' and license.name cut inside a UTF-8 sequence: spdx is checked first", m,
              "bad_license");
  }
  {
    Model m = base();
    m.info.license->spdx = "Apache 2.0";
    m.info.license->concluded = "MIT\xFF";
    s.invalid("r28-spdx-before-concluded-utf8", "R28",
              "license.spdx 'Apache 2.0' and license.concluded not UTF-8: spdx (R27, then R28) comes first", m,
              "bad_license");
  }
  for (const auto& [id, expr, what] :
       {std::tuple{"r28-spdx-space", "Apache 2.0", "SPDX expression 'Apache 2.0'"},
        std::tuple{"r28-spdx-dangling-and", "MIT AND", "SPDX expression 'MIT AND'"},
        std::tuple{"r28-spdx-unknown-id", "Not-A-License", "SPDX identifier not on the SPDX list"},
        std::tuple{"r28-spdx-empty", "", "an empty SPDX expression"},
        std::tuple{"r28-spdx-unbalanced", "(MIT OR Apache-2.0", "unbalanced parenthesis"}}) {
    Model m = base();
    m.info.license = license(expr);
    s.invalid(id, "R28", what, m, "bad_license");
  }
  {
    Model m = base();
    m.info.license->concluded = "GPL-2.0-only WITH Not-An-Exception";
    s.invalid("r28-concluded", "R28", "license.concluded with an unknown exception", m, "bad_license");
  }
  for (const auto& [id, expr, what] :
       {std::tuple{"r28-licenseref-plus", "LicenseRef-x+", "'+' after a LicenseRef (only list identifiers take it)"},
        std::tuple{"r28-plus-after-space", "MIT +", "a space between an identifier and its '+'"},
        std::tuple{"r28-plus-inside", "GPL+2.0", "'+' inside a word"},
        std::tuple{"r28-tab", "MIT\tOR Apache-2.0", "a tab between tokens (only spaces separate them)"},
        std::tuple{"r28-no-break-space", "MIT\xC2\xA0OR Apache-2.0", "a no-break space (U+00A0) between tokens"},
        std::tuple{"r28-none-lower-case", "none", "'none': NONE is matched exactly"},
        std::tuple{"r28-noassertion-lower-case", "NoAssertion", "'NoAssertion': NOASSERTION is matched exactly"},
        std::tuple{"r28-none-in-expression", "MIT OR NONE", "NONE inside an expression"},
        std::tuple{"r28-licenseref-lower-case", "licenseref-x",
                   "'licenseref-x': the LicenseRef- prefix is matched exactly"},
        std::tuple{"r28-operator-lower-case", "MIT or Apache-2.0", "operator 'or' in lower case"},
        std::tuple{"r28-empty-licenseref", "LicenseRef-", "LicenseRef- without an idstring"},
        std::tuple{"r28-licenseref-bad-char", "LicenseRef-a_b", "'_' in a LicenseRef idstring"},
        std::tuple{"r28-documentref-without-licenseref", "DocumentRef-doc:MIT",
                   "DocumentRef- not followed by :LicenseRef-"},
        std::tuple{"r28-with-license", "MIT WITH Apache-2.0", "WITH followed by a license, not an exception"},
        std::tuple{"r28-with-after-parenthesis", "(MIT OR Apache-2.0) WITH LLVM-exception",
                   "WITH after a parenthesized expression"},
        std::tuple{"r28-exception-alone", "LLVM-exception", "an exception identifier used as a license"},
        std::tuple{"r28-exception-plus", "Apache-2.0 WITH LLVM-exception+", "'+' after an exception identifier"}}) {
    Model m = base();
    m.info.license = license(expr);
    s.invalid(id, "R28", std::string("SPDX expression: ") + what, m, "bad_license");
  }
  {
    Model m = base();
    m.info.license = license(std::string(65, '(') + "MIT" + std::string(65, ')'));
    s.invalid("r28-nesting-65", "R28", "MIT inside 65 nested parentheses (at most 64)", m, "bad_license");
  }
  {
    Model m = base();
    m.info.license->concluded = " ";
    s.invalid("r28-concluded-spaces", "R28", "license.concluded is one space: not empty, and no expression", m,
              "bad_license");
  }
}

void data_section_cases(Suite& s) {
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].offset = 192; };
    s.invalid("r29-past-data-section", "R29", "b.bias at [192, 204), past the manifest at 144", m,
              "tensor_out_of_range");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].offset = 0; };
    s.invalid("r29-in-header", "R29", "a.weight at offset 0, inside the header", m, "tensor_out_of_range");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].offset = ~std::uint64_t{63}; };
    s.invalid("r29-offset-wraps", "R29", "offset 2^64-64: offset + length overflows", m, "tensor_out_of_range");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].offset = 64; };
    s.invalid("r31-same-offset", "R31", "both tensors at offset 64", m, "tensor_overlap");
  }
  {
    Model m = base();
    m.alignment = 8;
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].offset = 80; };
    s.invalid("r31-partial-overlap", "R31", "a.weight [64, 88) and b.bias [80, 92), alignment 8", m, "tensor_overlap");
  }
  {
    Model m = base();
    m.tensors[1].gap_before = 64;
    s.invalid("r32-gap-between", "R32", "64 zero bytes between the tensors beyond the alignment padding", m,
              "uncovered_bytes");
  }
  {
    Model m = base();
    m.tensors[0].gap_before = 1;
    s.invalid("r32-gap-before-first", "R32", "the first tensor at 128 instead of 64", m, "uncovered_bytes");
  }
  {
    Model m = base();
    m.manifest_gap = 8;
    s.invalid("r32-gap-before-manifest", "R32", "the manifest at 152 instead of 144", m, "uncovered_bytes");
  }
  {
    Model m = base();
    m.tensors = {};
    m.manifest_gap = 64;
    s.invalid("r32-bytes-without-tensors", "R32", "64 bytes of data section in a file without tensors", m,
              "uncovered_bytes");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[100] = std::byte{1}; };
    s.invalid("r33-padding-between", "R33", "padding byte 100, between the tensors, is 1", m, "nonzero_padding");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[141] = std::byte{0x80}; };
    s.invalid("r33-padding-before-manifest", "R33", "padding byte 141, before the manifest, is 0x80", m,
              "nonzero_padding");
  }
  {
    Model m = base();
    m.alignment = 128;
    m.edit_file = [](Bytes& b) { b[100] = std::byte{1}; };
    s.invalid("r33-padding-before-first", "R33",
              "alignment 128: padding byte 100, between the header and the first tensor at 128, is 1", m,
              "nonzero_padding");
  }
  {
    Model m = base();
    m.tensors[1].gap_before = 64;
    m.edit_file = [](Bytes& b) { b[150] = std::byte{1}; };
    s.invalid("r32-before-r33", "R32",
              "64 bytes between the tensors beyond the alignment padding, one of them 1: R32 before R33", m,
              "uncovered_bytes");
  }
  {
    // Offset order a [64, 88), b [96, 108), c at 96: a padding byte before
    // b is 1 (R33 at b) and c overlaps b (R31 at c).
    Model m = base();
    m.tensors.push_back({"c.extra", code(DType::kU8), {4}, Role::kOther});
    m.alignment = 16;
    m.edit_model = [](ManifestModel& mm) { mm.tensors[2].offset = 96; };
    m.edit_file = [](Bytes& b) { b[90] = std::byte{1}; };
    s.invalid("r33-before-next-tensor-r31", "R33",
              "alignment 16, a.weight [64, 88), b.bias [96, 108), c.extra also at 96: padding byte 90 is 1 (R33) "
              "and c.extra overlaps b.bias (R31); the walk in offset order meets the padding first",
              m, "nonzero_padding");
  }
  {
    Model m = base();
    m.tensors.push_back({"c.extra", code(DType::kU8), {4}, Role::kOther});
    m.edit_model = [](ManifestModel& mm) {
      mm.tensors[1].offset = 64;          // b.bias overlaps a.weight (R31)
      mm.tensors[2].offset = 1ull << 40;  // c.extra out of the data section (R29)
    };
    s.invalid("r29-before-r31", "R29",
              "b.bias overlaps a.weight (R31) and c.extra lies past the data section (R29): R29 is checked for "
              "every tensor before the walk in offset order",
              m, "tensor_out_of_range");
  }
  {
    Model m = base();
    m.edit_file = [](Bytes& b) { b[70] ^= std::byte{1}; };
    s.unverifiable("r34-data-bit-flip", "R34", "one bit of a.weight's bytes flipped: opens, fails verify", m,
                   "tensor_digest_mismatch");
  }
  {
    Model m = base();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].sha256[31] ^= 0x01; };
    s.unverifiable("r34-wrong-digest", "R34", "b.bias's manifest digest has one bit flipped", m,
                   "tensor_digest_mismatch");
  }
  {
    Model m = base();
    m.tensors = {{"w", code(DType::kU8), {1}, Role::kOther}};
    m.edit_file = [](Bytes& b) { b[64] ^= std::byte{0xFF}; };
    s.unverifiable("r34-one-byte-tensor", "R34", "the only byte of a 1-byte tensor inverted", m,
                   "tensor_digest_mismatch");
  }
  // R36: canonical bytes, at verification. The manifest digests match the
  // bytes: only their encoding is wrong.
  auto one = [](const std::string& name, DType dtype, std::vector<std::uint64_t> shape, Bytes data) {
    Model m = base();
    m.tensors = {{name, code(dtype), std::move(shape), Role::kOther, std::move(data)}};
    return m;
  };
  s.unverifiable("r36-bool-2", "R36", "BOOL [4] holding the bytes 00 01 02 01",
                 one("flags", DType::kBool, {4}, Bytes{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{1}}),
                 "noncanonical_tensor_data");
  s.unverifiable("r36-bool-scalar-ff", "R36", "a rank-0 BOOL holding the byte FF",
                 one("flag", DType::kBool, {}, Bytes{std::byte{0xFF}}), "noncanonical_tensor_data");
  s.unverifiable("r36-f4-unused-nibble", "R36",
                 "F4_E2M1 [3] in 2 bytes 21 F3: the high nibble of the last byte, after the last element, is not 0",
                 one("w", DType::kF4_E2M1, {3}, Bytes{std::byte{0x21}, std::byte{0xF3}}), "noncanonical_tensor_data");
  s.unverifiable("r36-f6-e2m3-unused-bits", "R36", "F6_E2M3 [5]: 30 bits in 4 bytes, the top bit of the last byte is 1",
                 one("w", DType::kF6_E2M3, {5}, Bytes{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{0x84}}),
                 "noncanonical_tensor_data");
  s.unverifiable("r36-f6-e3m2-unused-bits", "R36", "F6_E3M2 [1]: 6 bits in 1 byte 0x45, bit 6 is 1",
                 one("w", DType::kF6_E3M2, {1}, Bytes{std::byte{0x45}}), "noncanonical_tensor_data");
  {
    Model m = one("flags", DType::kBool, {4}, Bytes{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{1}});
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].sha256[0] ^= 0x01; };
    s.unverifiable("r34-before-r36", "R34",
                   "BOOL [4] holding 00 01 02 01 (R36) whose manifest digest has one bit flipped (R34): R34 first", m,
                   "tensor_digest_mismatch");
  }
  {
    Model m = base();
    m.tensors = {{"a.flags", code(DType::kBool), {2}, Role::kOther, Bytes{std::byte{1}, std::byte{3}}},
                 {"b.data", code(DType::kU8), {2}, Role::kOther}};
    m.edit_model = [](ManifestModel& mm) { mm.tensors[1].sha256[0] ^= 0x01; };
    s.unverifiable("r36-before-next-tensor-r34", "R36",
                   "a.flags holds the BOOL byte 3 (R36), b.data's digest has one bit flipped (R34): verification "
                   "reports the first tensor in manifest order",
                   m, "noncanonical_tensor_data");
  }
}

// ---------------------------------------------------------------------------
// Compressed storage (compression.md)

// Small integers (-8..8) as little-endian I16: plain zstd shrinks them.
Bytes small_i16(std::size_t count, std::uint64_t seed) {
  const Bytes r = pattern(count, seed);
  Bytes out(2 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto v = static_cast<std::uint16_t>(static_cast<int>(std::to_integer<unsigned>(r[i]) % 17) - 8);
    out[2 * i] = static_cast<std::byte>(v & 0xFF);
    out[2 * i + 1] = static_cast<std::byte>(v >> 8);
  }
  return out;
}

// Weight-like floats built bit by bit: random sign and mantissa, exponent
// in a narrow band (magnitudes 2^-9 .. 2^-4), as little-endian F32 (or its
// top half, BF16). The sign/exponent plane compresses, the mantissa does not.
Bytes weight_floats(std::size_t count, std::uint64_t seed, bool bf16) {
  const Bytes r = pattern(4 * count, seed);
  const unsigned width = bf16 ? 2 : 4;
  Bytes out(width * count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t bits = 0;
    for (int k = 0; k < 4; ++k) bits |= std::to_integer<std::uint32_t>(r[4 * i + k]) << (8 * k);
    const std::uint32_t sign = bits >> 31;
    const std::uint32_t exponent = 118 + (bits >> 23) % 6;
    const std::uint32_t f32 = sign << 31 | exponent << 23 | (bits & 0x7FFFFF);
    const std::uint32_t value = bf16 ? f32 >> 16 : f32;
    for (unsigned k = 0; k < width; ++k) out[width * i + k] = static_cast<std::byte>((value >> (8 * k)) & 0xFF);
  }
  return out;
}

TensorDef compressed(std::string name, DType dtype, std::vector<std::uint64_t> shape, Bytes data, owf::Codec codec,
                     std::uint64_t chunk_length) {
  TensorDef t{std::move(name), code(dtype), std::move(shape), Role::kWeight, std::move(data)};
  t.codec = codec;
  t.chunk_length = chunk_length;
  return t;
}

Model compressed_model(std::vector<TensorDef> tensors) {
  Model m;
  m.info.license = license();
  m.features = {"zstd"};
  m.tensors = std::move(tensors);
  return m;
}

// The model most compression cases start from: "w", I16 [150] (300 bytes),
// Zstd in chunks of 128 logical bytes: 128, 128 and 44.
Model cbase() {
  return compressed_model({compressed("w", DType::kI16, {150}, small_i16(150, 7), owf::Codec::kZstd, 128)});
}

// Chunk 1 of cbase (logical bytes [128, 256)) replaced by a frame of `bytes`.
Model cbase_chunk1(std::function<Bytes(const Bytes& logical_chunk)> make) {
  Model m = cbase();
  const Bytes chunk(m.tensors[0].data->begin() + 128, m.tensors[0].data->begin() + 256);
  m.tensors[0].edit_frames = [make, chunk](std::vector<Bytes>& f) { f.at(1) = make(chunk); };
  return m;
}

// A valid compressed file: opens, verifies, and its weights digest is the
// one the same tensors have stored uncompressed (checked here).
void valid_compressed(Suite& s, const std::string& id, const std::string& section, const std::string& description,
                      Model m, bool must_shrink) {
  Model raw = m;
  raw.features.clear();
  for (auto& t : raw.tensors) {
    t.codec = owf::Codec::kNone;
    t.chunk_length = 0;
    t.edit_frames = nullptr;
  }
  const Built compressed_file = build(m);
  const Built raw_file = build(raw);
  if (compressed_file.weights_digest != raw_file.weights_digest)
    throw std::logic_error(id + ": weights digest differs from the uncompressed file's");
  if (must_shrink && compressed_file.bytes.size() >= raw_file.bytes.size())
    throw std::logic_error(id + ": compressed file is not smaller than the uncompressed one");
  s.valid(id, section, description + "; weights digest equal to the same tensors stored uncompressed", m);
}

void compression_cases(Suite& s) {
  using owf::Codec;
  const std::string c5 = "compression.md §5";
  // Valid files.
  valid_compressed(
      s, "valid-zstd", "compression.md §2", "I16 [32,32] of small integers, codec Zstd, one chunk (chunk_length 65536)",
      compressed_model({compressed("w", DType::kI16, {32, 32}, small_i16(1024, 11), Codec::kZstd, 65536)}), true);
  valid_compressed(s, "valid-zstd-byte-group-f32", "compression.md §3",
                   "F32 [16,32] weight-like floats, codec ZstdByteGroup (4 planes), one chunk",
                   compressed_model({compressed("w", DType::kF32, {16, 32}, weight_floats(512, 12, false),
                                                Codec::kZstdByteGroup, 65536)}),
                   true);
  valid_compressed(s, "valid-zstd-byte-group-bf16", "compression.md §3",
                   "BF16 [32,32] weight-like floats, codec ZstdByteGroup (2 planes), one chunk",
                   compressed_model({compressed("w", DType::kBF16, {32, 32}, weight_floats(1024, 13, true),
                                                Codec::kZstdByteGroup, 65536)}),
                   true);
  {
    TensorDef raw_f32{"a.raw", code(DType::kF32), {4, 8}, Role::kWeight};
    TensorDef empty{"c.empty", code(DType::kF32), {0}, Role::kOther};
    TensorDef raw_u8{"e.raw", code(DType::kU8), {5}, Role::kOther};
    Model m = compressed_model(
        {raw_f32, compressed("b.zstd", DType::kI16, {256}, small_i16(256, 14), Codec::kZstd, 65536), empty,
         compressed("d.group", DType::kBF16, {512}, weight_floats(512, 15, true), Codec::kZstdByteGroup, 65536),
         raw_u8});
    m.alignment = 16;
    valid_compressed(s, "valid-compressed-mixed", "compression.md §2",
                     "raw F32 and U8 tensors, an empty F32 (codec None), a Zstd I16 and a ZstdByteGroup BF16, "
                     "alignment 16",
                     m, true);
  }
  valid_compressed(s, "valid-compressed-multi-chunk", "compression.md §1",
                   "Zstd I16 [1000] and ZstdByteGroup F32 [500] in chunks of 512 bytes: 4 chunks each, the last "
                   "of 464 bytes",
                   compressed_model({compressed("a.int", DType::kI16, {1000}, small_i16(1000, 16), Codec::kZstd, 512),
                                     compressed("b.float", DType::kF32, {500}, weight_floats(500, 17, false),
                                                Codec::kZstdByteGroup, 512)}),
                   true);
  {
    Model m = cbase();
    m.tensors[0].edit_frames = [data = *m.tensors[0].data](std::vector<Bytes>& f) {
      f.at(0) = zstd_frame(std::span(data).first(128), {.checksum = true});
      f.at(1) = zstd_frame(std::span(data).subspan(128, 128), {.content_size = false});
    };
    valid_compressed(s, "valid-zstd-frame-options", "compression.md §4",
                     "3 chunks: the first frame has a content checksum, the second no content size, the third both "
                     "defaults",
                     m, false);
  }
  {
    Model m = cbase();
    m.tensors[0].edit_frames = [data = *m.tensors[0].data](std::vector<Bytes>& f) {
      f.at(1) = with_window(zstd_frame(std::span(data).subspan(128, 128), {.content_size = false}), 21 << 3 | 7);
      f.at(2) = zstd_frame(std::span(data).subspan(256), {.content_size = false});
      f.at(2)[4] |= std::byte{0x10};
    };
    valid_compressed(s, "valid-zstd-window-descriptors", "compression.md §4",
                     "chunk 1's frame declares the largest window allowed, 2^31 + 7 x 2^28 bytes (exponent 21, "
                     "mantissa 7), for 128 bytes; chunk 2's frame has the unused bit of its header descriptor set",
                     m, false);
  }
  {
    // Two random KiB, then the same two KiB again, in four blocks of 1 KiB;
    // the frame says its window is 1 KiB, but blocks 3 and 4 copy from 2 KiB back.
    Bytes data = pattern(2048, 22);
    data = concat(data, data);
    Model m = compressed_model({compressed("w", DType::kU8, {4096}, data, Codec::kZstd, 4096)});
    m.tensors[0].edit_frames = [data](std::vector<Bytes>& f) {
      f.at(0) = with_window(zstd_frame(data, {.content_size = false, .planes = 4}), 0);
    };
    valid_compressed(s, "valid-zstd-match-beyond-window", "compression.md §4",
                     "U8 [4096], one chunk whose frame declares a 1 KiB window and holds blocks of 1 KiB, the last "
                     "two copied from 2 KiB back: matches may reach any earlier byte of the chunk",
                     m, true);
  }
  {
    const Bytes data = pattern(2048, 23);
    Model m = compressed_model({compressed("w", DType::kU8, {2048}, data, Codec::kZstd, 2048)});
    m.tensors[0].edit_frames = [data](std::vector<Bytes>& f) {
      f.at(0) = with_window(zstd_frame(data, {.content_size = false}), 0);
      if (f.at(0).size() < 2048) throw std::logic_error("c11-block-over-window: the block is not raw");
    };
    s.unverifiable_in(c5, "c11-block-over-window", "C11",
                      "U8 [2048] of random bytes in one frame declaring a 1 KiB window: its 2 KiB block exceeds "
                      "Block_Maximum_Size, the smaller of the window and 128 KiB",
                      m, "corrupt_compressed_data");
  }
  {
    const Bytes sevens(2048, std::byte{7});
    Model m = compressed_model({compressed("w", DType::kU8, {2048}, sevens, Codec::kZstd, 2048)});
    m.tensors[0].edit_frames = [](std::vector<Bytes>& f) { f.at(0) = one_block_frame(0, 1, 2048, {std::byte{7}}); };
    s.unverifiable_in(c5, "c11-rle-block-over-window", "C11",
                      "U8 [2048] of 7s as one RLE block in a frame declaring a 1 KiB window", m,
                      "corrupt_compressed_data");
  }
  {
    const Bytes data = pattern(131073, 24);
    Model m = compressed_model({compressed("w", DType::kU8, {131073}, data, Codec::kZstd, 131073)});
    m.tensors[0].edit_frames = [data](std::vector<Bytes>& f) { f.at(0) = one_block_frame(10 << 3, 0, 131073, data); };
    s.unverifiable_in(c5, "c11-raw-block-over-128kib", "C11",
                      "U8 [131073] as one raw block of 128 KiB + 1 in a frame declaring a 1 MiB window (blocks hold "
                      "at most 128 KiB)",
                      m, "corrupt_compressed_data");
  }
  valid_compressed(
      s, "valid-chunk-length-at-limit", c5,
      "chunk_length 2^26 (the default max_chunk_bytes) for a 600-byte tensor: one chunk",
      compressed_model({compressed("w", DType::kI16, {300}, small_i16(300, 18), Codec::kZstd, 1ull << 26)}), true);

  // C1: a compressed tensor stores at least one byte.
  {
    Model m = compressed_model({compressed("w", DType::kU8, {4}, pattern(4, 1), Codec::kZstd, 4)});
    m.tensors[0].edit_frames = [](std::vector<Bytes>& f) { f.clear(); };
    s.invalid_in(c5, "c01-no-stored-bytes", "C1", "U8 [4] with codec Zstd, stored_length 0 and no chunks", m,
                 "bad_chunk_table");
  }
  {
    Model m = compressed_model({compressed("w", DType::kF32, {0}, Bytes{}, Codec::kZstd, 4)});
    s.invalid_in(c5, "c01-empty-tensor-compressed", "C1",
                 "an empty F32 [0] tensor with codec Zstd (empty tensors use codec None)", m, "bad_chunk_table");
  }
  // C2: required_features lists "zstd".
  {
    Model m = cbase();
    m.features.clear();
    s.invalid_in(c5, "c02-no-zstd-feature", "C2", "a Zstd tensor in a file whose required_features does not list zstd",
                 m, "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.features.clear();
    m.info.hyperparameters = {{"bad key", owf::Value(1)}};
    s.invalid_in(c5, "c02-before-r25", "C2",
                 "no zstd feature for a Zstd tensor, and a hyperparameter key with a space: C2 comes right after "
                 "the tensors, before R24..R28",
                 m, "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.features.clear();
    m.tensors.push_back({"x.a", code(DType::kU8), {2}, Role::kOther});
    m.tensors.push_back({"x.b", code(DType::kU8), {2}, Role::kOther});
    unsort(m, "x.a", "x.b", "x.z");
    s.invalid_in(c5, "r23-before-c02", "R23",
                 "no zstd feature for the Zstd tensor w, and tensors listed w, x.z, x.a: every tensor's rules "
                 "(R15..R23) come before C2",
                 m, "tensor_names_unsorted");
  }
  {
    Model m = compressed_model({compressed("w", DType::kU8, {24}, pattern(24, 5), Codec::kZstd, 24)});
    m.tensors[0].edit_frames = [data = pattern(24, 5)](std::vector<Bytes>& f) { f = {data}; };
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].chunk_length = 0; };
    m.edit_manifest = [](Bytes& b) {
      const auto* t = owf::fb::GetManifest(b.data())->tensors()->Get(0);
      b[field_at(b, t, owf::fb::Tensor::VT_CODEC)] = std::byte{0};
    };
    s.invalid("r21-chunks-uncompressed", "R21",
              "a codec None U8 [24] storing its 24 bytes, with chunk_length 0 but a chunk table of one chunk", m,
              "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.tensors.push_back({"x.raw", code(DType::kU8), {4}, Role::kOther});
    m.edit_model = [](ManifestModel& mm) {
      mm.tensors[0].chunk_length = 0;     // w: C5
      mm.tensors[1].offset = 1ull << 40;  // x.raw: R29
    };
    s.invalid_in(c5, "c05-before-next-tensor-r29", "C5",
                 "w has chunk_length 0 (R30, C5) and the next tensor x.raw lies past the data section (R29): R29 "
                 "and R30 run tensor by tensor",
                 m, "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.edit_model = [](ManifestModel& mm) {
      mm.tensors[0].chunk_length = 0;
      mm.tensors[0].offset = 1ull << 40;
    };
    s.invalid_in(c5, "r29-before-c05", "R29",
                 "w lies past the data section (R29) and has chunk_length 0 (R30, C5): R29 first", m,
                 "tensor_out_of_range");
  }
  {
    Bytes flags = canonical(DType::kBool, {300}, pattern(300, 21));
    flags[200] = std::byte{2};
    s.unverifiable_in(c5, "r36-compressed-bool", "R36",
                      "BOOL [300], Zstd in chunks of 128: logical byte 200 (in chunk 1) decodes to 2",
                      compressed_model({compressed("flags", DType::kBool, {300}, flags, Codec::kZstd, 128)}),
                      "noncanonical_tensor_data");
  }
  // C3..C8 (R30): the chunk table, at open.
  {
    Model m = cbase();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].codec = Codec::kZstdByteGroup; };
    s.invalid_in(c5, "c03-byte-group-i16", "C3", "codec ZstdByteGroup on an I16 tensor (defined for floats only)", m,
                 "bad_chunk_table");
  }
  {
    Model m = compressed_model({compressed("w", DType::kF32, {0}, Bytes{}, Codec::kZstd, 4)});
    m.tensors[0].edit_frames = [](std::vector<Bytes>& f) { f = {zstd_frame({})}; };
    s.invalid_in(c5, "c04-empty-tensor-with-frame", "C4",
                 "an empty F32 [0] tensor with codec Zstd storing one frame of 0 bytes", m, "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].chunk_length = 0; };
    s.invalid_in(c5, "c05-chunk-length-0", "C5", "chunk_length 0", m, "bad_chunk_table");
  }
  s.invalid_in(
      c5, "c05-chunk-length-over-limit", "C5",
      "chunk_length 2^26 + 2, over the default max_chunk_bytes 2^26 (one chunk of 600 bytes)",
      compressed_model({compressed("w", DType::kI16, {300}, small_i16(300, 18), Codec::kZstd, (1ull << 26) + 2)}),
      "limit_exceeded");
  {
    Model m = compressed_model({compressed("w", DType::kF32, {64}, weight_floats(64, 19, false), Codec::kZstd, 130)});
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].codec = Codec::kZstdByteGroup; };
    s.invalid_in(c5, "c06-byte-group-chunk-length-130", "C6",
                 "ZstdByteGroup F32 [64] with chunk_length 130, not a multiple of 4", m, "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.tensors[0].chunk_length = 150;
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].chunk_length = 128; };
    s.invalid_in(c5, "c07-too-few-chunks", "C7", "300 bytes in chunks of 128 need 3 chunks; 2 are listed", m,
                 "bad_chunk_table");
  }
  {
    Model m = cbase();
    m.tensors[0].chunk_length = 100;
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].chunk_length = 150; };
    s.invalid_in(c5, "c07-too-many-chunks", "C7", "300 bytes in chunks of 150 need 2 chunks; 3 are listed", m,
                 "bad_chunk_table");
  }
  auto chunks = [&](const std::string& id, const std::string& what,
                    std::function<void(std::vector<owf::internal::ChunkRef>&)> edit) {
    Model m = cbase();
    m.edit_model = [edit](ManifestModel& mm) { edit(mm.tensors[0].chunks); };
    s.invalid_in(c5, id, "C8", what, m, "bad_chunk_table");
  };
  chunks("c08-first-chunk-offset-1", "chunk 0 at stored offset 1 instead of 0", [](auto& c) { c[0].offset = 1; });
  chunks("c08-gap", "a 1-byte gap between chunks 0 and 1", [](auto& c) { c[1].offset += 1; });
  chunks("c08-overlap", "chunk 1 starts 1 byte before chunk 0 ends", [](auto& c) { c[1].offset -= 1; });
  chunks("c08-zero-length-chunk", "chunk 1 has stored_length 0, chunk 2 covers both frames", [](auto& c) {
    c[2].offset = c[1].offset;
    c[2].stored_length += c[1].stored_length;
    c[1].stored_length = 0;
  });
  chunks("c08-past-stored-length", "the last chunk ends 1 byte past the tensor's stored_length",
         [](auto& c) { c[2].stored_length += 1; });
  chunks("c08-short-of-stored-length", "the last chunk ends 1 byte before the tensor's stored_length",
         [](auto& c) { c[2].stored_length -= 1; });
  chunks("c08-length-wraps", "the last chunk's stored_length is 2^64-1: offset + length overflows",
         [](auto& c) { c[2].stored_length = ~std::uint64_t{0}; });

  // C9..C12: decoding, at verify. Chunk 1 (128 logical bytes) of cbase is broken.
  auto frame = [&](const std::string& id, const std::string& rule, const std::string& what,
                   std::function<Bytes(const Bytes&)> make, const std::string& error = "corrupt_compressed_data") {
    s.unverifiable_in(c5, id, rule, what, cbase_chunk1(std::move(make)), error);
  };
  frame("c09-bad-magic", "C9", "chunk 1's frame starts with 29 B5 2F FD instead of 28 B5 2F FD", [](const Bytes& c) {
    Bytes f = zstd_frame(c);
    f[0] = std::byte{0x29};
    return f;
  });
  frame("c09-skippable-frame", "C9", "chunk 1 is a skippable frame followed by the chunk's zstd frame",
        [](const Bytes& c) { return concat(skippable_frame(), zstd_frame(c)); });
  frame("c09-header-cut", "C9", "chunk 1 holds only the first 5 bytes of its frame (magic and descriptor)",
        [](const Bytes& c) {
          Bytes f = zstd_frame(c);
          f.resize(5);
          return f;
        });
  frame("c09-dictionary-id", "C9", "chunk 1's frame header declares Dictionary_ID 42", [](const Bytes& c) {
    Bytes f = zstd_frame(c);
    const auto fhd = std::to_integer<unsigned>(f[4]);
    if ((fhd & 3) != 0) throw std::logic_error("frame already has a dictionary ID");
    f[4] = static_cast<std::byte>(fhd | 1);                  // Dictionary_ID_flag 1: a 1-byte field
    const std::size_t at = 5 + ((fhd & 0x20) != 0 ? 0 : 1);  // after the Window_Descriptor, if any
    f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), std::byte{42});
    return f;
  });
  frame("c09-content-size-129", "C9", "chunk 1's frame declares (and holds) 129 bytes; the chunk has 128",
        [](const Bytes& c) { return zstd_frame(concat(c, Bytes{std::byte{0}})); });
  frame("c09-reserved-bit", "C9", "chunk 1's frame header descriptor has its reserved bit (bit 3) set",
        [](const Bytes& c) {
          Bytes f = zstd_frame(c);
          f[4] |= std::byte{0x08};
          return f;
        });
  frame("c09-window-4gib", "C9",
        "chunk 1's frame (no content size) declares a window of 4 GiB (Window_Descriptor exponent 22)",
        [](const Bytes& c) { return with_window(zstd_frame(c, {.content_size = false}), 22 << 3); });
  frame("c10-truncated-frame", "C10", "chunk 1's frame without its last byte", [](const Bytes& c) {
    Bytes f = zstd_frame(c);
    f.pop_back();
    return f;
  });
  frame("c10-trailing-bytes", "C10", "3 zero bytes after chunk 1's frame",
        [](const Bytes& c) { return concat(zstd_frame(c), Bytes(3, std::byte{0})); });
  frame("c10-second-frame", "C10", "chunk 1's frame followed by a second frame (of 0 bytes)",
        [](const Bytes& c) { return concat(zstd_frame(c), zstd_frame({})); });
  frame("c10-trailing-skippable-frame", "C10", "chunk 1's frame followed by a skippable frame",
        [](const Bytes& c) { return concat(zstd_frame(c), skippable_frame()); });
  frame("c11-decodes-short", "C11", "chunk 1's frame, without a content size, decodes to 127 of 128 bytes",
        [](const Bytes& c) { return zstd_frame(std::span(c).first(127), {.content_size = false}); });
  frame("c11-decodes-long", "C11", "chunk 1's frame, without a content size, decodes to 129 bytes (128 expected)",
        [](const Bytes& c) { return zstd_frame(concat(c, Bytes{std::byte{0}}), {.content_size = false}); });
  frame("c11-bad-checksum", "C11", "chunk 1's frame has a content checksum with one bit flipped", [](const Bytes& c) {
    Bytes f = zstd_frame(c, {.checksum = true});
    f.back() ^= std::byte{1};
    return f;
  });
  frame("c11-reserved-block-type", "C11", "chunk 1's first block has the reserved block type 3", [](const Bytes& c) {
    Bytes f = zstd_frame(c);
    // Frame header size (RFC 8878 §3.1.1.1): magic, descriptor, window
    // descriptor unless single-segment, dictionary ID, content size.
    const auto fhd = std::to_integer<unsigned>(f[4]);
    const bool single = (fhd & 0x20) != 0;
    const unsigned did[] = {0, 1, 2, 4};
    const unsigned fcs[] = {single ? 1u : 0u, 2, 4, 8};
    const std::size_t header = 5 + (single ? 0 : 1) + did[fhd & 3] + fcs[fhd >> 6];
    f.at(header) |= std::byte{0x06};
    return f;
  });
  frame(
      "c12-other-bytes", "C12", "chunk 1's frame decodes to 128 bytes other than the tensor's",
      [](const Bytes& c) { return zstd_frame(pattern(c.size(), 99)); }, "tensor_digest_mismatch");
  {
    Model m = compressed_model({compressed("w", DType::kF32, {64}, weight_floats(64, 20, false), Codec::kZstd, 65536)});
    m.edit_model = [](ManifestModel& mm) { mm.tensors[0].codec = Codec::kZstdByteGroup; };
    s.unverifiable_in(c5, "c12-byte-group-not-filtered", "C12",
                      "ZstdByteGroup F32 [64] whose frame holds the logical bytes unfiltered", m,
                      "tensor_digest_mismatch");
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Signatures (signatures.md)

// The suite's keys (also in tests/data/keys): test keys, never to be trusted.
constexpr std::string_view kEd25519Private =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJYi3arT26mU3eTHCTTsA8ml5vDygL2yFv/gOwHBbrOP\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kEd25519Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAsNWRmfZnzYng9MnBz7kEL5WCuQ3baH4jK8YCjLk9/Mg=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kOtherEd25519Private =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIMvuII1UTNRZ3boL2RbDSjoKk081zLgHhb9VT3PZqhVe\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kP256Private =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglP+lK4ykPwzMup5A\n"
    "hP3Ga/AwTBN838XSk9yFuuEVCiihRANCAATF15By70AFt73Q/bn91n3bzsKax5qR\n"
    "1QSayRgoKfYA0ncEQPQ6ESI6xnmpA4etUSpx6AGNWf/ACrEy+9UxRPyo\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kP256Public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExdeQcu9ABbe90P25/dZ9287Cmsea\n"
    "kdUEmskYKCn2ANJ3BED0OhEiOsZ5qQOHrVEqcegBjVn/wAqxMvvVMUT8qA==\n"
    "-----END PUBLIC KEY-----\n";
// ECDSA signatures are randomized: the suite keeps one, made once over the
// message of valid-signed-p256, so that the files regenerate byte for byte.
// The generator checks it and prints a fresh one when the message changed.
constexpr std::string_view kP256SignatureHex =
    "3045022100fa3ec8188f2a21e6b32232a4debf3e4ad9d5ffcb2e9835c192732106050dc4fa02205ec0dbdecfeb9cb41b6ff19eb21b4540af3e"
    "d7331da26351ff9b6d0d296c85c8";

owf::PrivateKey key_of(std::string_view pem) {
  auto k = owf::PrivateKey::from_pem(pem);
  if (!k.ok()) throw std::logic_error("suite key: " + k.error().to_string());
  return *k;
}

std::vector<std::uint8_t> from_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// The signature of `m` (as built) by `key`.
owf::Signature signature_of(const Model& m, std::string_view key_pem, owf::Covers covers) {
  const owf::PrivateKey key = key_of(key_pem);
  const owf::Sha256Digest weights = build(m).weights_digest;
  std::vector<owf::RoleEntry> roles;
  for (const auto& t : m.tensors) roles.push_back({t.name, t.role});
  const owf::Sha256Digest info = owf::info_digest_of(m.info, roles);
  auto s = owf::sign_digests(key, covers, weights, info);
  if (!s.ok()) throw std::logic_error("sign: " + s.error().to_string());
  if (key.algorithm() == "ecdsa-p256-sha256") {
    const auto kept = from_hex(kP256SignatureHex);
    auto pub = owf::PublicKey::from_pem(kP256Public);
    Model probe = m;
    owf::Signature candidate = *s;
    candidate.bytes = kept;
    probe.minor = 2;
    probe.edit_model = [candidate](ManifestModel& mm) { mm.signatures = {candidate}; };
    const Bytes probe_bytes = build(probe).bytes;
    auto file = owf::File::open_buffer(probe_bytes);
    std::vector<owf::PublicKey> trusted = {*pub};
    auto checks = file.ok() ? owf::check_signatures(*owf::source_of(std::move(*file)), trusted)
                            : owf::Result<std::vector<owf::SignatureCheck>>(file.error());
    if (!checks.ok() || checks->size() != 1 || (*checks)[0].status != owf::SignatureStatus::kValid) {
      std::string hex;
      for (auto b : s->bytes) hex += "0123456789abcdef"[b >> 4], hex += "0123456789abcdef"[b & 15];
      throw std::logic_error("kP256SignatureHex does not sign this message; set it to " + hex);
    }
    s->bytes = kept;
  }
  return *s;
}

Model with_signatures(Model m, std::vector<owf::Signature> signatures) {
  m.minor = 2;
  auto previous = m.edit_model;
  m.edit_model = [previous, signatures](ManifestModel& mm) {
    if (previous) previous(mm);
    mm.signatures = signatures;
  };
  return m;
}

void signature_cases(Suite& s) {
  s.write_file("key-ed25519.pem", kEd25519Private);
  s.write_file("key-ed25519.pub.pem", kEd25519Public);
  s.write_file("key-p256.pem", kP256Private);
  s.write_file("key-p256.pub.pem", kP256Public);
  const std::vector<std::string> ed = {"files/key-ed25519.pub.pem"};
  const std::vector<std::string> p256 = {"files/key-p256.pub.pem"};

  Model m = base();
  m.info.hyperparameters["layers"] = owf::Value(std::int64_t{2});
  m.info.provenance.name = "tiny";
  const owf::Signature full = signature_of(m, kEd25519Private, owf::Covers::kWeightsAndInfo);
  const owf::Signature weights_only = signature_of(m, kEd25519Private, owf::Covers::kWeights);
  s.signed_case("valid-signed-ed25519", "an Ed25519 signature over the weights and info digests",
                with_signatures(m, {full}), ed, {"valid"});
  s.signed_case("valid-signed-p256", "an ECDSA P-256 signature over the weights and info digests",
                with_signatures(m, {signature_of(m, kP256Private, owf::Covers::kWeightsAndInfo)}), p256, {"valid"});
  s.signed_case("valid-signed-weights-only", "an Ed25519 signature over the weights digest alone",
                with_signatures(m, {weights_only}), ed, {"valid"});
  s.signed_case("valid-signed-untrusted", "a valid signature, but no trusted key: present, not checked",
                with_signatures(m, {full}), {}, {"untrusted_key"});
  {
    Model z = m;
    z.features = {"zstd"};
    for (auto& t : z.tensors) {
      t.codec = owf::Codec::kZstd;
      t.chunk_length = 8;
    }
    s.signed_case("valid-signed-recompressed",
                  "the weights of valid-signed-ed25519 compressed (zstd, 8-byte chunks), its signature still valid",
                  with_signatures(z, {full}), ed, {"valid"});
  }
  {
    owf::Signature wrong = signature_of(m, kOtherEd25519Private, owf::Covers::kWeightsAndInfo);
    wrong.key_id = full.key_id;
    s.signed_case("valid-sig-wrong-key", "signature bytes by another key under the trusted key's id",
                  with_signatures(m, {wrong}), ed, {"invalid"});
  }
  {
    Model c = m;
    Bytes data = canonical(DType::kF32, {2, 3}, pattern(24, 1));
    data[5] ^= std::byte{1};
    c.tensors[0].data = data;
    s.signed_case("valid-sig-changed-weight-byte", "one weight byte differs from the signed file (digests updated)",
                  with_signatures(c, {full}), ed, {"invalid"});
  }
  {
    Model c = m;
    c.info.license = license("MIT");
    s.signed_case("valid-sig-changed-license", "the license differs from the signed file", with_signatures(c, {full}),
                  ed, {"invalid"});
    s.signed_case("valid-sig-weights-only-changed-license",
                  "the license differs from the signed file; a weights-only signature does not cover it",
                  with_signatures(c, {weights_only}), ed, {"valid"});
  }
  {
    Model c = m;
    c.info.hyperparameters["layers"] = owf::Value(std::int64_t{3});
    s.signed_case("valid-sig-changed-hyperparameter", "hyperparameter layers is 3, signed as 2",
                  with_signatures(c, {full}), ed, {"invalid"});
  }
  {
    Model c = m;
    c.tensors[1].name = "c.bias";
    s.signed_case("valid-sig-renamed-tensor", "tensor b.bias renamed c.bias after signing", with_signatures(c, {full}),
                  ed, {"invalid"});
  }
  {
    Model c = m;
    c.tensors[1].role = Role::kOther;
    s.signed_case("valid-sig-changed-role", "the role of b.bias changed after signing", with_signatures(c, {full}), ed,
                  {"invalid"});
  }
  {
    owf::Signature cut = full;
    cut.bytes.resize(32);
    s.signed_case("valid-sig-truncated", "the first 32 of the signature's 64 bytes", with_signatures(m, {cut}), ed,
                  {"invalid"});
    owf::Signature garbage = full;
    garbage.bytes.assign(64, 0xA5);
    s.signed_case("valid-sig-garbage", "64 bytes of 0xA5 as an Ed25519 signature", with_signatures(m, {garbage}), ed,
                  {"invalid"});
    owf::Signature unknown = full;
    unknown.algorithm = "rsa-pss-sha512";
    s.signed_case("valid-sig-unknown-algorithm", "algorithm rsa-pss-sha512: reported as unknown, never valid",
                  with_signatures(m, {unknown, full}), ed, {"unknown_algorithm", "valid"});
  }
  {
    owf::Signature bad = full;
    bad.key_id[0] = 'A';
    s.invalid("r37-bad-key-id", "R37", "a signature whose key id has an upper-case hex digit",
              with_signatures(m, {bad}), "bad_signature");
    bad = full;
    bad.bytes.clear();
    s.invalid("r37-empty-signature", "R37", "a signature with no bytes", with_signatures(m, {bad}), "bad_signature");
    Model old = with_signatures(m, {full});
    old.minor = 1;
    s.invalid("r35-signatures-in-1-1", "R35", "a version 1.1 file with the signatures field of 1.2", old,
              "manifest_invalid");
  }
}

// ---------------------------------------------------------------------------
// Shard sets (spec/shards.md): R38 on single files, S1-S6 on sets.

// A set of shards, each a Model holding a name range of the tensors.
struct SetDef {
  std::vector<std::string> names;  // file names
  std::vector<Model> shards;
};

SetDef three_shards() {
  SetDef d;
  d.names = {"m-00001-of-00003.owf", "m-00002-of-00003.owf", "m-00003-of-00003.owf"};
  auto f32 = code(DType::kF32);
  Model a, b, c;
  a.tensors = {{"a.weight", f32, {2, 3}, Role::kWeight}, {"b.bias", f32, {3}, Role::kBias}};
  b.tensors = {{"c.weight", f32, {4}, Role::kWeight}};
  c.tensors = {{"d.weight", code(DType::kU8), {5}, Role::kWeight}, {"e.bias", f32, {1}, Role::kBias}};
  for (Model* m : {&a, &b, &c}) {
    m->info.license = license();
    m->info.provenance.name = "tiny";
    m->minor = 3;
  }
  d.shards = {a, b, c};
  return d;
}

// The ShardSetInfo every shard of `d` states (index 0): each shard's own
// weights digest, count and first tensor, and the digest over them all.
owf::ShardSetInfo set_info_of(const SetDef& d) {
  owf::ShardSetInfo set;
  std::vector<Bytes> built;
  for (const Model& m : d.shards) built.push_back(build(m).bytes);
  std::vector<owf::File> files;
  for (const Bytes& b : built) {
    auto f = owf::File::open_buffer(b);
    if (!f.ok()) throw std::logic_error("set_info_of: " + f.error().to_string());
    files.push_back(std::move(*f));
  }
  std::vector<owf::DigestEntry> all;
  for (std::size_t k = 0; k < files.size(); ++k) {
    const owf::File& f = files[k];
    set.shards.push_back({d.names[k], f.tensor_count(), std::string(f.tensor(0).name), f.weights_digest()});
    for (std::size_t i = 0; i < f.tensor_count(); ++i) {
      const owf::TensorInfo t = f.tensor(i);
      all.push_back({t.name, t.dtype, t.shape, t.sha256});
    }
  }
  set.weights_digest = owf::weights_digest_of(std::move(all));
  return set;
}

// Shard k of `d` stating `set` (its index set to k, then `edit` applied).
Model shard_of(const SetDef& d, std::size_t k, const owf::ShardSetInfo& set,
               const std::function<void(owf::ShardSetInfo&)>& edit = {}) {
  Model m = d.shards[k];
  owf::ShardSetInfo own = set;
  own.index = static_cast<std::uint32_t>(k);
  if (edit) edit(own);
  m.edit_model = [own](ManifestModel& mm) { mm.shard_set = own; };
  return m;
}

std::vector<std::pair<std::string, Bytes>> files_of(const SetDef& d, const owf::ShardSetInfo& set) {
  std::vector<std::pair<std::string, Bytes>> out;
  for (std::size_t k = 0; k < d.shards.size(); ++k) out.emplace_back(d.names[k], build(shard_of(d, k, set)).bytes);
  return out;
}

void shard_cases(Suite& s) {
  const SetDef d = three_shards();
  const owf::ShardSetInfo set = set_info_of(d);
  const auto section = "shards.md §3";

  // R38 on one file: shard 2 of the set, with its entries edited.
  s.valid("valid-shard-alone", section, "shard 1 of a set of 3, opened as the ordinary file it is",
          shard_of(d, 0, set));
  s.valid("valid-shard-last", section, "the last shard of a set of 3, opened alone", shard_of(d, 2, set));
  auto bad = [&](const std::string& id, const std::string& description, std::size_t k,
                 std::function<void(owf::ShardSetInfo&)> edit, const std::string& error = "bad_shard_set",
                 json limits = {}) {
    s.invalid_in(section, id, "R38", description, shard_of(d, k, set, std::move(edit)), error, std::move(limits));
  };
  bad("r38-no-shards", "a shard_set with no shards", 0, [](owf::ShardSetInfo& x) { x.shards.clear(); });
  bad("r38-too-many-shards", "3 shards, over a max_shards limit of 2", 1, [](owf::ShardSetInfo&) {}, "limit_exceeded",
      {{"max_shards", 2}});
  bad("r38-index-past-end", "index 3 in a set of 3 shards", 1, [](owf::ShardSetInfo& x) { x.index = 3; });
  bad("r38-file-name-slash", "a shard file name holding '/'", 1,
      [](owf::ShardSetInfo& x) { x.shards[2].file_name = "sub/m-00003-of-00003.owf"; });
  bad("r38-file-name-dotdot", "a shard file name '..'", 1, [](owf::ShardSetInfo& x) { x.shards[0].file_name = ".."; });
  bad("r38-file-name-backslash", "a shard file name holding '\\'", 1,
      [](owf::ShardSetInfo& x) { x.shards[0].file_name = "..\\m.owf"; });
  bad("r38-file-name-empty", "an empty shard file name", 1, [](owf::ShardSetInfo& x) { x.shards[2].file_name = ""; });
  bad("r38-file-name-256-bytes", "a shard file name of 256 bytes", 1,
      [](owf::ShardSetInfo& x) { x.shards[2].file_name = std::string(252, 'm') + ".owf"; });
  bad("r38-file-name-nul", "a shard file name holding a NUL byte", 1,
      [](owf::ShardSetInfo& x) { x.shards[2].file_name = std::string("m.owf\0.owf", 10); });
  bad("r38-file-name-dot", "a shard file name '.'", 1, [](owf::ShardSetInfo& x) { x.shards[2].file_name = "."; });
  bad("r38-file-name-not-utf8", "a shard file name that is not valid UTF-8", 1,
      [](owf::ShardSetInfo& x) { x.shards[2].file_name = "m\xff.owf"; });
  bad("r38-file-name-twice", "two shards with one file name", 1,
      [](owf::ShardSetInfo& x) { x.shards[2].file_name = x.shards[0].file_name; });
  bad("r38-zero-tensors", "a shard entry with tensor_count 0", 1,
      [](owf::ShardSetInfo& x) { x.shards[2].tensor_count = 0; });
  bad("r38-tensor-count-sum-overflow", "tensor counts that add up to more than 64 bits hold", 1,
      [](owf::ShardSetInfo& x) { x.shards[0].tensor_count = ~std::uint64_t{0}; });
  bad("r38-first-tensors-unsorted", "the first tensors of shards 2 and 3 out of order", 0,
      [](owf::ShardSetInfo& x) { x.shards[2].first_tensor = "b.zz"; });
  bad("r38-first-tensor-empty", "an empty first_tensor", 1,
      [](owf::ShardSetInfo& x) { x.shards[0].first_tensor = ""; });
  bad("r38-own-count", "the file's own entry says 2 tensors, the file holds 1", 1,
      [](owf::ShardSetInfo& x) { x.shards[1].tensor_count = 2; });
  bad("r38-own-first-tensor", "the file's own entry names another first tensor", 1,
      [](owf::ShardSetInfo& x) { x.shards[1].first_tensor = "c.a"; });
  bad("r38-own-digest", "the file's own entry states another weights digest", 1,
      [](owf::ShardSetInfo& x) { x.shards[1].weights_digest[0] ^= 1; });
  bad("r38-last-tensor-in-next-range", "the file's last tensor does not sort before the next shard's first", 0,
      [](owf::ShardSetInfo& x) { x.shards[1].first_tensor = "b.bias"; });
  {
    Model old = shard_of(d, 1, set);
    old.minor = 2;
    s.invalid("r35-shard-set-in-1-2", "R35", "a version 1.2 file with the shard_set field of 1.3", old,
              "manifest_invalid");
  }

  // S1-S6: sets of files.
  auto files = files_of(d, set);
  const json valid = {{"open", "ok"},
                      {"verify", "ok"},
                      {"shard_count", 3},
                      {"tensor_count", 5},
                      {"weights_digest", owf::to_hex(set.weights_digest)}};
  s.set_case("valid-set-from-shard", "", "a set of 3 shards opened from its middle shard", files, d.names[1], valid);
  s.set_case("valid-set-from-directory", "", "a set of 3 shards opened from its directory", files, "", valid);
  {
    SetDef one;
    one.names = {"solo.owf"};
    one.shards = {d.shards[0]};
    one.shards[0].tensors.push_back(d.shards[1].tensors[0]);
    const owf::ShardSetInfo single = set_info_of(one);
    s.set_case("valid-set-of-one", "", "a set of 1 shard", files_of(one, single), "solo.owf",
               {{"open", "ok"},
                {"verify", "ok"},
                {"shard_count", 1},
                {"tensor_count", 3},
                {"weights_digest", owf::to_hex(single.weights_digest)}});
  }
  {
    auto renamed = files;
    renamed[1].first = "copy.owf";
    s.set_case("s1-renamed-shard", "S1", "shard 2 stored as copy.owf and opened by that name", renamed, "copy.owf",
               {{"open", "shard_set_mismatch"}});
  }
  {
    auto missing = files;
    missing.erase(missing.begin() + 2);
    s.set_case("s2-missing-shard", "S2", "shard 3 of 3 absent", missing, d.names[0], {{"open", "io_error"}});
  }
  {
    auto swapped = files;
    std::swap(swapped[0].second, swapped[1].second);
    s.set_case("s3-swapped-shards", "S3", "shards 1 and 2 under each other's names, opened from shard 3", swapped,
               d.names[2], {{"open", "shard_set_mismatch"}});
    s.set_case("s1-swapped-shards", "S1", "shards 1 and 2 under each other's names, opened from the first name",
               swapped, d.names[0], {{"open", "shard_set_mismatch"}});
  }
  {
    SetDef other = d;
    other.shards[1].tensors[0].data = canonical(DType::kF32, {4}, pattern(16, 99));
    auto mixed = files;
    mixed[1].second = build(shard_of(other, 1, set_info_of(other))).bytes;
    s.set_case("s3-shard-of-another-set", "S3", "shard 2 from a set whose c.weight differs", mixed, d.names[0],
               {{"open", "shard_set_mismatch"}});
  }
  {
    auto unlike = files;
    Model m = shard_of(d, 2, set);
    m.info.license = license("MIT");
    unlike[2].second = build(m).bytes;
    s.set_case("s4-license-differs", "S4", "shard 3 states another license", unlike, d.names[0],
               {{"open", "shard_set_mismatch"}});
  }
  {
    owf::ShardSetInfo wrong = set;
    wrong.weights_digest[31] ^= 1;
    s.set_case("s5-set-digest-wrong", "S5", "every shard states the same wrong set weights digest", files_of(d, wrong),
               d.names[0], {{"open", "shard_set_mismatch"}});
  }
  {
    auto extra = files;
    extra.emplace_back("stray.owf", build(base()).bytes);
    s.set_case("s6-extra-file", "S6", "the set's directory holds another .owf file", extra, "",
               {{"open", "shard_set_mismatch"}});
    s.set_case("valid-set-beside-other-file", "", "the same directory opened from a shard: other files do not matter",
               extra, d.names[0], valid);
  }
  {
    auto flipped = files;
    flipped[1].second[64] ^= std::byte{0x01};
    s.set_case("r34-shard-bit-flip", "R34", "a data byte of shard 2 flipped: opens, fails verification", flipped,
               d.names[0], {{"open", "ok"}, {"verify", "tensor_digest_mismatch"}});
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
    return 2;
  }
  try {
    Suite suite(argv[1]);
    valid_cases(suite);
    framing_cases(suite);
    manifest_cases(suite);
    coverage_cases(suite);
    tensor_cases(suite);
    metadata_cases(suite);
    data_section_cases(suite);
    compression_cases(suite);
    signature_cases(suite);
    shard_cases(suite);
    suite.write_index();
    std::printf("%zu cases written to %s\n", suite.size(), argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generate: %s\n", e.what());
    return 1;
  }
  return 0;
}
