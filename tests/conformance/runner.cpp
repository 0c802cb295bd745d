// Runs the conformance suite (spec/conformance.md) against this library:
// every case of index.json is opened, and verified where it opens, with the
// limits the case names; the outcome must be exactly the one expected.
//
//   owf_conformance_runner [--verbose] <dir containing index.json>
//
// With --check-table it checks the suite against the specification instead:
// every rule of format.md §8 and compression.md §5 has a row in
// conformance.md's rule table naming at least one case, every case named
// there exists and fails, and every case of index.json is in a table.
//
//   owf_conformance_runner --check-table <spec dir> <dir containing index.json>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "owf/owf.hpp"

namespace {

using json = nlohmann::json;

owf::Limits limits_for(const json& c) {
  owf::Limits l;
  if (!c.contains("limits")) return l;
  for (const auto& [key, value] : c["limits"].items()) {
    const auto v = value.get<std::uint64_t>();
    if (key == "max_manifest_bytes")
      l.max_manifest_bytes = v;
    else if (key == "max_tensors")
      l.max_tensors = v;
    else if (key == "max_rank")
      l.max_rank = static_cast<std::uint32_t>(v);
    else if (key == "max_name_bytes")
      l.max_name_bytes = static_cast<std::uint32_t>(v);
    else if (key == "max_metadata_entries")
      l.max_metadata_entries = v;
    else if (key == "max_string_bytes")
      l.max_string_bytes = v;
    else if (key == "max_alignment")
      l.max_alignment = v;
    else if (key == "max_chunk_bytes")
      l.max_chunk_bytes = v;
    else if (key == "max_signatures")
      l.max_signatures = static_cast<std::uint32_t>(v);
    else if (key == "max_shards")
      l.max_shards = static_cast<std::uint32_t>(v);
    else
      throw std::runtime_error("unknown limit '" + key + "'");
  }
  return l;
}

// The message of the error a case ended with ("" for a valid file), for --verbose.
std::string last_message;

// "" when the case behaves as expected, else what went wrong.
std::string run(const std::filesystem::path& dir, const json& c) {
  last_message.clear();
  const json& expect = c["expect"];
  auto file = owf::File::open(dir / c["file"].get<std::string>(), limits_for(c));
  const std::string opened = file.ok() ? "ok" : std::string(owf::error_code_name(file.code()));
  if (opened != expect["open"])
    return "open: expected " + expect["open"].get<std::string>() + ", got " + opened +
           (file.ok() ? "" : " (" + file.error().message() + ")");
  if (!file.ok()) {
    last_message = file.error().message();
    return last_message.empty() ? "open: error without a message" : "";
  }
  const auto status = file->verify();
  if (!status.ok()) last_message = status.error().message();
  const std::string verified = status.ok() ? "ok" : std::string(owf::error_code_name(status.code()));
  if (verified != expect["verify"])
    return "verify: expected " + expect["verify"].get<std::string>() + ", got " + verified +
           (status.ok() ? "" : " (" + status.error().message() + ")");
  if (expect.contains("tensor_count") && file->tensor_count() != expect["tensor_count"].get<std::size_t>())
    return "tensor_count: expected " + expect["tensor_count"].dump() + ", got " + std::to_string(file->tensor_count());
  if (expect.contains("weights_digest") && owf::to_hex(file->weights_digest()) != expect["weights_digest"])
    return "weights_digest: expected " + expect["weights_digest"].get<std::string>() + ", got " +
           owf::to_hex(file->weights_digest());
  if (expect.contains("signatures")) {
    // signatures.md: each embedded signature checked against the trusted keys.
    std::vector<owf::PublicKey> trusted;
    for (const auto& k : expect["signatures"]["trusted_keys"]) {
      auto key = owf::PublicKey::load(dir / k.get<std::string>());
      if (!key.ok()) return "trusted key: " + key.error().to_string();
      trusted.push_back(*key);
    }
    auto checks = owf::check_signatures(*owf::source_of(std::move(*file)), trusted);
    if (!checks.ok()) return "signatures: " + checks.error().to_string();
    json got = json::array();
    for (const auto& c : *checks) {
      got.push_back(std::string(owf::signature_status_name(c.status)));
      last_message += (last_message.empty() ? "" : "; ") + c.detail;
    }
    if (got != expect["signatures"]["results"])
      return "signatures: expected " + expect["signatures"]["results"].dump() + ", got " + got.dump() + " (" +
             last_message + ")";
  }
  return "";
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Problems found, one per line; "" when the suite covers every rule.
std::string check_table(const std::filesystem::path& spec, const json& index) {
  std::set<std::string> rules;  // "R1", ..., "C12", as the specification defines them
  const std::regex rule_definition(R"(^- ([RCS][0-9]+)(\.| \())");
  for (const char* doc : {"format.md", "compression.md", "shards.md"}) {
    std::istringstream lines(read_text(spec / doc));
    for (std::string line; std::getline(lines, line);)
      if (std::smatch m; std::regex_search(line, m, rule_definition)) rules.insert(m[1]);
  }
  std::map<std::string, std::set<std::string>> rows;  // rule -> cases its row names
  std::set<std::string> valid_listed;
  const std::regex case_id("`((?:valid|[rc][0-9]{2}|s[0-9])-[a-z0-9.-]+)`");
  std::istringstream lines(read_text(spec / "conformance.md"));
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    // "| R12 |", or "| R35 (after R11) |" with a note on its place.
    const bool rule_row = std::regex_search(line, m, std::regex(R"(^\| ([RCS][0-9]+)( \([^)]*\))? \|)"));
    const std::string rule = rule_row ? m[1].str() : "";
    for (std::sregex_iterator it(line.begin(), line.end(), case_id), end; it != end; ++it) {
      const std::string id = (*it)[1];
      if (rule_row)
        rows[rule].insert(id);
      else if (line.starts_with("| `valid-"))
        valid_listed.insert(id);
    }
  }
  std::map<std::string, const json*> cases;
  for (const json& c : index["cases"]) cases[c["id"].get<std::string>()] = &c;
  if (index.contains("sets"))
    for (const json& c : index["sets"]) cases[c["id"].get<std::string>()] = &c;
  std::string problems;
  auto problem = [&](const std::string& p) { problems += p + "\n"; };
  for (const auto& rule : rules)
    if (rows[rule].empty()) problem("rule " + rule + " has no case in conformance.md's rule table");
  for (const auto& [rule, ids] : rows) {
    if (!rules.contains(rule))
      problem("conformance.md lists rule " + rule + ", which the specification does not define");
    for (const auto& id : ids) {
      if (!cases.contains(id)) {
        problem("conformance.md names case " + id + " (rule " + rule + "), which index.json does not have");
        continue;
      }
      const json& expect = (*cases[id])["expect"];
      if (expect["open"] == "ok" && expect.value("verify", "ok") == "ok")
        problem("conformance.md names case " + id + " for rule " + rule + ", but it is a valid file");
    }
  }
  for (const auto& [id, c] : cases) {
    if (c->contains("rule")) {
      const std::string rule = (*c)["rule"];
      if (!rules.contains(rule))
        problem("case " + id + " names rule " + rule + ", which the specification does not define");
      if (!rows[rule].contains(id))
        problem("case " + id + " is missing from the row of " + rule + " in conformance.md");
    } else if (!valid_listed.contains(id)) {
      problem("valid case " + id + " is missing from conformance.md's table of valid files");
    }
  }
  return problems;
}

}  // namespace

// A shard set case (shards.md §4): opened whole (S1-S6), then verified.
std::string run_set(const std::filesystem::path& dir, const json& c) {
  last_message.clear();
  const json& expect = c["expect"];
  owf::OpenOptions options;
  options.limits = limits_for(c);
  auto set = owf::FileSet::open(dir / c["open"].get<std::string>(), options);
  owf::Status whole = set.ok() ? set->open_all() : owf::Status(set.error());
  const std::string opened = whole.ok() ? "ok" : std::string(owf::error_code_name(whole.code()));
  if (!whole.ok()) last_message = whole.error().message();
  if (opened != expect["open"])
    return "open: expected " + expect["open"].get<std::string>() + ", got " + opened + " (" + last_message + ")";
  if (!whole.ok()) return last_message.empty() ? "open: error without a message" : "";
  const auto status = set->verify();
  if (!status.ok()) last_message = status.error().message();
  const std::string verified = status.ok() ? "ok" : std::string(owf::error_code_name(status.code()));
  if (verified != expect["verify"])
    return "verify: expected " + expect["verify"].get<std::string>() + ", got " + verified + " (" + last_message + ")";
  if (expect.contains("shard_count") && set->shard_count() != expect["shard_count"].get<std::size_t>())
    return "shard_count: expected " + expect["shard_count"].dump() + ", got " + std::to_string(set->shard_count());
  if (expect.contains("tensor_count") && set->tensor_count() != expect["tensor_count"].get<std::uint64_t>())
    return "tensor_count: expected " + expect["tensor_count"].dump() + ", got " + std::to_string(set->tensor_count());
  if (expect.contains("weights_digest") && owf::to_hex(set->weights_digest()) != expect["weights_digest"])
    return "weights_digest: expected " + expect["weights_digest"].get<std::string>() + ", got " +
           owf::to_hex(set->weights_digest());
  return "";
}

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--check-table") {
    try {
      std::ifstream in(std::filesystem::path(argv[3]) / "index.json");
      const std::string problems = check_table(argv[2], json::parse(in));
      std::printf("%s",
                  problems.empty() ? "every rule has a failing case; the tables match index.json\n" : problems.c_str());
      return problems.empty() ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  }
  const bool verbose = argc == 3 && std::string(argv[1]) == "--verbose";
  if (argc != 2 && !verbose) {
    std::fprintf(stderr, "usage: %s [--verbose] <conformance dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[argc - 1];
  std::ifstream in(dir / "index.json");
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", (dir / "index.json").c_str());
    return 2;
  }
  const json index = json::parse(in);
  int failed = 0;
  std::vector<const json*> all;
  for (const json& c : index["cases"]) all.push_back(&c);
  if (index.contains("sets"))
    for (const json& c : index["sets"]) all.push_back(&c);
  for (const json* each : all) {
    const json& c = *each;
    std::string problem;
    try {
      problem = c.contains("directory") ? run_set(dir, c) : run(dir, c);
    } catch (const std::exception& e) {
      problem = std::string("bad case: ") + e.what();
    }
    const std::string id = c["id"];
    if (problem.empty()) {
      std::printf("ok    %s%s%s\n", id.c_str(), verbose && !last_message.empty() ? ": " : "",
                  verbose ? last_message.c_str() : "");
    } else {
      std::printf("FAIL  %s: %s\n", id.c_str(), problem.c_str());
      ++failed;
    }
  }
  std::printf("%zu cases, %d failed\n", all.size(), failed);
  return failed == 0 ? 0 : 1;
}
