#include "common.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

namespace owf::tools {

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return std::nullopt;
}

void print_error(std::string_view tool, const Error& error) { fmt::print(stderr, "{}: {}\n", tool, error.to_string()); }

int exit_code_for(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kIoError:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

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

Result<std::pair<std::string, Value>> parse_hparam_assignment(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Error(ErrorCode::kInvalidArgument, "expected KEY=VALUE, got '" + std::string(text) + "'");
  std::string key(text.substr(0, eq));
  OWF_RETURN_IF_ERROR(validate_hyperparameter_key(key));
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
  if (!in) return Error(ErrorCode::kIoError, path + ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Error(ErrorCode::kInvalidArgument, path + ": not valid JSON");
  if (!json.is_object()) return Error(ErrorCode::kInvalidArgument, path + ": expected a JSON object of metadata");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : json.items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

namespace {

nlohmann::json double_json(double d) {
  // JSON has no NaN or infinities: say them as strings.
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

nlohmann::json int_json(const Value& v, std::int64_t i) {
  if (v.int_type == IntType::kU64) return static_cast<std::uint64_t>(i);
  return i;
}

}  // namespace

std::string dump_json(const nlohmann::json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json to_json(const Value& value) {
  return std::visit(
      [&](const auto& x) -> nlohmann::json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return int_json(value, x);
        } else if constexpr (std::is_same_v<T, double>) {
          return double_json(x);
        } else {
          auto a = nlohmann::json::array();
          for (const auto& e : x) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, std::int64_t>)
              a.push_back(int_json(value, e));
            else if constexpr (std::is_same_v<E, double>)
              a.push_back(double_json(e));
            else if constexpr (std::is_same_v<T, std::vector<bool>>)
              a.push_back(static_cast<bool>(e));
            else
              a.push_back(e);
          }
          return a;
        }
      },
      value.data);
}

nlohmann::json to_json(const License& l) {
  nlohmann::json j{{"spdx", l.spdx}};
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("concluded", l.concluded);
  put("name", l.name);
  put("url", l.url);
  put("text", l.text);
  if (!l.copyright.empty()) j["copyright"] = l.copyright;
  put("attribution", l.attribution);
  put("restrictions", l.restrictions);
  return j;
}

nlohmann::json to_json(const Provenance& p) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("name", p.name);
  put("version", p.version);
  put("architecture", p.architecture);
  put("description", p.description);
  if (!p.authors.empty()) j["authors"] = p.authors;
  put("source_url", p.source_url);
  if (!p.base_models.empty()) {
    auto a = nlohmann::json::array();
    for (const auto& b : p.base_models) a.push_back({{"name", b.name}, {"weights_digest", to_hex(b.weights_digest)}});
    j["base_models"] = a;
  }
  put("training_data", p.training_data);
  put("software", p.software);
  put("created", p.created);
  return j;
}

nlohmann::json shape_json(std::span<const std::uint64_t> shape) {
  auto a = nlohmann::json::array();
  for (auto d : shape) a.push_back(d);
  return a;
}

std::string shape_string(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (v >= 1024.0 && unit < 4) {
    v /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string value_summary(const Value& value, std::size_t max_items, std::size_t max_chars) {
  auto cut = [&](std::string s) {
    if (s.size() <= max_chars) return s;
    std::size_t n = max_chars;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole UTF-8 characters
    return s.substr(0, n) + fmt::format("... ({} bytes)", s.size());
  };
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
          return value_to_string(value);
        } else if constexpr (std::is_same_v<T, std::string>) {
          std::string escaped;
          for (char c : x) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
          return cut("\"" + escaped + "\"");
        } else {
          if (x.size() <= max_items) return cut(value_to_string(value));
          Value head = value;
          std::visit(
              [&](auto& v) {
                using V = std::decay_t<decltype(v)>;
                if constexpr (!std::is_same_v<V, bool> && !std::is_same_v<V, std::int64_t> &&
                              !std::is_same_v<V, double> && !std::is_same_v<V, std::string>)
                  v.resize(max_items);
              },
              head.data);
          std::string s = value_to_string(head);
          s.pop_back();  // ']'
          return cut(s) + fmt::format(", ... ({} items)]", x.size());
        }
      },
      value.data);
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned) : right_(std::move(right_aligned)) {
  right_.resize(header.size(), false);
  rows_.push_back(std::move(header));
}

void Table::add(std::vector<std::string> row) {
  row.resize(right_.size());
  rows_.push_back(std::move(row));
}

namespace {
// Display width: UTF-8 continuation bytes take no column.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}
}  // namespace

std::string Table::render(std::string_view indent) const {
  std::vector<std::size_t> widths(right_.size(), 0);
  for (const auto& row : rows_)
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width(row[c]));
  std::string out;
  for (const auto& row : rows_) {
    std::string line(indent);
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - width(row[c]), ' ');
      if (c) line += "  ";
      line += right_[c] ? pad + row[c] : (c + 1 == row.size() ? row[c] : row[c] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

namespace {

double half_to_double(std::uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(mant, -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(mant + 1024, exp - 25);
  return sign ? -v : v;
}

double e4m3fn_to_double(std::uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 0xF, mant = b & 0x7;
  double v;
  if (exp == 0xF && mant == 0x7)
    v = NAN;  // no infinities in FN
  else if (exp == 0)
    v = std::ldexp(mant, -9);
  else
    v = std::ldexp(mant + 8, exp - 10);
  return sign ? -v : v;
}

double e5m2_to_double(std::uint8_t b) { return half_to_double(static_cast<std::uint16_t>(b << 8)); }

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

bool decodable_as_double(DType d) {
  switch (d) {
    case DType::kBool:
    case DType::kU8:
    case DType::kI8:
    case DType::kU16:
    case DType::kI16:
    case DType::kU32:
    case DType::kI32:
    case DType::kU64:
    case DType::kI64:
    case DType::kF16:
    case DType::kBF16:
    case DType::kF32:
    case DType::kF64:
    case DType::kF8_E4M3FN:
    case DType::kF8_E5M2:
    case DType::kF8_E8M0:
      return true;
    default:
      return false;
  }
}

bool is_float_for_diff(DType d) {
  return d == DType::kF16 || d == DType::kBF16 || d == DType::kF32 || d == DType::kF64;
}

void decode_as_double(DType d, std::span<const std::byte> bytes, std::vector<double>& out) {
  const auto info = dtype_info(d);
  const std::size_t size = info ? info->block_bytes : 1;
  const std::size_t n = bytes.size() / size;
  out.resize(n);
  const std::byte* p = bytes.data();
  for (std::size_t i = 0; i < n; ++i, p += size) {
    double v = 0;
    switch (d) {
      case DType::kBool:
        v = load<std::uint8_t>(p) != 0 ? 1 : 0;
        break;
      case DType::kU8:
        v = load<std::uint8_t>(p);
        break;
      case DType::kI8:
        v = load<std::int8_t>(p);
        break;
      case DType::kU16:
        v = load<std::uint16_t>(p);
        break;
      case DType::kI16:
        v = load<std::int16_t>(p);
        break;
      case DType::kU32:
        v = load<std::uint32_t>(p);
        break;
      case DType::kI32:
        v = load<std::int32_t>(p);
        break;
      case DType::kU64:
        v = static_cast<double>(load<std::uint64_t>(p));
        break;
      case DType::kI64:
        v = static_cast<double>(load<std::int64_t>(p));
        break;
      case DType::kF16:
        v = half_to_double(load<std::uint16_t>(p));
        break;
      case DType::kBF16:
        v = std::bit_cast<float>(static_cast<std::uint32_t>(load<std::uint16_t>(p)) << 16);
        break;
      case DType::kF32:
        v = load<float>(p);
        break;
      case DType::kF64:
        v = load<double>(p);
        break;
      case DType::kF8_E4M3FN:
        v = e4m3fn_to_double(load<std::uint8_t>(p));
        break;
      case DType::kF8_E5M2:
        v = e5m2_to_double(load<std::uint8_t>(p));
        break;
      case DType::kF8_E8M0: {
        const auto e = load<std::uint8_t>(p);
        v = e == 0xFF ? NAN : std::ldexp(1.0, e - 127);
        break;
      }
      default:
        break;
    }
    out[i] = v;
  }
}

void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& body) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, n));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) body(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < n; i = next++) body(i);
    });
  for (auto& th : pool) th.join();
}

Result<Digests> compute_digests(const Source& source, unsigned threads, bool check_stored) {
  if (check_stored && source.owf_file() != nullptr) {
    VerifyOptions options;
    options.threads = threads;
    OWF_RETURN_IF_ERROR(source.owf_file()->verify(options));
  }
  const std::size_t n = source.tensor_count();
  Digests out;
  out.tensors.resize(n);
  std::vector<std::optional<Error>> errors(n);
  // OWF digests are stored: no need to read (or to spread over threads).
  parallel_for(n, source.owf_file() ? 1 : threads, [&](std::size_t i) {
    auto d = source.tensor_sha256(i);
    if (d.ok())
      out.tensors[i] = *d;
    else
      errors[i] = d.error();
  });
  for (auto& e : errors)
    if (e) return *e;
  std::vector<TensorInfo> infos(n);
  std::vector<DigestEntry> entries;
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    infos[i] = source.tensor(i);
    entries.push_back({infos[i].name, infos[i].dtype, infos[i].shape, out.tensors[i]});
  }
  out.weights = weights_digest_of(std::move(entries));
  return out;
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled) {}

ProgressBar::~ProgressBar() {
  if (drawn_) fmt::print(stderr, "\r\033[K");
}

void ProgressBar::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  const auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (drawn_ && done < total && now - last_draw_ns_ < 100'000'000) return;
  last_draw_ns_ = now;
  constexpr int kWidth = 30;
  const double f = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(f * kWidth);
  fmt::print(stderr, "\r{} [{}{}] {:3.0f}% {}/{}\033[K", label_, std::string(filled, '#'),
             std::string(kWidth - filled, ' '), f * 100.0, human_bytes(done), human_bytes(total));
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace owf::tools
