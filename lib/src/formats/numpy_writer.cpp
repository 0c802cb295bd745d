// Writing .npy files and .npz archives (spec/interchange.md, "NumPy",
// "Writing"): numpy.save's headers (npy_format.cpp), a stored zip
// (zip_writer.cpp), tensors streamed in bounded pieces.
#include <set>
#include <string>

#include "formats/formats.hpp"
#include "formats/npy_format.hpp"
#include "formats/zip_archive.hpp"
#include "formats/zip_writer.hpp"
#include "tensor_pieces.hpp"

namespace owf::internal {

Status write_npy(const Source& source, const std::filesystem::path& path, const OutputOptions& output) {
  if (source.tensor_count() != 1)
    return Error(ErrorCode::kInvalidArgument, "a .npy file holds exactly one array; the source has " +
                                                  std::to_string(source.tensor_count()) + " tensors (use .npz)");
  OWF_ASSIGN_OR_RETURN(const std::string header, npy_header_for(source.tensor(0)));
  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  OWF_RETURN_IF_ERROR(out->write(std::as_bytes(std::span(header))));
  PieceBuffer buffer;
  OWF_RETURN_IF_ERROR(
      for_each_piece(source, 0, buffer, [&](std::span<const std::byte> piece) { return out->write(piece); }));
  return out->finish(true);
}

Status write_npz(const Source& source, const std::filesystem::path& path, const OutputOptions& output) {
  // Check every tensor before writing anything.
  std::vector<std::string> headers;
  std::set<std::string> names;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    const std::string member = std::string(t.name) + ".npy";
    if (auto problem = zip_name_problem(member))
      return Error(ErrorCode::kForeignFormatUnsupported,
                   "tensor '" + std::string(t.name) + "' cannot be an .npz member: " + *problem);
    if (member.size() > 0xFFFF)
      return Error(ErrorCode::kForeignFormatUnsupported, "tensor name too long for a zip member");
    if (!names.insert(member).second)
      return Error(ErrorCode::kDuplicateTensorName, "tensor '" + std::string(t.name) + "' appears twice");
    OWF_ASSIGN_OR_RETURN(std::string h, npy_header_for(t));
    headers.push_back(std::move(h));
  }
  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  ZipWriter zip(*out);
  PieceBuffer buffer;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    const auto header = std::as_bytes(std::span(headers[i]));
    OWF_RETURN_IF_ERROR(zip.begin_entry(std::string(t.name) + ".npy", header.size() + t.logical_bytes));
    OWF_RETURN_IF_ERROR(zip.append(header));
    OWF_RETURN_IF_ERROR(
        for_each_piece(source, i, buffer, [&](std::span<const std::byte> piece) { return zip.append(piece); }));
    OWF_RETURN_IF_ERROR(zip.end_entry());
  }
  OWF_RETURN_IF_ERROR(zip.finish());
  return out->finish(true);
}

}  // namespace owf::internal
