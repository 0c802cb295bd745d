// owf-convert IN OUT: between OWF, safetensors, GGUF, .npz and .npy.
//
// Streams one tensor at a time, keeps every tensor's name, dtype, shape and
// bytes (so the weights digest is unchanged, which is checked afterwards),
// and carries license, provenance, hyperparameters and metadata across as
// far as the target format can hold them.
#include <fmt/core.h>

#include <charconv>

#include "common.hpp"
#include "owf/convert.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-convert";

Status parse_compression(const std::string& text, CompressionOptions& out) {
  std::string_view s = text;
  if (s.substr(0, 4) != "zstd")
    return Error(ErrorCode::kInvalidArgument, "--compress: unknown method '" + text + "' (zstd or zstd:LEVEL)");
  out.enabled = true;
  s.remove_prefix(4);
  if (s.empty()) return {};
  if (s.front() != ':')
    return Error(ErrorCode::kInvalidArgument, "--compress: expected zstd:LEVEL, got '" + text + "'");
  s.remove_prefix(1);
  int level = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), level);
  if (ec != std::errc() || end != s.data() + s.size() || level < -7 || level > 22)
    return Error(ErrorCode::kInvalidArgument, "--compress: level must be an integer from -7 to 22");
  out.level = level;
  return {};
}

int fail(const Error& e, int code) {
  print_error(kTool, e);
  return code;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Convert weights between formats: .owf .safetensors .gguf .npz .npy (PyTorch: read only).\n"
      "The weights digest of OUT equals IN's; this is checked after writing.",
      std::string(kTool)};
  std::string in, out, license, license_name, license_url, metadata_file, compress;
  std::optional<std::string> from, to;
  std::vector<std::string> hparams, metas, copyright, authors;
  std::uint64_t alignment = 0;
  bool no_compress = false, force = false, no_check = false, quiet = false;
  Provenance prov;
  app.add_option("IN", in, "source file")->required();
  app.add_option("OUT", out, "target file")->required();
  app.add_option("--from", from, "source format (default: detected)");
  std::string select;
  app.add_option("--select", select, "PyTorch checkpoints: only the tensors under this key (e.g. model_state_dict)");
  app.add_option("--to", to, "target format (default: from OUT's extension)");
  app.add_option("--license", license,
                 "SPDX license expression (required for OWF when IN declares none; "
                 "NOASSERTION to decline explicitly)");
  app.add_option("--license-name", license_name, "license name");
  app.add_option("--license-url", license_url, "license URL");
  app.add_option("--copyright", copyright, "copyright line (repeatable)");
  app.add_option("--hparam", hparams, "hyperparameter KEY=VALUE, typed: 12, 0.5, true, [1,2], text (repeatable)");
  app.add_option("--metadata", metadata_file, "JSON object file of metadata entries");
  app.add_option("--meta", metas, "metadata KEY=VALUE (repeatable)");
  app.add_option("--alignment", alignment, "tensor alignment in bytes (power of two; OWF and GGUF)");
  app.add_option("--name", prov.name, "model name");
  app.add_option("--version", prov.version, "model version");
  app.add_option("--architecture", prov.architecture, "model architecture");
  app.add_option("--description", prov.description, "description");
  app.add_option("--author", authors, "author (repeatable)");
  app.add_option("--source-url", prov.source_url, "where the model comes from");
  app.add_option("--training-data", prov.training_data, "training data");
  app.add_option("--created", prov.created, "creation time (kept as given)");
  app.add_option("--compress", compress, "compress OWF tensors: zstd or zstd:LEVEL")
      ->expected(0, 1)
      ->default_str("zstd");
  app.add_flag("--no-compress", no_compress, "store tensors uncompressed (the default)");
  app.add_flag("-f,--force", force, "replace OUT if it exists");
  app.add_flag("--no-check", no_check, "skip comparing the weights digests of IN and OUT");
  app.add_flag("-q,--quiet", quiet, "print nothing on success");
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  std::optional<Format> source_format;
  if (from) {
    auto f = parse_format(*from);
    if (!f.ok()) return fail(f.error(), kExitUsage);
    source_format = *f;
  }
  auto target = target_format(to, out);
  if (!target.ok()) return fail(target.error(), kExitUsage);

  ConvertOptions options;
  if (!license.empty()) {
    if (auto s = validate_spdx_expression(license); !s.ok()) return fail(s.error(), kExitUsage);
    options.license = License{};
    options.license->spdx = license;
  }
  if (!license_name.empty() || !license_url.empty() || !copyright.empty()) {
    if (!options.license)
      return fail(Error(ErrorCode::kInvalidArgument, "--license-name, --license-url and --copyright need --license"),
                  kExitUsage);
    options.license->name = license_name;
    options.license->url = license_url;
    options.license->copyright = copyright;
  }
  if (!metadata_file.empty()) {
    auto m = read_metadata_json(metadata_file);
    if (!m.ok()) return fail(m.error(), kExitUsage);
    options.metadata = *m;
  }
  for (const auto& m : metas) {
    auto kv = parse_string_assignment(m, "--meta");
    if (!kv.ok()) return fail(kv.error(), kExitUsage);
    options.metadata[kv->first] = kv->second;
  }
  for (const auto& h : hparams) {
    auto kv = parse_hparam_assignment(h);
    if (!kv.ok()) return fail(kv.error(), kExitUsage);
    options.hyperparameters[kv->first] = kv->second;
  }
  prov.authors = authors;
  options.provenance = prov;
  if (alignment != 0) {
    options.write.alignment = alignment;
    options.alignment_given = true;
  }
  if (app.count("--compress") > 0 && !no_compress) {
    if (auto s = parse_compression(compress.empty() ? "zstd" : compress, options.write.compression); !s.ok())
      return fail(s.error(), kExitUsage);
  }

  std::error_code ec;
  if (!force && std::filesystem::exists(out, ec))
    return fail(Error(ErrorCode::kInvalidArgument, out + " exists (use --force to replace it)"), kExitUsage);

  SourceOptions source_options;
  source_options.format = source_format;
  source_options.select = select;
  auto source = open_source(in, source_options);
  if (!source.ok()) return fail(source.error(), exit_code_for(source.error()));
  if ((*source)->info().provenance.software.empty() && prov.software.empty())
    options.provenance.software = fmt::format("owf-convert {}", library_version());

  if (auto s = convert(**source, out, *target, options); !s.ok()) {
    if (s.code() == ErrorCode::kMissingLicense) {
      fmt::print(stderr,
                 "{}: {}\n  hint: pass --license SPDX-EXPRESSION (for example --license MIT), "
                 "or --license NOASSERTION to write the file without stating one\n",
                 kTool, s.error().to_string());
      return kExitUsage;
    }
    return fail(s.error(), exit_code_for(s.error()));
  }

  std::string digest_note;
  if (!no_check) {
    auto source_digest = compute_weights_digest(**source);
    if (!source_digest.ok()) return fail(source_digest.error(), exit_code_for(source_digest.error()));
    auto written = open_source(out, *target);
    if (!written.ok()) return fail(written.error(), kExitFailed);
    auto out_digest = compute_weights_digest(**written);
    if (!out_digest.ok()) return fail(out_digest.error(), kExitFailed);
    if (*out_digest != *source_digest)
      return fail(
          Error(ErrorCode::kDigestExpectationFailed, fmt::format("weights digest of {} ({}) differs from {}'s ({})",
                                                                 out, to_hex(*out_digest), in, to_hex(*source_digest))),
          kExitFailed);
    digest_note = fmt::format(", weights digest {} (unchanged)", to_hex(*out_digest));
  }
  if (!quiet) {
    const std::uint64_t size = std::filesystem::file_size(out, ec);
    fmt::print("{} -> {}: {} {} tensors, {}{}\n", in, out, format_name(*target), (*source)->tensor_count(),
               human_bytes(size), digest_note);
  }
  return kExitOk;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run(argc, argv); }
