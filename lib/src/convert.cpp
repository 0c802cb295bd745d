// convert(): stream every tensor of a source into a writer of the target
// format, checking what is copied.
//
// Two checks, both at no extra pass over the source:
// - A source that stores digests (OWF) is checked as its bytes stream
//   through: the OWF writer compares each tensor's hash with the stored
//   digest (TensorSpec::expected_sha256); for other targets the source is
//   wrapped so that every tensor is hashed in the pieces the writer reads.
//   A corrupt source therefore never becomes a valid-looking copy.
// - Unless told not to, the finished temporary file is read back through
//   its own format's reader before it is renamed to the target, and its
//   weights digest must equal the source's.
#include "owf/convert.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "formats/formats.hpp"
#include "sha256.hpp"
#include "tensor_pieces.hpp"

namespace owf {

namespace {

void override_field(std::string& field, const std::string& value) {
  if (!value.empty()) field = value;
}

// The source as a foreign writer sees it: its own model information
// replaced, and every tensor hashed as the writer reads it, in whatever
// pieces. When the source stores digests, the read that completes a tensor
// fails if the bytes disagree with them.
class CheckedSource final : public Source {
 public:
  CheckedSource(const Source& base, ModelInfo info)
      : base_(base),
        info_(std::move(info)),
        stores_digests_(base.owf_file() != nullptr),
        states_(base.tensor_count()) {}

  Format format() const override { return base_.format(); }
  std::size_t tensor_count() const override { return base_.tensor_count(); }
  TensorInfo tensor(std::size_t index) const override { return base_.tensor(index); }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    OWF_RETURN_IF_ERROR(base_.read(index, out));
    return feed(index, 0, out);
  }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    OWF_RETURN_IF_ERROR(base_.read_range(index, offset, out));
    return feed(index, offset, out);
  }
  bool ranged_reads() const override { return base_.ranged_reads(); }
  const ModelInfo& info() const override { return info_; }
  std::uint64_t alignment() const override { return base_.alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override { return digest(index); }

  /// The digest of a tensor's bytes: from the pieces the writer read, in
  /// order, when it read them all; otherwise read again now (and checked
  /// against a stored digest).
  Result<Sha256Digest> digest(std::size_t index) const {
    {
      std::lock_guard lock(mutex_);
      if (states_[index].digest) return *states_[index].digest;
    }
    OWF_ASSIGN_OR_RETURN(Sha256Digest d, hash_whole(index));
    return d;
  }

 private:
  struct State {
    std::uint64_t next = 0;  // bytes hashed so far, in order
    bool out_of_order = false;
    std::unique_ptr<internal::Sha256> hasher;  // only while a tensor streams
    std::optional<Sha256Digest> digest;
  };

  Status compare(std::size_t index, const Sha256Digest& d) const {
    const TensorInfo t = base_.tensor(index);
    if (stores_digests_ && d != t.sha256)
      return Error(ErrorCode::kTensorDigestMismatch,
                   "tensor '" + std::string(t.name) + "' of the source: its bytes hash to " + to_hex(d) +
                       ", not the digest its file stores (" + to_hex(t.sha256) + "); nothing was written");
    return {};
  }

  Status feed(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) const {
    const std::uint64_t size = base_.tensor(index).logical_bytes;
    std::optional<Sha256Digest> finished;
    {
      std::lock_guard lock(mutex_);
      State& s = states_[index];
      if (s.digest || s.out_of_order) return {};
      if (offset != s.next) {
        s.out_of_order = true;
        s.hasher.reset();
        return {};
      }
      if (!s.hasher) s.hasher = std::make_unique<internal::Sha256>();
      s.hasher->update(bytes);
      s.next += bytes.size();
      if (s.next != size) return {};
      finished = s.hasher->finish();
      s.hasher.reset();
      s.digest = finished;
    }
    return compare(index, *finished);
  }

  Result<Sha256Digest> hash_whole(std::size_t index) const {
    const TensorInfo t = base_.tensor(index);
    internal::Sha256 h;
    internal::PieceBuffer buffer;
    OWF_RETURN_IF_ERROR(internal::for_each_piece(base_, index, buffer, [&](std::span<const std::byte> piece) {
      h.update(piece);
      return Status{};
    }));
    const Sha256Digest d = h.finish();
    OWF_RETURN_IF_ERROR(compare(index, d));
    std::lock_guard lock(mutex_);
    states_[index].digest = d;
    return d;
  }

  const Source& base_;
  ModelInfo info_;
  bool stores_digests_;
  mutable std::mutex mutex_;
  mutable std::vector<State> states_;
};

Status copy_tensor(const Source& source, std::size_t index, Writer& writer, internal::PieceBuffer& buffer) {
  const TensorInfo t = source.tensor(index);
  TensorSpec spec{std::string(t.name), t.dtype, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), t.role};
  if (source.owf_file() != nullptr) spec.expected_sha256 = t.sha256;
  OWF_RETURN_IF_ERROR(writer.begin_tensor(spec));
  OWF_RETURN_IF_ERROR(internal::for_each_piece(source, index, buffer,
                                               [&](std::span<const std::byte> piece) { return writer.append(piece); }));
  return writer.end_tensor();
}

Error output_differs(const std::filesystem::path& path, const Sha256Digest& written, const Sha256Digest& expected) {
  return Error(ErrorCode::kDigestExpectationFailed, "read back, " + path.string() + " has weights digest " +
                                                        to_hex(written) + ", not the source's " + to_hex(expected) +
                                                        "; it was not written");
}

Result<ConvertReport> write_owf(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                const ConvertOptions& options) {
  if (!info.license)
    return Error(ErrorCode::kMissingLicense,
                 "the source declares no license and none was given; an OWF file needs "
                 "an SPDX expression (or NOASSERTION, explicitly)");
  ConvertReport report;
  report.format = Format::kOwf;
  report.tensor_count = source.tensor_count();
  WriteOptions write = options.write;
  // OWF to OWF keeps the source's alignment unless told otherwise; other
  // formats' alignments (GGUF's 32) are below what OWF readers expect.
  if (!options.alignment_given)
    write.alignment = source.format() == Format::kOwf ? source.alignment() : WriteOptions{}.alignment;
  write.before_rename = [&](const std::filesystem::path& temporary) -> Status {
    OWF_ASSIGN_OR_RETURN(File written, File::open(temporary));
    report.weights_digest = written.weights_digest();
    if (const File* from = source.owf_file(); from != nullptr && from->weights_digest() != report.weights_digest)
      return output_differs(path, report.weights_digest, from->weights_digest());
    if (!options.check_output) return {};
    OWF_RETURN_IF_ERROR(written.verify());
    report.checked = true;
    return {};
  };
  OWF_ASSIGN_OR_RETURN(Writer writer, Writer::create(path, write));
  OWF_RETURN_IF_ERROR(writer.set_info(info));
  internal::PieceBuffer buffer;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) OWF_RETURN_IF_ERROR(copy_tensor(source, i, writer, buffer));
  OWF_RETURN_IF_ERROR(writer.finish());
  return report;
}

// The name a tensor has once written: a .npy file names its one tensor
// after the file.
std::string written_name(Format to, const std::filesystem::path& path, std::string_view name) {
  return to == Format::kNpy ? path.stem().string() : std::string(name);
}

// The weights digest of `source` as it will read from the target file.
Result<Sha256Digest> expected_digest(const CheckedSource& source, Format to, const std::filesystem::path& path) {
  std::vector<std::string> names;
  std::vector<TensorInfo> infos;
  std::vector<Sha256Digest> digests;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    infos.push_back(source.tensor(i));
    names.push_back(written_name(to, path, infos.back().name));
    OWF_ASSIGN_OR_RETURN(Sha256Digest d, source.digest(i));
    digests.push_back(d);
  }
  std::vector<DigestEntry> entries;
  for (std::size_t i = 0; i < infos.size(); ++i)
    entries.push_back({names[i], infos[i].dtype, infos[i].shape, digests[i]});
  return weights_digest_of(std::move(entries));
}

// The weights digest of a written temporary file, with tensors named as
// they will be at `path`.
Result<Sha256Digest> written_digest(const std::filesystem::path& temporary, Format to,
                                    const std::filesystem::path& path) {
  OWF_ASSIGN_OR_RETURN(auto written, open_source(temporary, to));
  const std::size_t n = written->tensor_count();
  std::vector<TensorInfo> infos;
  std::vector<std::string> names;
  std::vector<Sha256Digest> digests;
  for (std::size_t i = 0; i < n; ++i) {
    infos.push_back(written->tensor(i));
    names.push_back(written_name(to, path, infos.back().name));
    OWF_ASSIGN_OR_RETURN(Sha256Digest d, written->tensor_sha256(i));
    digests.push_back(d);
  }
  std::vector<DigestEntry> entries;
  for (std::size_t i = 0; i < n; ++i) entries.push_back({names[i], infos[i].dtype, infos[i].shape, digests[i]});
  return weights_digest_of(std::move(entries));
}

Result<ConvertReport> write_foreign(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                    Format to, const ConvertOptions& options) {
  const CheckedSource checked(source, info);
  ConvertReport report;
  report.format = to;
  report.tensor_count = source.tensor_count();
  report.not_kept = internal::info_not_kept(to, info);
  if (to == Format::kNpy && source.tensor_count() == 1 &&
      written_name(to, path, source.tensor(0).name) != source.tensor(0).name)
    report.renamed.emplace_back(std::string(source.tensor(0).name), written_name(to, path, source.tensor(0).name));
  internal::OutputOptions output{.replace = options.write.overwrite};
  output.before_rename = [&](const std::filesystem::path& temporary) -> Status {
    OWF_ASSIGN_OR_RETURN(report.weights_digest, expected_digest(checked, to, path));
    if (!options.check_output) return {};
    OWF_ASSIGN_OR_RETURN(Sha256Digest written, written_digest(temporary, to, path));
    if (written != report.weights_digest) return output_differs(path, written, report.weights_digest);
    report.checked = true;
    return {};
  };
  switch (to) {
    case Format::kSafetensors:
      OWF_RETURN_IF_ERROR(internal::write_safetensors(checked, path, output));
      break;
    case Format::kGguf:
      OWF_RETURN_IF_ERROR(
          internal::write_gguf(checked, path, options.alignment_given ? options.write.alignment : 0, output));
      break;
    case Format::kNpz:
      OWF_RETURN_IF_ERROR(internal::write_npz(checked, path, output));
      break;
    case Format::kNpy:
      OWF_RETURN_IF_ERROR(internal::write_npy(checked, path, output));
      break;
    default:
      return Error(ErrorCode::kInvalidArgument, "unknown target format");
  }
  return report;
}

}  // namespace

ModelInfo converted_info(const ModelInfo& source, const ConvertOptions& options) {
  ModelInfo info = source;
  if (options.license) info.license = options.license;
  for (const auto& [k, v] : options.hyperparameters) info.hyperparameters[k] = v;
  for (const auto& [k, v] : options.metadata) info.metadata[k] = v;
  Provenance& p = info.provenance;
  const Provenance& o = options.provenance;
  override_field(p.name, o.name);
  override_field(p.version, o.version);
  override_field(p.architecture, o.architecture);
  override_field(p.description, o.description);
  override_field(p.source_url, o.source_url);
  override_field(p.training_data, o.training_data);
  override_field(p.software, o.software);
  override_field(p.created, o.created);
  if (!o.authors.empty()) p.authors = o.authors;
  if (!o.base_models.empty()) p.base_models = o.base_models;
  return info;
}

Result<ConvertReport> convert(const Source& source, const std::filesystem::path& path, Format to,
                              const ConvertOptions& options) {
  const ModelInfo info = converted_info(source.info(), options);
  switch (to) {
    case Format::kOwf:
      return write_owf(source, info, path, options);
    case Format::kSafetensors:
    case Format::kGguf:
    case Format::kNpz:
    case Format::kNpy:
      return write_foreign(source, info, path, to, options);
    case Format::kPyTorch:
      return Error(ErrorCode::kUnsupported,
                   "writing PyTorch checkpoints is not supported (they are pickle programs); "
                   "convert to safetensors or OWF instead");
  }
  return Error(ErrorCode::kInvalidArgument, "unknown target format");
}

}  // namespace owf
