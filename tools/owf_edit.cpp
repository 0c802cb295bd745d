// owf-edit FILE: change license, provenance, hyperparameters or metadata of
// an OWF file. Tensor bytes are never rewritten: a new manifest and footer
// go behind the unchanged data section, and the new file replaces the old
// one by rename (owf/edit.hpp). A shard, or a set's directory, edits the
// whole shard set, every shard or none (rewrite_set_info).
#include <fmt/core.h>

#include <filesystem>
#include <system_error>

#include "cli.hpp"
#include "render.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-edit";

int run(int argc, char** argv) {
  CLI::App app{
      "Change the license, provenance, hyperparameters or metadata of an OWF file in place,\n"
      "without rewriting its tensors. The weights digest stays the same.",
      std::string(kTool)};
  std::string path;
  std::optional<std::string> license, license_name, license_url, name, version, architecture, description, source_url,
      training_data, created, software;
  std::vector<std::string> copyright, authors, hparams, unset_hparams, metas, unset_metas;
  bool no_sync = false, quiet = false;
  app.add_option("FILE", path, "OWF file to edit (a shard or a set's directory: the whole set)")->required();
  app.add_option("--license", license, "SPDX license expression (NOASSERTION to decline)");
  app.add_option("--license-name", license_name, "license name");
  app.add_option("--license-url", license_url, "license URL");
  app.add_option("--copyright", copyright, "copyright line (repeatable; replaces the list)");
  app.add_option("--hparam", hparams, "set hyperparameter KEY=VALUE, typed (repeatable)");
  app.add_option("--unset-hparam", unset_hparams, "remove hyperparameter KEY (repeatable)");
  app.add_option("--metadata", metas, "set metadata KEY=VALUE (repeatable)");
  app.add_option("--unset-metadata", unset_metas, "remove metadata KEY (repeatable)");
  app.add_option("--name", name, "model name");
  app.add_option("--version", version, "model version");
  app.add_option("--architecture", architecture, "model architecture");
  app.add_option("--description", description, "description");
  app.add_option("--author", authors, "author (repeatable; replaces the list)");
  app.add_option("--source-url", source_url, "where the model comes from");
  app.add_option("--training-data", training_data, "training data");
  app.add_option("--created", created, "creation time (kept as given)");
  app.add_option("--software", software, "producing software");
  app.add_flag("--no-sync", no_sync, "do not fsync (faster, not crash-safe)");
  app.add_flag("-q,--quiet", quiet, "print nothing on success");
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  std::error_code ec;
  bool whole_set = std::filesystem::is_directory(path, ec);
  auto format = whole_set ? Result<Format>(Format::kOwf) : detect_format(path);
  if (!format.ok()) return fail(kTool, format.error());
  if (*format != Format::kOwf)
    return fail(kTool,
                Error(ErrorCode::kUnsupported, path + " is a " + std::string(format_name(*format)) +
                                                   " file; owf-edit changes OWF files (convert it with owf-convert)"),
                kExitUsage);
  ModelInfo info;
  std::size_t info_signatures = 0;  // embedded signatures the edit invalidates
  const auto count_info_signatures = [&](const File& file) {
    for (const auto& s : embedded_signatures(file))
      if (covers_from_name(s.covers) != Covers::kWeights) ++info_signatures;
  };
  if (!whole_set) {
    auto file = File::open(path);
    if (!file.ok()) return fail(kTool, file.error());
    info = file->info();
    count_info_signatures(*file);
    whole_set = file->shard_set() != nullptr;  // a shard: edit its set
  }
  std::size_t shards = 0;
  if (whole_set) {
    auto set = FileSet::open(path);
    if (!set.ok()) return fail(kTool, set.error());
    if (auto s = set->open_all(); !s.ok()) return fail(kTool, s.error());
    info = set->info();
    shards = set->shard_count();
    info_signatures = 0;
    for (std::size_t k = 0; k < shards; ++k) {
      auto file = set->shard_file(k);
      if (!file.ok()) return fail(kTool, file.error());
      count_info_signatures(**file);
    }
  }
  const ModelInfo before = info;

  if (license) {
    if (auto s = validate_spdx_expression(*license); !s.ok()) return fail(kTool, s.error(), kExitUsage);
    if (!info.license) info.license = License{};
    info.license->spdx = *license;
  }
  if (license_name || license_url || !copyright.empty()) {
    if (!info.license)
      return fail(kTool, Error(ErrorCode::kInvalidArgument, "the file has no license to describe: give --license too"),
                  kExitUsage);
    if (license_name) info.license->name = *license_name;
    if (license_url) info.license->url = *license_url;
    if (!copyright.empty()) info.license->copyright = copyright;
  }
  Provenance& p = info.provenance;
  for (auto [field, value] : {std::pair{&p.name, &name},
                              {&p.version, &version},
                              {&p.architecture, &architecture},
                              {&p.description, &description},
                              {&p.source_url, &source_url},
                              {&p.training_data, &training_data},
                              {&p.created, &created},
                              {&p.software, &software}})
    if (*value) *field = **value;
  if (!authors.empty()) p.authors = authors;
  for (const auto& key : unset_hparams)
    if (info.hyperparameters.erase(key) == 0)
      return fail(kTool, Error(ErrorCode::kNotFound, "no hyperparameter '" + key + "' to remove"), kExitUsage);
  for (const auto& h : hparams) {
    auto kv = parse_hparam_assignment(h);
    if (!kv.ok()) return fail(kTool, kv.error(), kExitUsage);
    info.hyperparameters[kv->first] = kv->second;
  }
  for (const auto& key : unset_metas)
    if (info.metadata.erase(key) == 0)
      return fail(kTool, Error(ErrorCode::kNotFound, "no metadata entry '" + key + "' to remove"), kExitUsage);
  for (const auto& m : metas) {
    auto kv = parse_string_assignment(m, "--metadata");
    if (!kv.ok()) return fail(kTool, kv.error(), kExitUsage);
    if (kv->first.empty()) return fail(kTool, Error(ErrorCode::kInvalidArgument, "--metadata: empty key"), kExitUsage);
    info.metadata[kv->first] = kv->second;
  }
  if (info == before) {
    if (!quiet) fmt::print("{}: nothing to change\n", printable(path));
    return kExitOk;
  }

  EditOptions options;
  options.sync = !no_sync;
  if (whole_set) {
    auto report = rewrite_set_info(path, info, options);
    if (!report.ok()) return fail(kTool, report.error());
    if (!quiet) {
      std::uint64_t manifests = 0, data = 0;
      bool reflinked = true;
      for (const auto& r : report->shards) {
        manifests += r.manifest_bytes;
        data += r.data_bytes;
        reflinked = reflinked && r.reflinked;
      }
      fmt::print(
          "{}: every shard of the set ({}) has the new information: new manifests ({}); data sections {} ({}); "
          "weights digest {} (unchanged)\n",
          printable(path), shards, human_bytes(manifests), reflinked ? "shared by reflink" : "copied",
          human_bytes(data), to_hex(report->weights_digest));
    }
  } else {
    auto report = rewrite_info(path, info, options);
    if (!report.ok()) return fail(kTool, report.error());
    if (!quiet)
      fmt::print("{}: new manifest ({}); data section {} ({}); weights digest {} (unchanged)\n", printable(path),
                 human_bytes(report->manifest_bytes), report->reflinked ? "shared by reflink" : "copied",
                 human_bytes(report->data_bytes), to_hex(report->weights_digest));
  }
  // Signatures are kept as they are (spec/signatures.md): those over the
  // model information no longer verify until the file is signed again.
  if (info_signatures > 0)
    fmt::print(stderr,
               "{}: note: {} embedded signature(s) cover the model information and no longer verify; sign again "
               "(owf-sign) or remove them (owf-sign --remove KEYID)\n",
               kTool, info_signatures);
  return kExitOk;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-edit", owf::tools::run, argc, argv); }
