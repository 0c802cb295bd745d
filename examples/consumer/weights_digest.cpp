// Verifies an OWF file and prints its weights digest through the C++ API.
//   owf_digest MODEL.owf
// Exit codes: 0 verified, 1 the file is unusable, 2 usage.
#include <cstdio>
#include <owf/owf.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.owf\n", argv[0]);
    return 2;
  }
  auto file = owf::File::open(argv[1]);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.error().to_string().c_str());
    return 1;
  }
  if (auto s = file->verify(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().to_string().c_str());
    return 1;
  }
  std::printf("%s  %s (verified, owf %s)\n", owf::to_hex(file->weights_digest()).c_str(), argv[1],
              std::string(owf::library_version()).c_str());
  return 0;
}
