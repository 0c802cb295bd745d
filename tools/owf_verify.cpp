// owf-verify FILE...: full check of every file, one line each.
//
// OWF files: structure (at open: framing, manifest digest, every field,
// layout, padding bytes) and every tensor digest (File::verify). Other
// formats store no digests: their check is the reader's structural
// validation plus reading every tensor to compute the weights digest.
// Signatures (spec/signatures.md): embedded ones and --signature envelopes
// are checked against --trusted-key keys; --require-signature fails a file
// that no trusted key validly signed.
#include <fmt/core.h>

#include <fstream>

#include "cli.hpp"
#include "progress.hpp"
#include "render.hpp"

namespace owf::tools {
namespace {

constexpr std::string_view kTool = "owf-verify";
constexpr std::uint64_t kProgressMinBytes = 256ull << 20;

struct Outcome {
  std::string path;
  std::optional<Format> format;
  std::optional<Sha256Digest> digest;
  std::optional<Error> error;
  std::string checks;
  std::size_t shards = 0;  // an OWF shard set: its files
  std::vector<SignatureCheck> signatures;
  bool signed_by_trusted = false;
};

struct SignatureInputs {
  std::vector<PublicKey> trusted;
  std::vector<DetachedSignature> detached;
  std::string detached_path;
  bool require = false;
};

// After the digests: the weights digest computed there is the one checked.
void check_signatures_of(const Source& source, const SignatureInputs& in, Outcome& out) {
  out.signatures = check_signatures(source, *out.digest, in.trusted, in.detached, in.detached_path);
  for (const auto& c : out.signatures)
    if (c.status == SignatureStatus::kValid) out.signed_by_trusted = true;
  if (in.require && !out.signed_by_trusted)
    out.error = Error(ErrorCode::kBadSignature,
                      out.signatures.empty() ? "no signature, and --require-signature was given"
                      : in.trusted.empty()   ? "signatures present, but no --trusted-key to check them with"
                                             : "no valid signature by a trusted key");
}

Outcome verify_one(const std::string& path, const std::optional<Sha256Digest>& expected, unsigned threads,
                   bool progress_allowed, const SignatureInputs& sig) {
  Outcome out;
  out.path = path;
  auto source = open_input(path);
  if (!source.ok()) {
    out.error = source.error();
    return out;
  }
  out.format = (*source)->format();
  if (const FileSet* set = (*source)->owf_file_set()) out.shards = set->shard_count();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < (*source)->tensor_count(); ++i) total += (*source)->tensor(i).logical_bytes;
  ProgressBar bar(path, progress_allowed && total >= kProgressMinBytes);
  DigestOptions options;
  options.threads = threads;
  options.check_stored = true;
  if (bar.enabled()) options.progress = [&](std::uint64_t done, std::uint64_t all) { bar.update(done, all); };
  auto digests = compute_digests(**source, options);
  if (!digests.ok()) {
    out.error = digests.error();
    return out;
  }
  out.digest = digests->weights;
  out.checks = (*source)->owf_file_set() != nullptr
                   ? "every shard's structure, padding, manifest digest and tensor digests, and the set's agreement"
               : (*source)->owf_file() != nullptr
                   ? "structure, padding, manifest digest and every tensor digest"
                   : fmt::format("{} structure checked and every tensor read; the format stores no digests to compare",
                                 format_name(*out.format));
  if (expected && *out.digest != *expected)
    out.error = Error(ErrorCode::kDigestExpectationFailed, fmt::format("weights digest {} differs from the expected {}",
                                                                       to_hex(*out.digest), to_hex(*expected)));
  if (!out.error) check_signatures_of(**source, sig, out);
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{
      "Check weights files completely: structure, padding and every digest.\n"
      "Exit status: 0 all verified, 1 some file is invalid or corrupt, 2 usage or I/O error.",
      std::string(kTool)};
  std::vector<std::string> paths;
  std::string expect_hex;
  bool json = false, quiet = false;
  unsigned threads = 0;
  app.add_option("FILE", paths, "weights files")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_option("--expect-digest", expect_hex, "fail unless the weights digest is this (64 hex digits)");
  app.add_option("--threads", threads, "worker threads (0: one per core)")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "print only failures");
  std::vector<std::string> trusted_paths;
  SignatureInputs sig;
  app.add_option("--trusted-key", trusted_paths, "public key (PEM) whose signatures count (repeatable)");
  app.add_option("--signature", sig.detached_path, "detached signature (DSSE envelope, as owf-sign --detached writes)");
  app.add_flag("--require-signature", sig.require, "fail unless a trusted key validly signed the file");
  add_remote_options(app);
  if (auto code = parse_command_line(app, argc, argv)) return *code;
  for (const auto& p : trusted_paths) {
    auto key = PublicKey::load(p);
    if (!key.ok()) return fail(kTool, key.error(), kExitUsage);
    sig.trusted.push_back(*key);
  }
  if (!sig.detached_path.empty()) {
    std::ifstream in(sig.detached_path, std::ios::binary);
    if (!in) return fail(kTool, Error(ErrorCode::kIoError, "cannot open " + sig.detached_path), kExitUsage);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto envelope = parse_envelope(text);
    if (!envelope.ok()) return fail(kTool, envelope.error());
    sig.detached.push_back(std::move(*envelope));
  }

  std::optional<Sha256Digest> expected;
  if (!expect_hex.empty()) {
    expected = digest_from_hex(expect_hex);
    if (!expected) return fail(kTool, Error(ErrorCode::kInvalidArgument, "--expect-digest needs 64 hex digits"));
  }
  const bool progress_allowed = stderr_is_terminal();
  int exit_code = kExitOk;
  auto results = nlohmann::json::array();
  for (const auto& path : paths) {
    const Outcome o = verify_one(path, expected, threads, progress_allowed, sig);
    if (o.error) exit_code = std::max(exit_code, exit_code_for(*o.error));
    if (json) {
      nlohmann::json j{{"file", o.path}, {"ok", !o.error.has_value()}};
      j["format"] = o.format ? nlohmann::json(std::string(format_name(*o.format))) : nlohmann::json(nullptr);
      j["weights_digest"] = o.digest ? nlohmann::json(to_hex(*o.digest)) : nlohmann::json(nullptr);
      if (!o.checks.empty()) j["checks"] = o.checks;
      if (o.shards != 0) j["shards"] = o.shards;
      if (o.error) j["error"] = error_json(*o.error);
      auto sigs = nlohmann::json::array();
      for (const auto& c : o.signatures)
        sigs.push_back({{"origin", c.origin},
                        {"algorithm", c.signature.algorithm},
                        {"key_id", c.signature.key_id},
                        {"covers", c.signature.covers},
                        {"status", std::string(signature_status_name(c.status))},
                        {"detail", c.detail}});
      j["signatures"] = sigs;
      results.push_back(j);
    } else if (o.error) {
      fmt::print("{}: FAILED {}\n", printable(o.path), printable(o.error->to_string()));
    } else if (!quiet) {
      const bool owf = o.format == Format::kOwf;
      fmt::print(
          "{}: OK {}{}\n", printable(o.path), to_hex(*o.digest),
          o.shards != 0 ? fmt::format(" (a shard set of {} files, all verified)", o.shards)
          : owf         ? ""
                : fmt::format(" ({}: structure checked, digest computed; no stored digests)", format_name(*o.format)));
    }
    if (!json && (!quiet || o.error))
      for (const auto& c : o.signatures)
        fmt::print("  signature {} key {} {} ({}): {}: {}\n", printable(c.origin),
                   c.signature.key_id.empty() ? "?" : printable(c.signature.key_id),
                   c.signature.algorithm.empty() ? "?" : printable(c.signature.algorithm),
                   printable(c.signature.covers), signature_status_name(c.status), printable(c.detail));
    std::fflush(stdout);
  }
  if (json) fmt::print("{}\n", dump_json({{"ok", exit_code == kExitOk}, {"files", results}}));
  return exit_code;
}

}  // namespace
}  // namespace owf::tools

int main(int argc, char** argv) { return owf::tools::run_guarded("owf-verify", owf::tools::run, argc, argv); }
