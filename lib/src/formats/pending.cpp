// Formats whose readers are not part of this build yet.
#include <string>

#include "formats/formats.hpp"

namespace owf::internal {
namespace {
Error not_built(std::string_view format) {
  return Error(ErrorCode::kForeignFormatUnsupported, std::string(format) + " files are not supported by this build");
}
}  // namespace



}  // namespace owf::internal
