// owf-convert IN OUT: between OWF, safetensors, GGUF, .npz and .npy.
//
// Streams one tensor at a time, keeps every tensor's name, dtype, shape and
// bytes, and carries license, provenance, hyperparameters and metadata
// across as far as the target format can hold them (saying what it drops).
// --max-shard-size writes a safetensors target as a Hugging Face shard set.
// --include/--exclude choose tensors by name; --dtype casts floating-point
// and quantized tensors (lossy: the new weights digest is printed and the
// source's recorded in the target). The library checks the source's stored
// digests as the bytes stream and reads the target back before it appears
// under its name (owf/convert.hpp).
#include <fmt/core.h>

#include <cctype>
#include <charconv>

#include "byte_size.hpp"
#include "cli.hpp"
#include "render.hpp"

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

struct Options {
  std::string in, out, license, license_name, license_url, metadata_file, compress, from, select, dtype, max_shard_size;
  std::vector<std::string> include, exclude;
  bool saturate = false;
  std::optional<std::string> to;
  std::vector<std::string> hparams, metas, copyright, authors;
  std::uint64_t alignment = 0;
  bool no_compress = false, force = false, no_check = false, quiet = false;
  Provenance provenance;
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("IN", o.in, "source file")->required();
  app.add_option("OUT", o.out, "target file")->required();
  app.add_option("--from", o.from, "source format (default: detected)");
  app.add_option("--select", o.select, "PyTorch checkpoints: only the tensors under this key (e.g. model_state_dict)");
  app.add_option("--to", o.to, "target format (default: from OUT's extension)");
  // One pattern per option, taken as written: CLI11 would otherwise read
  // '[a,b]' as a list of two values.
  app.add_option("--include", o.include,
                 "convert only tensors whose whole name matches this glob (* ? [...]; repeatable)")
      ->allow_extra_args(false);
  app.add_option("--exclude", o.exclude, "leave out tensors whose whole name matches this glob (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--dtype", o.dtype,
                 "cast floating-point and quantized tensors (dequantized) to f32, f16 or bf16 (also f64, "
                 "f8_e4m3fn, f8_e5m2); integer and bool tensors are kept. Lossy: the weights digest changes");
  app.add_flag("--saturate", o.saturate,
               "with --dtype: values beyond the target's range become its largest finite value, not infinity");
  app.add_option("--license", o.license,
                 "SPDX license expression (required for OWF when IN declares none; NOASSERTION to decline explicitly)");
  app.add_option("--license-name", o.license_name, "license name");
  app.add_option("--license-url", o.license_url, "license URL");
  app.add_option("--copyright", o.copyright, "copyright line (repeatable)");
  app.add_option("--hparam", o.hparams, "hyperparameter KEY=VALUE, typed: 12, 0.5, true, [1,2], text (repeatable)");
  app.add_option("--metadata", o.metadata_file, "JSON object file of metadata entries");
  app.add_option("--meta", o.metas, "metadata KEY=VALUE (repeatable)");
  app.add_option("--alignment", o.alignment, "tensor alignment in bytes (power of two; OWF and GGUF)");
  Provenance& p = o.provenance;
  app.add_option("--name", p.name, "model name");
  app.add_option("--version", p.version, "model version");
  app.add_option("--architecture", p.architecture, "model architecture");
  app.add_option("--description", p.description, "description");
  app.add_option("--author", o.authors, "author (repeatable)");
  app.add_option("--source-url", p.source_url, "where the model comes from");
  app.add_option("--training-data", p.training_data, "training data");
  app.add_option("--created", p.created, "creation time (kept as given)");
  app.add_option("--compress", o.compress, "compress OWF tensors: zstd or zstd:LEVEL")
      ->expected(0, 1)
      ->default_str("zstd");
  app.add_flag("--no-compress", o.no_compress, "store tensors uncompressed (the default)");
  app.add_option("--max-shard-size", o.max_shard_size,
                 "split the target into shards of up to SIZE tensor bytes each, named OUT's stem-00001-of-0000N: "
                 "an OWF shard set, or a Hugging Face safetensors set with OUT.index.json. SIZE: "
                 "bytes, or with a unit, KB MB GB TB (powers of 1000) "
                 "or KiB MiB GiB TiB (powers of 1024), e.g. 5GB")
      ->type_name("SIZE");
  app.add_flag("-f,--force", o.force, "replace OUT if it is a file or a symbolic link (never a device or directory)");
  app.add_flag("--no-check", o.no_check,
               "skip reading OUT back before it replaces anything (IN's stored digests are still checked)");
  app.add_flag("-q,--quiet", o.quiet, "print nothing on success");
}

// The library's options from the command line's.
Result<ConvertOptions> convert_options(const CLI::App& app, const Options& o) {
  ConvertOptions c;
  if (!o.license.empty()) {
    OWF_RETURN_IF_ERROR(validate_spdx_expression(o.license));
    c.license = License{};
    c.license->spdx = o.license;
  }
  if (!o.license_name.empty() || !o.license_url.empty() || !o.copyright.empty()) {
    if (!c.license)
      return Error(ErrorCode::kInvalidArgument, "--license-name, --license-url and --copyright need --license");
    c.license->name = o.license_name;
    c.license->url = o.license_url;
    c.license->copyright = o.copyright;
  }
  if (!o.metadata_file.empty()) {
    OWF_ASSIGN_OR_RETURN(c.metadata, read_metadata_json(o.metadata_file));
  }
  for (const auto& m : o.metas) {
    OWF_ASSIGN_OR_RETURN(auto kv, parse_string_assignment(m, "--meta"));
    c.metadata[kv.first] = kv.second;
  }
  for (const auto& h : o.hparams) {
    OWF_ASSIGN_OR_RETURN(auto kv, parse_hparam_assignment(h));
    c.hyperparameters[kv.first] = kv.second;
  }
  c.provenance = o.provenance;
  c.provenance.authors = o.authors;
  if (o.alignment != 0) {
    c.write.alignment = o.alignment;
    c.alignment_given = true;
  }
  if (app.count("--compress") > 0 && !o.no_compress)
    OWF_RETURN_IF_ERROR(parse_compression(o.compress.empty() ? "zstd" : o.compress, c.write.compression));
  c.write.overwrite = o.force;
  c.check_output = !o.no_check;
  c.include = o.include;
  c.exclude = o.exclude;
  if (app.count("--dtype") != 0) {
    std::string upper = o.dtype;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const auto d = dtype_from_name(upper);
    if (!d || !can_encode(*d))
      return Error(ErrorCode::kInvalidArgument,
                   "--dtype: '" + o.dtype + "' is not one of f32, f16, bf16, f64, f8_e4m3fn, f8_e5m2");
    c.cast_to = *d;
  }
  if (app.count("--max-shard-size") != 0) {
    OWF_ASSIGN_OR_RETURN(c.max_shard_bytes, parse_byte_size(o.max_shard_size, "--max-shard-size"));
  }
  if (o.saturate && !c.cast_to) return Error(ErrorCode::kInvalidArgument, "--saturate needs --dtype");
  c.cast_encoding.saturate = o.saturate;
  return c;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Convert weights between formats: .owf .safetensors .gguf .npz .npy (PyTorch: read only).\n"
      "The source's stored digests are checked as it is copied, and OUT is read back and compared\n"
      "before it appears; OUT is complete and checked, or not written at all.",
      std::string(kTool)};
  Options o;
  add_options(app, o);
  add_remote_options(app);
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  auto target = target_format(o.to, o.out);
  if (!target.ok()) return fail(kTool, target.error(), kExitUsage);
  auto options = convert_options(app, o);
  if (!options.ok()) return fail(kTool, options.error(), kExitUsage);
  auto source = open_input(o.in, o.from, o.select);
  if (!source.ok()) return fail(kTool, source.error());
  if ((*source)->info().provenance.software.empty() && o.provenance.software.empty())
    options->provenance.software = fmt::format("owf-convert {}", library_version());

  auto report = convert(**source, o.out, *target, *options);
  if (!report.ok()) {
    const Error& e = report.error();
    if (e.code() == ErrorCode::kAlreadyExists)
      return fail(kTool, Error(e.code(), options->max_shard_bytes == 0 ? o.out + " exists (use --force to replace it)"
                                                                       : e.message() + " (use --force to replace it)"));
    fail(kTool, e);
    if (e.code() == ErrorCode::kMissingLicense)
      fmt::print(stderr,
                 "  hint: pass --license SPDX-EXPRESSION (for example --license MIT), "
                 "or --license NOASSERTION to write the file without stating one\n");
    if (e.code() == ErrorCode::kForeignFormatUnsupported && e.message().find("cannot store") != std::string::npos)
      fmt::print(stderr,
                 "  hint: --exclude NAME leaves a tensor out; --dtype f32, f16 or bf16 casts floating-point and "
                 "quantized tensors\n");
    return exit_code_for(e);
  }
  if (o.quiet) return kExitOk;
  std::error_code ec;
  std::uint64_t size = 0;
  for (const auto& file : report->files) size += std::filesystem::file_size(file, ec);
  const bool unchanged = report->renamed.empty() && report->left_out == 0 && report->cast_count == 0;
  const bool set = report->files.size() > 1;
  // A safetensors set ends with its index; an OWF set is its shards alone.
  const bool indexed = set && report->format != Format::kOwf;
  const std::size_t shards = indexed ? report->files.size() - 1 : report->files.size();
  fmt::print("{} -> {}: {} {} tensors, {}{}, weights digest {}{}\n", printable(o.in),
             printable(indexed ? report->files.back().string()
                       : set   ? (std::filesystem::path(o.out).parent_path() /
                                (std::filesystem::path(o.out).stem().string() + "-*-of-*.owf"))
                                   .string()
                             : o.out),
             format_name(report->format), report->tensor_count, set ? fmt::format("{} shards, ", shards) : "",
             human_bytes(size), to_hex(report->weights_digest),
             unchanged ? (report->checked ? " (unchanged)" : " (unchanged; not read back)") : "");
  if (set)
    for (const auto& file : report->files)
      fmt::print("  wrote {} ({})\n", printable(file.string()), human_bytes(std::filesystem::file_size(file, ec)));
  if (report->left_out != 0) fmt::print("  note: {} tensors of {} left out\n", report->left_out, printable(o.in));
  if (report->cast_count != 0)
    fmt::print("  note: lossy: {} tensors cast to {}, from weights digest {}\n", report->cast_count,
               dtype_name(*options->cast_to), to_hex(*report->source_weights_digest));
  for (const auto& [from, to] : report->renamed)
    fmt::print("  note: tensor '{}' is named '{}' in {}: a .npy file holds no names\n", printable(from), printable(to),
               printable(o.out));
  if (!report->not_kept.empty()) {
    std::string list;
    for (const auto& item : report->not_kept) list += (list.empty() ? "" : ", ") + item;
    fmt::print("  note: {} has no place for: {} (not written)\n", format_name(report->format), list);
  }
  return kExitOk;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-convert", owf::tools::run, argc, argv); }
