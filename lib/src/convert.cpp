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
//
// With max_shard_bytes, a safetensors target whose tensors do not fit in
// one shard is written as a Hugging Face shard set: each shard by the
// ordinary writer over the shard's tensors, then the index, which appears
// only once the whole set has been read back through the index reader
// (ShardSetOutput removes the shards again when anything fails).
//
// With tensors chosen (include, exclude) or cast (cast_to), the source is
// read through a CheckedSource whatever the target, then a SelectedSource,
// then a CastSource; the target's weights digest is then the one of the
// bytes the writer was given. A cast records the source's weights digest,
// which a source that stores none (not OWF) yields only to a first pass
// over all its tensors: such a source is read twice, and the second read
// must agree with the first.
#include "owf/convert.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "cast_source.hpp"
#include "checked_source.hpp"
#include "file_access.hpp"
#include "formats/formats.hpp"
#include "formats/shard_set.hpp"
#include "owf/shard_set.hpp"
#include "owf/signature.hpp"
#include "rules.hpp"
#include "shard_plan.hpp"
#include "tensor_read_ahead.hpp"
#include "tensor_selection.hpp"
#include "writer_access.hpp"

namespace owf {

namespace {

using internal::CheckedSource;

// Run before the target replaces anything, once its tensors are written:
// the check that every tensor read from the source matched its digest.
using SourceCheck = std::function<Status()>;

void override_field(std::string& field, const std::string& value) {
  if (!value.empty()) field = value;
}

// Copies the tensors `order` of `source` into `writer`, in that order; they
// are read on a thread of their own while this one writes.
Status copy_tensors(const Source& source, std::vector<std::size_t> order, Writer& writer) {
  internal::TensorReadAhead ahead(source, std::move(order));
  for (;;) {
    OWF_ASSIGN_OR_RETURN(const auto piece, ahead.next());
    if (!piece) return {};
    if (piece->offset == 0) {
      const TensorInfo t = source.tensor(piece->index);
      TensorSpec spec{std::string(t.name), t.dtype, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), t.role};
      if (source.stores_digests()) spec.expected_sha256 = t.sha256;
      OWF_RETURN_IF_ERROR(writer.begin_tensor(spec));
    }
    OWF_RETURN_IF_ERROR(writer.append(piece->bytes));
    if (piece->last) OWF_RETURN_IF_ERROR(writer.end_tensor());
  }
}

std::vector<std::size_t> all_tensors(const Source& source) {
  std::vector<std::size_t> order(source.tensor_count());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  return order;
}

// The read-back check of an OWF file that `writer` has just written: a full
// verification, except for the tensors the writer hashed from the file's
// own bytes as it wrote them (large ones), whose digests a second pass
// over the same bytes could only repeat.
Status verify_written(const File& written, const Writer& writer) {
  const auto already_hashed = std::make_unique<bool[]>(written.tensor_count());
  for (const std::string& name : internal::WriterAccess::hashed_from_file(writer))
    if (const auto i = written.find(name)) already_hashed[*i] = true;
  return internal::FileAccess::verify(written, {}, std::span<const bool>(already_hashed.get(), written.tensor_count()));
}

Error output_differs(const std::filesystem::path& path, const Sha256Digest& written, const Sha256Digest& expected) {
  return Error(ErrorCode::kDigestExpectationFailed, "read back, " + path.string() + " has weights digest " +
                                                        to_hex(written) + ", not the source's " + to_hex(expected) +
                                                        "; it was not written");
}

// How an OWF target is written: it needs a license; OWF to OWF keeps the
// source's alignment unless told otherwise (other formats' alignments, GGUF's
// 32, are below what OWF readers expect).
Result<WriteOptions> owf_write_options(const Source& source, const ModelInfo& info, const ConvertOptions& options) {
  if (!info.license)
    return Error(ErrorCode::kMissingLicense,
                 "the source declares no license and none was given; an OWF file needs "
                 "an SPDX expression (or NOASSERTION, explicitly)");
  WriteOptions write = options.write;
  if (!options.alignment_given)
    write.alignment =
        source.format() == Format::kOwf && source.alignment() != 0 ? source.alignment() : WriteOptions{}.alignment;
  return write;
}

Result<ConvertReport> write_owf(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                const ConvertOptions& options, const SourceCheck& source_check) {
  OWF_ASSIGN_OR_RETURN(WriteOptions write, owf_write_options(source, info, options));
  ConvertReport report;
  report.format = Format::kOwf;
  report.tensor_count = source.tensor_count();
  const Writer* target = nullptr;  // the writer calling back, once created
  write.before_rename = [&](const std::filesystem::path& temporary) -> Status {
    if (source_check) OWF_RETURN_IF_ERROR(source_check());
    OWF_ASSIGN_OR_RETURN(File written, File::open(temporary));
    report.weights_digest = written.weights_digest();
    if (const auto from = source.stored_weights_digest(); from && *from != report.weights_digest)
      return output_differs(path, report.weights_digest, *from);
    if (!options.check_output) return {};
    OWF_RETURN_IF_ERROR(verify_written(written, *target));
    report.checked = true;
    return {};
  };
  OWF_ASSIGN_OR_RETURN(Writer writer, Writer::create(path, write));
  target = &writer;
  OWF_RETURN_IF_ERROR(writer.set_info(info));
  // Embedded signatures travel with an OWF source when what they cover is
  // kept: the weights (a plain conversion keeps them, and the read-back
  // check above proves it) and, for weights+info, the model information
  // (tensor roles are copied as they are). A selection or cast gives a
  // source that is not an OWF file: nothing travels.
  if (const File* from = source.owf_file()) {
    std::vector<Signature> kept;
    for (const Signature& s : embedded_signatures(*from))
      if (s.covers == covers_name(Covers::kWeights) ||
          (s.covers == covers_name(Covers::kWeightsAndInfo) && info == from->info()))
        kept.push_back(s);
    OWF_RETURN_IF_ERROR(writer.set_signatures(kept));
  }
  OWF_RETURN_IF_ERROR(copy_tensors(source, all_tensors(source), writer));
  OWF_RETURN_IF_ERROR(writer.finish());
  return report;
}

// An OWF shard set (spec/shards.md §5): every shard's tensors first, each
// into its own writer, then every manifest, which holds every shard's
// weights digest and the set's.
Result<ConvertReport> write_owf_set(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                    const ConvertOptions& options, const std::vector<std::vector<std::size_t>>& plan,
                                    const SourceCheck& source_check) {
  OWF_ASSIGN_OR_RETURN(WriteOptions write, owf_write_options(source, info, options));
  const std::size_t count = plan.size();
  // Every shard lists every shard, and a reader refuses more than
  // max_shards (R38): refused before a file is created, not after writing
  // (and holding open) that many.
  if (const std::uint32_t max = Limits{}.max_shards; count > max)
    return Error(ErrorCode::kLimitExceeded, path.string() + ": " + std::to_string(count) + " shards of at most " +
                                                std::to_string(options.max_shard_bytes) + " bytes, over the limit of " +
                                                std::to_string(max) + " shards in a set; give a larger shard size");
  // The plan is in name order: a name twice is refused before any shard
  // is written (a writer sees only its own shard's names).
  std::string previous;  // a copy: a source's name may live as long as its TensorInfo
  bool first = true;
  for (std::size_t k = 0; k < count; ++k)
    for (std::size_t i : plan[k]) {
      const TensorInfo t = source.tensor(i);
      const std::string_view name = t.name;
      if (!first && name == previous)
        return Error(ErrorCode::kDuplicateTensorName, "the source holds two tensors named '" +
                                                          std::string(name.substr(0, 200)) +
                                                          "'; a set's shards hold each name once");
      previous = name;
      first = false;
    }
  std::vector<std::filesystem::path> paths;
  for (std::size_t k = 0; k < count; ++k) {
    paths.push_back(internal::shard_path(path, k, count));
    // Refused here, not by R38 once every shard is written.
    if (auto problem = internal::shard_file_name_problem(paths.back().filename().string()))
      return Error(ErrorCode::kInvalidArgument, paths.back().string() + ": a shard's file name " + *problem +
                                                    " (spec/shards.md, rule R38); choose another target name");
  }
  internal::OutputOptions rules;
  rules.replace = options.write.overwrite;
  OWF_ASSIGN_OR_RETURN(internal::ShardSetOutput output, internal::ShardSetOutput::create(paths, {}, rules));

  ConvertReport report;
  report.format = Format::kOwf;
  report.tensor_count = source.tensor_count();
  std::vector<Writer> writers;
  for (std::size_t k = 0; k < count; ++k) {
    write.before_rename = [&options, &report, &writers, k](const std::filesystem::path& temporary) -> Status {
      OWF_ASSIGN_OR_RETURN(File written, File::open(temporary));  // R38 among the rest
      if (!options.check_output) return {};
      OWF_RETURN_IF_ERROR(verify_written(written, writers[k]));
      report.checked = true;
      return {};
    };
    // A failure names the shard, as ShardSetOutput's do.
    const auto in_shard = [&](const Error& e) {
      return Error(e.code(), "shard " + std::to_string(k + 1) + " of " + std::to_string(count) + " (" +
                                 paths[k].string() + "): " + e.message());
    };
    auto writer = Writer::create(paths[k], write);
    if (!writer.ok()) return in_shard(writer.error());
    if (Status s = writer->set_info(info); !s.ok()) return in_shard(s.error());
    if (Status s = copy_tensors(source, plan[k], *writer); !s.ok()) return in_shard(s.error());
    if (Status s = internal::WriterAccess::settle_digests(*writer); !s.ok()) return in_shard(s.error());
    writers.push_back(std::move(*writer));
  }

  ShardSetInfo set;
  std::vector<DigestEntry> all;
  for (std::size_t k = 0; k < count; ++k) {
    std::vector<DigestEntry> entries = internal::WriterAccess::digest_entries(writers[k]);
    ShardEntry e;
    e.file_name = paths[k].filename().string();
    e.tensor_count = entries.size();
    e.first_tensor = std::string(source.tensor(plan[k].front()).name);  // the plan is in name order
    all.insert(all.end(), entries.begin(), entries.end());
    e.weights_digest = weights_digest_of(std::move(entries));
    set.shards.push_back(std::move(e));
  }
  set.weights_digest = weights_digest_of(std::move(all));
  if (const auto from = source.stored_weights_digest(); from && *from != set.weights_digest)
    return output_differs(path, set.weights_digest, *from);
  if (source_check) OWF_RETURN_IF_ERROR(source_check());

  for (std::size_t k = 0; k < count; ++k) {
    set.index = static_cast<std::uint32_t>(k);
    internal::WriterAccess::set_shard_set(writers[k], set);
    OWF_RETURN_IF_ERROR(output.write_shard(k, [&](const std::filesystem::path&) { return writers[k].finish(); }));
  }
  if (options.check_output) {
    // The set as a reader opens it: every shard found and agreeing (S1-S5).
    auto opened = FileSet::open(paths.front());
    Status whole = opened.ok() ? opened->open_all() : Status(opened.error());
    if (!whole.ok()) return Error(whole.error().code(), "read back, the set does not open: " + whole.error().message());
  }
  output.commit();
  report.weights_digest = set.weights_digest;
  report.files = output.written();
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

// What every foreign target's report starts with, and how its files are
// written (always synced).
ConvertReport foreign_report(const Source& source, const ModelInfo& info, Format to) {
  ConvertReport report;
  report.format = to;
  report.tensor_count = source.tensor_count();
  report.not_kept = internal::info_not_kept(to, info);
  return report;
}

internal::OutputOptions foreign_output(const ConvertOptions& options) {
  return internal::OutputOptions{.replace = options.write.overwrite, .write_back_early = true};
}

Result<ConvertReport> write_foreign(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                    Format to, const ConvertOptions& options, const SourceCheck& source_check) {
  const CheckedSource checked(source, info);
  ConvertReport report = foreign_report(source, info, to);
  if (to == Format::kNpy && source.tensor_count() == 1 &&
      written_name(to, path, source.tensor(0).name) != source.tensor(0).name)
    report.renamed.emplace_back(std::string(source.tensor(0).name), written_name(to, path, source.tensor(0).name));
  internal::OutputOptions output = foreign_output(options);
  output.before_rename = [&](const std::filesystem::path& temporary) -> Status {
    if (source_check) OWF_RETURN_IF_ERROR(source_check());
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

// The index of the shard set written for `target`: the target's name and
// ".index.json" (model.safetensors -> model.safetensors.index.json).
std::filesystem::path index_path_for(const std::filesystem::path& target) {
  std::filesystem::path index = target;
  index += ".index.json";
  return index;
}

// A Hugging Face safetensors shard set for `path` (spec/interchange.md,
// "Shard sets"), `plan` giving each shard's tensors (2 or more shards).
Result<ConvertReport> write_safetensors_shards(const Source& source, const ModelInfo& info,
                                               const std::filesystem::path& path,
                                               const std::vector<std::vector<std::size_t>>& plan,
                                               const ConvertOptions& options, const SourceCheck& source_check) {
  const CheckedSource checked(source, info);
  ConvertReport report = foreign_report(source, info, Format::kSafetensors);
  const internal::OutputOptions rules = foreign_output(options);
  // A single file under the target's own name is what loaders open before
  // looking for an index (transformers does): it may not be left beside the
  // set unless it may be replaced, and then it is removed once the set is
  // complete.
  OWF_RETURN_IF_ERROR(internal::check_output_target(path, rules));
  std::vector<std::filesystem::path> shard_paths;
  for (std::size_t k = 0; k < plan.size(); ++k) shard_paths.push_back(internal::shard_path(path, k, plan.size()));
  OWF_ASSIGN_OR_RETURN(internal::ShardSetOutput set,
                       internal::ShardSetOutput::create(shard_paths, index_path_for(path), rules));

  std::map<std::string, std::string> weight_map;
  std::uint64_t total_size = 0;
  for (std::size_t k = 0; k < plan.size(); ++k) {
    const internal::SelectedSource shard(checked, plan[k]);
    const std::string shard_name = shard_paths[k].filename().string();
    for (std::size_t i = 0; i < shard.tensor_count(); ++i) {
      const TensorInfo t = shard.tensor(i);
      if (!weight_map.emplace(std::string(t.name), shard_name).second)
        return Error(ErrorCode::kDuplicateTensorName, "tensor '" + std::string(t.name) + "' appears twice");
      if (t.logical_bytes > UINT64_MAX - total_size)
        return Error(ErrorCode::kShapeOverflow, "the shard set's total size overflows 64 bits");
      total_size += t.logical_bytes;
    }
    OWF_RETURN_IF_ERROR(set.write_shard(
        k, [&](const std::filesystem::path& target) { return internal::write_safetensors(shard, target, rules); }));
  }
  OWF_ASSIGN_OR_RETURN(const std::string index_text, internal::shard_index_json(weight_map, total_size));

  internal::OutputOptions output = rules;
  output.before_rename = [&](const std::filesystem::path& temporary) -> Status {
    if (source_check) OWF_RETURN_IF_ERROR(source_check());
    OWF_ASSIGN_OR_RETURN(report.weights_digest, expected_digest(checked, Format::kSafetensors, path));
    if (!options.check_output) return {};
    // The set as a reader of the index will see it, index included, before
    // the index appears under its name.
    OWF_ASSIGN_OR_RETURN(auto written, internal::open_shard_set(temporary, Format::kSafetensors, Limits{}));
    OWF_ASSIGN_OR_RETURN(Sha256Digest digest, compute_weights_digest(*written));
    if (digest != report.weights_digest) return output_differs(set.index(), digest, report.weights_digest);
    report.checked = true;
    return {};
  };
  const auto write_index = [&](const std::filesystem::path& target) -> Status {
    OWF_ASSIGN_OR_RETURN(auto file, internal::OutputFile::create(target, output));
    OWF_RETURN_IF_ERROR(file->write(std::as_bytes(std::span(index_text.data(), index_text.size()))));
    return file->finish(/*sync=*/true);
  };
  OWF_RETURN_IF_ERROR(set.write_index(write_index));
  set.commit();
  report.files = set.written();
  std::error_code ec;
  const auto stale = std::filesystem::symlink_status(path, ec);
  if (std::filesystem::is_regular_file(stale) || std::filesystem::is_symlink(stale)) std::filesystem::remove(path, ec);
  return report;
}

// A GGUF split set for `path` as llama.cpp's gguf-split writes one
// (spec/interchange.md, "GGUF splits"): `plan` gives each split's tensors
// (2 or more splits), named as llama_split_path names them.
Result<ConvertReport> write_gguf_splits(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                        const std::vector<std::vector<std::size_t>>& plan,
                                        const ConvertOptions& options, const SourceCheck& source_check) {
  if (plan.size() > 0xFFFF || source.tensor_count() > 0x7FFFFFFF)
    return Error(ErrorCode::kInvalidArgument, std::to_string(plan.size()) + " GGUF splits of " +
                                                  std::to_string(source.tensor_count()) +
                                                  " tensors: split.count is a u16 and split.tensors.count an i32");
  const CheckedSource checked(source, info);
  ConvertReport report = foreign_report(source, info, Format::kGguf);
  const internal::OutputOptions rules = foreign_output(options);
  std::vector<std::filesystem::path> paths;
  for (std::size_t k = 0; k < plan.size(); ++k) paths.push_back(internal::shard_path(path, k, plan.size()));
  OWF_ASSIGN_OR_RETURN(internal::ShardSetOutput set, internal::ShardSetOutput::create(paths, {}, rules));
  const internal::GgufSplit split_of_set{0, static_cast<std::uint16_t>(plan.size()),
                                         static_cast<std::int32_t>(source.tensor_count())};
  for (std::size_t k = 0; k < plan.size(); ++k) {
    const internal::SelectedSource split(checked, plan[k]);
    internal::GgufSplit each = split_of_set;
    each.no = static_cast<std::uint16_t>(k);
    OWF_RETURN_IF_ERROR(set.write_shard(k, [&](const std::filesystem::path& target) {
      return internal::write_gguf(split, target, options.alignment_given ? options.write.alignment : 0, rules, each);
    }));
  }
  if (source_check) OWF_RETURN_IF_ERROR(source_check());
  OWF_ASSIGN_OR_RETURN(report.weights_digest, expected_digest(checked, Format::kGguf, path));
  if (options.check_output) {
    // The set as llama.cpp's convention reads it, from its first split.
    OWF_ASSIGN_OR_RETURN(auto written, open_source(paths.front(), Format::kGguf));
    OWF_ASSIGN_OR_RETURN(Sha256Digest digest, compute_weights_digest(*written));
    if (digest != report.weights_digest) return output_differs(paths.front(), digest, report.weights_digest);
    report.checked = true;
  }
  set.commit();
  report.files = set.written();
  return report;
}

Result<ConvertReport> write_target(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                                   Format to, const ConvertOptions& options, const SourceCheck& source_check) {
  if (options.max_shard_bytes != 0 && (to == Format::kOwf || to == Format::kSafetensors || to == Format::kGguf)) {
    const auto plan = internal::plan_shards(source, options.max_shard_bytes);
    if (plan.size() >= 2) {  // else one file
      if (to == Format::kOwf) return write_owf_set(source, info, path, options, plan, source_check);
      if (to == Format::kGguf) return write_gguf_splits(source, info, path, plan, options, source_check);
      return write_safetensors_shards(source, info, path, plan, options, source_check);
    }
  }
  switch (to) {
    case Format::kOwf:
      return write_owf(source, info, path, options, source_check);
    case Format::kSafetensors:
    case Format::kGguf:
    case Format::kNpz:
    case Format::kNpy:
      return write_foreign(source, info, path, to, options, source_check);
    case Format::kPyTorch:
      break;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown target format");
}

// The source's weights digest: the one an OWF file stores, else computed
// (through `checked`, so that the tensors' digests are then known and a
// second read of a tensor must agree with them).
Result<Sha256Digest> source_weights_digest(const Source& source, const CheckedSource& checked) {
  if (const auto stored = source.stored_weights_digest()) return *stored;
  return compute_weights_digest(checked);
}

// What a cast target records about its origin (spec/format.md §4.7): the
// source as a base model, and the cast in metadata.
void record_cast(ModelInfo& info, const ModelInfo& source_info, const Sha256Digest& from, DType to) {
  auto& bases = info.provenance.base_models;
  if (std::none_of(bases.begin(), bases.end(), [&](const BaseModel& b) { return b.weights_digest == from; }))
    bases.push_back(BaseModel{source_info.provenance.name, from});
  info.metadata["owf.cast.from_weights_digest"] = to_hex(from);
  info.metadata["owf.cast.dtype"] = std::string(dtype_name(to));
}

// convert() with tensors left out or cast: the source is read through a
// CheckedSource (its stored digests checked as its bytes stream, whatever
// happens to them next), then the chosen tensors, then the cast.
Result<ConvertReport> convert_transformed(const Source& source, const std::filesystem::path& path, Format to,
                                          const ConvertOptions& options) {
  OWF_ASSIGN_OR_RETURN(std::vector<std::size_t> chosen,
                       internal::select_tensors(source, options.include, options.exclude));
  const CheckedSource checked(source, source.info());
  const std::size_t left_out = source.tensor_count() - chosen.size();
  const internal::SelectedSource selected(checked, chosen);
  std::unique_ptr<internal::CastSource> cast;
  if (options.cast_to) {
    OWF_ASSIGN_OR_RETURN(cast, internal::CastSource::create(selected, *options.cast_to, options.cast_encoding));
  }
  const std::size_t cast_count = cast ? cast->cast_count() : 0;
  ModelInfo info = converted_info(source.info(), options);
  std::optional<Sha256Digest> from;
  if (cast_count != 0) {
    OWF_ASSIGN_OR_RETURN(from, source_weights_digest(source, checked));
    record_cast(info, source.info(), *from, *options.cast_to);
  }
  // Tensors the writer read out of order were not checked as they
  // streamed: read them again now.
  const SourceCheck check = [&]() -> Status {
    for (std::size_t i : chosen) OWF_RETURN_IF_ERROR(checked.digest(i).status());
    return {};
  };
  const Source& transformed = cast ? static_cast<const Source&>(*cast) : selected;
  OWF_ASSIGN_OR_RETURN(ConvertReport report, write_target(transformed, info, path, to, options, check));
  report.left_out = left_out;
  report.cast_count = cast_count;
  report.source_weights_digest = from;
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

namespace {

// Why a target of format `to` cannot be written in shards (nothing when it can).
Status check_shardable(Format to, std::uint64_t max_shard_bytes) {
  if (max_shard_bytes == 0 || to == Format::kSafetensors || to == Format::kOwf || to == Format::kGguf) return {};
  return Error(ErrorCode::kUnsupported, std::string(format_name(to)) +
                                            " files are not written in shards: OWF, safetensors and GGUF targets "
                                            "take a maximum shard size");
}

}  // namespace

Result<ConvertReport> convert(const Source& source, const std::filesystem::path& path, Format to,
                              const ConvertOptions& options) {
  if (to == Format::kPyTorch)
    return Error(ErrorCode::kUnsupported,
                 "writing PyTorch checkpoints is not supported (they are pickle programs); "
                 "convert to safetensors or OWF instead");
  OWF_RETURN_IF_ERROR(check_shardable(to, options.max_shard_bytes));
  auto report = !options.include.empty() || !options.exclude.empty() || options.cast_to
                    ? convert_transformed(source, path, to, options)
                    : write_target(source, converted_info(source.info(), options), path, to, options, {});
  if (report.ok() && report->files.empty()) report->files.push_back(path);
  return report;
}

}  // namespace owf
