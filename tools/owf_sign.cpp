// owf-sign FILE --key PRIVATE.pem: sign the weights (and, unless
// --weights-only, the model information) of a file (spec/signatures.md).
// The signature goes into the manifest of an OWF file (a manifest rewrite,
// as owf-edit does; the data section is not copied where the file system
// has reflinks) or, with --detached, into a DSSE envelope beside any file.
// --remove KEYID takes a key's embedded signatures out again.
#include <fmt/core.h>

#include <fstream>

#include "cli.hpp"
#include "render.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-sign";

int run(int argc, char** argv) {
  CLI::App app{
      "Sign a weights file with an Ed25519 or ECDSA P-256 key (PEM, as openssl genpkey writes it).\n"
      "The signature is embedded in an OWF file's manifest, or written as a DSSE envelope with --detached.",
      std::string(kTool)};
  std::string path, key_path, detached, remove;
  bool weights_only = false, no_sync = false, quiet = false;
  app.add_option("FILE", path, "file to sign (OWF; any format with --detached)")->required();
  auto* key_option = app.add_option("--key", key_path, "private key, PEM PKCS#8");
  app.add_flag("--weights-only", weights_only,
               "sign the weights digest alone (verifies conversions to other formats too)");
  app.add_option("--detached", detached, "write a DSSE envelope to this path instead of embedding");
  auto* remove_option = app.add_option("--remove", remove, "remove the embedded signatures of this key id");
  app.add_flag("--no-sync", no_sync, "do not fsync (faster, not crash-safe)");
  app.add_flag("-q,--quiet", quiet, "print nothing on success");
  key_option->excludes(remove_option);
  if (auto code = parse_command_line(app, argc, argv)) return *code;

  EditOptions edit;
  edit.sync = !no_sync;
  if (!remove.empty()) {
    auto report = remove_signatures(path, remove, edit);
    if (!report.ok()) return fail(kTool, report.error());
    if (!quiet) fmt::print("{}: removed the signatures of key {}\n", printable(path), printable(remove));
    return kExitOk;
  }
  if (key_path.empty())
    return fail(kTool, Error(ErrorCode::kInvalidArgument, "give --key PRIVATE.pem (or --remove KEYID)"), kExitUsage);
  auto key = PrivateKey::load(key_path);
  if (!key.ok()) return fail(kTool, key.error(), kExitUsage);
  auto source = open_input(path);
  if (!source.ok()) return fail(kTool, source.error());
  const Covers covers = weights_only ? Covers::kWeights : Covers::kWeightsAndInfo;

  if (!detached.empty()) {
    auto weights = compute_weights_digest(**source);
    if (!weights.ok()) return fail(kTool, weights.error());
    const std::string name = std::filesystem::path(path).filename().string();
    auto envelope = make_envelope(*key, name, covers, *weights, info_digest(**source));
    if (!envelope.ok()) return fail(kTool, envelope.error());
    std::ofstream out(detached, std::ios::binary | std::ios::trunc);
    out << *envelope;
    out.close();
    if (!out) return fail(kTool, Error(ErrorCode::kIoError, "cannot write " + detached));
    if (!quiet)
      fmt::print("{}: {} signature by key {} ({}) over the {} written to {}\n", printable(path), key->algorithm(),
                 key->key_id(), covers_name(covers), weights_only ? "weights digest" : "weights and info digests",
                 printable(detached));
    return kExitOk;
  }

  if ((*source)->format() != Format::kOwf)
    return fail(kTool,
                Error(ErrorCode::kUnsupported, path + " is a " + std::string(format_name((*source)->format())) +
                                                   " file: only OWF files embed signatures (use --detached)"),
                kExitUsage);
  // An embedded signature signs its file's weights digest; a shard stands
  // for its set, whose digest is not the shard's (spec/signatures.md §7).
  if ((*source)->owf_file_set() != nullptr)
    return fail(kTool,
                Error(ErrorCode::kUnsupported, path + " is a shard of a set: sign the set as a whole with --detached "
                                                      "(its weights digest is the set's, the unsharded model's)"),
                kExitUsage);
  auto signature = sign(**source, *key, covers);
  if (!signature.ok()) return fail(kTool, signature.error());
  source->reset();
  auto report = add_signature(path, *signature, edit);
  if (!report.ok()) return fail(kTool, report.error());
  if (!quiet)
    fmt::print("{}: {} signature by key {} ({}) embedded; new manifest ({}); data section {} ({})\n", printable(path),
               signature->algorithm, signature->key_id, signature->covers, human_bytes(report->manifest_bytes),
               report->reflinked ? "shared by reflink" : "copied", human_bytes(report->data_bytes));
  return kExitOk;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-sign", owf::tools::run, argc, argv); }
