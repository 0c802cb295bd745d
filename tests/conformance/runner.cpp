// Runs the conformance suite (spec/conformance.md) against this library:
// every case of index.json is opened, and verified where it opens, with the
// limits the case names; the outcome must be exactly the one expected.
//
//   owf_conformance_runner <dir containing index.json>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "owf/owf.hpp"

namespace {

using json = nlohmann::json;

owf::Limits limits_for(const json& c) {
  owf::Limits l;
  if (!c.contains("limits")) return l;
  for (const auto& [key, value] : c["limits"].items()) {
    const auto v = value.get<std::uint64_t>();
    if (key == "max_manifest_bytes") l.max_manifest_bytes = v;
    else if (key == "max_tensors") l.max_tensors = v;
    else if (key == "max_rank") l.max_rank = static_cast<std::uint32_t>(v);
    else if (key == "max_name_bytes") l.max_name_bytes = static_cast<std::uint32_t>(v);
    else if (key == "max_metadata_entries") l.max_metadata_entries = v;
    else if (key == "max_string_bytes") l.max_string_bytes = v;
    else if (key == "max_alignment") l.max_alignment = v;
    else if (key == "max_chunk_bytes")
      l.max_chunk_bytes = v;
    else throw std::runtime_error("unknown limit '" + key + "'");
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
  return "";
}

}  // namespace

int main(int argc, char** argv) {
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
  for (const json& c : index["cases"]) {
    std::string problem;
    try {
      problem = run(dir, c);
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
  std::printf("%zu cases, %d failed\n", index["cases"].size(), failed);
  return failed == 0 ? 0 : 1;
}
