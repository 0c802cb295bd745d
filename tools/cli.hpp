// Command-line conventions shared by the owf-* tools: options, exit codes,
// error reporting, and the guard that keeps every failure an exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "owf/owf.hpp"

namespace owf::tools {

/// Exit codes shared by all tools.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the file is invalid or corrupt, differs, or a check failed
inline constexpr int kExitUsage = 2;   // bad arguments, or the environment (I/O) failed

/// Runs `body`; an exception that escapes it (std::bad_alloc above all)
/// becomes a message and kExitUsage, never an abort. Every tool's main().
int run_guarded(std::string_view tool, int (*body)(int, char**), int argc, char** argv);

/// Parses the command line; returns an exit code when the tool should stop
/// now (--help: 0, usage errors: kExitUsage after printing them).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

/// kExitUsage for errors of the caller or the environment (I/O, arguments,
/// a missing tensor or license, an existing target, an unsupported
/// operation); kExitFailed for everything that says the content is wrong.
int exit_code_for(const Error& error);
/// Prints "tool: code_name: message" on stderr (control characters
/// escaped) and returns `code`, by default exit_code_for(error).
int fail(std::string_view tool, const Error& error);
int fail(std::string_view tool, const Error& error, int code);

/// --from/--to values and file extensions.
Result<Format> parse_format(std::string_view name);
/// A format given explicitly, else the one named by the extension.
Result<Format> target_format(const std::optional<std::string>& given, const std::string& path);
/// --header NAME:VALUE (repeatable) and --ca-file PEM for http(s):// inputs;
/// open_input() uses what they set.
void add_remote_options(CLI::App& app);
/// Opens any format (--from, --select as given), with the library's checks;
/// a path may be an http(s):// URL.
Result<std::unique_ptr<Source>> open_input(const std::string& path, const std::string& from = {},
                                           const std::string& select = {});

/// "KEY=VALUE" -> key and the typed value (owf::parse_value_literal).
Result<std::pair<std::string, Value>> parse_hparam_assignment(std::string_view text);
/// "KEY=VALUE" -> key and string value.
Result<std::pair<std::string, std::string>> parse_string_assignment(std::string_view text, std::string_view what);
/// A JSON object file of metadata: string values are kept, other values
/// are stored as their JSON text.
Result<std::map<std::string, std::string>> read_metadata_json(const std::string& path);

}  // namespace owf::tools
