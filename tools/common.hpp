// Helpers shared by the owf-* tools: argument parsing conventions, error
// reporting, JSON and text rendering of model information, element
// decoding for statistics, a parallel loop and a progress bar. Tools use
// only the public OWF API.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/owf.hpp"

namespace owf::tools {

/// Exit codes shared by all tools.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // invalid/corrupt file, differences, failed check
inline constexpr int kExitUsage = 2;   // bad arguments or an I/O error

/// Parses the command line; returns an exit code when the tool should stop
/// now (--help: 0, usage errors: kExitUsage after printing them).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

/// "tool: message" on stderr, with the stable error code name.
void print_error(std::string_view tool, const Error& error);
/// kExitUsage for I/O and argument errors, kExitFailed for everything
/// that says the file itself is wrong.
int exit_code_for(const Error& error);

/// --from/--to values and file extensions.
Result<Format> parse_format(std::string_view name);
/// A format given explicitly, else the one named by the extension.
Result<Format> target_format(const std::optional<std::string>& given, const std::string& path);

/// "KEY=VALUE" -> key and the typed value (owf::parse_value_literal).
Result<std::pair<std::string, Value>> parse_hparam_assignment(std::string_view text);
/// "KEY=VALUE" -> key and string value.
Result<std::pair<std::string, std::string>> parse_string_assignment(std::string_view text, std::string_view what);
/// A JSON object file of metadata: string values are kept, other values
/// are stored as their JSON text.
Result<std::map<std::string, std::string>> read_metadata_json(const std::string& path);

/// Pretty JSON text; invalid UTF-8 in strings is replaced, never thrown on.
std::string dump_json(const nlohmann::json& json);

/// Typed JSON renderings.
nlohmann::json to_json(const Value& value);
nlohmann::json to_json(const License& license);
nlohmann::json to_json(const Provenance& provenance);
nlohmann::json shape_json(std::span<const std::uint64_t> shape);

/// Readable renderings: "[4, 2]", "1.4 MiB", "1,234,567".
std::string shape_string(std::span<const std::uint64_t> shape);
std::string human_bytes(std::uint64_t bytes);
std::string grouped(std::uint64_t n);
/// A value for a table: lists longer than `max_items` and strings longer
/// than `max_chars` are cut, with the full size said.
std::string value_summary(const Value& value, std::size_t max_items = 8, std::size_t max_chars = 80);

/// Rows of cells printed with aligned columns (numbers right-aligned).
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {});
  void add(std::vector<std::string> row);
  std::string render(std::string_view indent = "  ") const;

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

/// Element values as doubles for the dtypes that have them (bool,
/// integers, F16, BF16, F32, F64, F8 E4M3FN/E5M2/E8M0); nullopt otherwise.
bool decodable_as_double(DType dtype);
/// Precondition: decodable_as_double(dtype) and bytes.size() is a whole
/// number of elements.
void decode_as_double(DType dtype, std::span<const std::byte> bytes, std::vector<double>& out);
/// True for F16, BF16, F32 and F64, whose differences owf-diff reports.
bool is_float_for_diff(DType dtype);

/// Runs body(i) for i in [0, n) on `threads` threads (0: one per core).
void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& body);

/// Per-tensor SHA-256 of every tensor (stored ones for OWF, else computed
/// in parallel) and the weights digest over them. With `check_stored`, OWF
/// tensors are first checked against their stored digests (File::verify), so
/// a corrupted file is an error rather than a silent match.
struct Digests {
  std::vector<Sha256Digest> tensors;
  Sha256Digest weights{};
};
Result<Digests> compute_digests(const Source& source, unsigned threads = 0, bool check_stored = false);

/// A one-line progress bar on stderr, redrawn at most every 100 ms.
/// Inactive (prints nothing) unless stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  void update(std::uint64_t done, std::uint64_t total);
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::mutex mutex_;
  std::int64_t last_draw_ns_ = 0;
};

/// True when stderr is a terminal.
bool stderr_is_terminal();

}  // namespace owf::tools
