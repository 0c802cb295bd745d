#include "cli.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <new>
#include <nlohmann/json.hpp>

#include "render.hpp"

namespace owf::tools {

int run_guarded(std::string_view tool, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "{}: out of memory\n", tool);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: internal error: {}\n", tool, printable(e.what()));
  } catch (...) {
    fmt::print(stderr, "{}: internal error\n", tool);
  }
  return kExitUsage;
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return std::nullopt;
}

int exit_code_for(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kIoError:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kUnsupported:
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kMissingLicense:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

int fail(std::string_view tool, const Error& error, int code) {
  fmt::print(stderr, "{}: {}\n", tool, printable(error.to_string()));
  return code;
}

int fail(std::string_view tool, const Error& error) { return fail(tool, error, exit_code_for(error)); }

Result<Format> parse_format(std::string_view name) {
  if (auto f = format_from_name(name)) return *f;
  return Error(ErrorCode::kInvalidArgument,
               "unknown format '" + std::string(name) + "' (owf, safetensors, gguf, npz, npy, pytorch)");
}

Result<Format> target_format(const std::optional<std::string>& given, const std::string& path) {
  if (given) return parse_format(*given);
  if (auto f = format_from_extension(path)) return *f;
  return Error(
      ErrorCode::kInvalidArgument,
      "cannot tell the format of '" + path + "' from its extension (.owf, .safetensors, .gguf, .npz, .npy): use --to");
}

namespace {
RemoteOptions& remote_options() {
  static RemoteOptions options;
  return options;
}
}  // namespace

void add_remote_options(CLI::App& app) {
  app.add_option("--header", remote_options().headers,
                 "URLs: send this request header ('Name: value'; also OWF_HTTP_HEADER, or OWF_HTTP_TOKEN for a "
                 "bearer token); never printed");
  app.add_option("--ca-file", remote_options().ca_file,
                 "URLs: verify HTTPS servers with the certificate authorities in this PEM file (also OWF_CA_FILE)");
}

Result<std::unique_ptr<Source>> open_input(const std::string& path, const std::string& from,
                                           const std::string& select) {
  SourceOptions options;
  options.remote = remote_options();
  if (!from.empty()) {
    OWF_ASSIGN_OR_RETURN(Format f, parse_format(from));
    options.format = f;
  }
  options.select = select;
  return open_source(path, options);
}

Result<std::pair<std::string, Value>> parse_hparam_assignment(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Error(ErrorCode::kInvalidArgument, "expected KEY=VALUE, got '" + std::string(text) + "'");
  std::string key(text.substr(0, eq));
  if (auto s = validate_hyperparameter_key(key); !s.ok())
    return Error(ErrorCode::kInvalidArgument, s.error().message());
  return std::make_pair(std::move(key), parse_value_literal(text.substr(eq + 1)));
}

Result<std::pair<std::string, std::string>> parse_string_assignment(std::string_view text, std::string_view what) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Error(ErrorCode::kInvalidArgument,
                 std::string(what) + ": expected KEY=VALUE, got '" + std::string(text) + "'");
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

Result<std::map<std::string, std::string>> read_metadata_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIoError, path + ": cannot open: " + std::strerror(errno));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Error(ErrorCode::kInvalidArgument, path + ": not valid JSON");
  if (!json.is_object()) return Error(ErrorCode::kInvalidArgument, path + ": expected a JSON object of metadata");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : json.items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

}  // namespace owf::tools
