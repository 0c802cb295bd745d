// The C API (owf/owf.h): round trips through the C writer and reader, and
// every error path: bad files, bad arguments, NULL pointers.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "owf/owf.h"
#include "test_util.hpp"

namespace {

using owf::test::TempDir;

const float kWeight[6] = {1, 2, 3, 4, 5, 6};
const float kBias[3] = {0.5f, -0.5f, 0.25f};

struct WriterHandle {
  owf_writer* w = nullptr;
  ~WriterHandle() { owf_writer_free(w); }
};

struct FileHandle {
  owf_file* f = nullptr;
  ~FileHandle() { owf_file_free(f); }
};

owf_tensor_desc desc(const char* name, uint32_t dtype, std::vector<uint64_t>& shape, uint32_t role) {
  owf_tensor_desc d{};
  d.name = name;
  d.dtype = dtype;
  d.role = role;
  d.rank = shape.size();
  d.shape = shape.empty() ? nullptr : shape.data();
  return d;
}

// Writes a small model using every writer entry point.
void write_model(const std::string& path) {
  WriterHandle h;
  owf_write_options options = owf_write_options_default();
  options.sync = 0;
  REQUIRE(owf_writer_create(path.c_str(), &options, &h.w, nullptr) == OWF_OK);
  REQUIRE(h.w != nullptr);

  const char* copyright[] = {"2026 A", "2026 B"};
  owf_license_desc license{};
  license.spdx = "MIT";
  license.name = "MIT License";
  license.copyright = copyright;
  license.copyright_count = 2;
  CHECK(owf_writer_set_license(h.w, &license) == OWF_OK);

  const char* authors[] = {"Ada"};
  owf_base_model_desc base{};
  base.name = "base-net";
  for (int i = 0; i < 32; ++i) base.weights_digest[i] = static_cast<uint8_t>(i);
  owf_provenance_desc provenance{};
  provenance.name = "tiny";
  provenance.version = "2";
  provenance.architecture = "mlp";
  provenance.authors = authors;
  provenance.author_count = 1;
  provenance.base_models = &base;
  provenance.base_model_count = 1;
  CHECK(owf_writer_set_provenance(h.w, &provenance) == OWF_OK);

  const uint8_t bools[] = {1, 0, 1};
  const int64_t ints[] = {3, -4};
  const double doubles[] = {0.5, 1.5, 2.5};
  const char* strs[] = {"x", "yz"};
  CHECK(owf_writer_set_hparam_bool(h.w, "flag", 1) == OWF_OK);
  CHECK(owf_writer_set_hparam_int64(h.w, "model.size", 3) == OWF_OK);
  CHECK(owf_writer_set_hparam_double(h.w, "lr", 0.125) == OWF_OK);
  CHECK(owf_writer_set_hparam_string(h.w, "act", "relu") == OWF_OK);
  CHECK(owf_writer_set_hparam_bool_array(h.w, "bools", bools, 3) == OWF_OK);
  CHECK(owf_writer_set_hparam_int64_array(h.w, "ints", ints, 2) == OWF_OK);
  CHECK(owf_writer_set_hparam_double_array(h.w, "doubles", doubles, 3) == OWF_OK);
  CHECK(owf_writer_set_hparam_string_array(h.w, "strs", strs, 2) == OWF_OK);
  CHECK(owf_writer_set_metadata(h.w, "note", "hello") == OWF_OK);

  std::vector<uint64_t> wshape{3, 2}, bshape{3}, sshape{1};
  auto w = desc("layer.weight", OWF_DTYPE_F32, wshape, OWF_ROLE_WEIGHT);
  CHECK(owf_writer_add_tensor(h.w, &w, kWeight, sizeof kWeight) == OWF_OK);
  // Streamed in three pieces.
  auto b = desc("layer.bias", OWF_DTYPE_F32, bshape, OWF_ROLE_BIAS);
  CHECK(owf_writer_begin_tensor(h.w, &b) == OWF_OK);
  for (int i = 0; i < 3; ++i) CHECK(owf_writer_append(h.w, &kBias[i], sizeof(float)) == OWF_OK);
  CHECK(owf_writer_end_tensor(h.w) == OWF_OK);
  const int64_t step = 7;
  auto s = desc("step", OWF_DTYPE_I64, sshape, OWF_ROLE_BUFFER);
  CHECK(owf_writer_add_tensor(h.w, &s, &step, sizeof step) == OWF_OK);
  REQUIRE(owf_writer_finish(h.w) == OWF_OK);
}

std::string str(const char* p, size_t n) { return std::string(p, n); }

struct Progress {
  int calls = 0;
  uint64_t done = 0, total = 0;
};

void on_progress(uint64_t done, uint64_t total, void* user) {
  auto* p = static_cast<Progress*>(user);
  ++p->calls;
  p->done = done;
  p->total = total;
}

}  // namespace

TEST_CASE("C API: versions and names") {
  CHECK(owf_abi_version() == OWF_ABI_VERSION);
  CHECK(std::string(owf_library_version()) == "0.1.0");
  uint16_t major = 0, minor = 9;
  owf_format_version(&major, &minor);
  CHECK(major == 1);
  CHECK(minor == 3);
  owf_format_version(nullptr, nullptr);
  CHECK(std::string(owf_status_name(OWF_OK)) == "ok");
  CHECK(std::string(owf_status_name(OWF_TENSOR_OVERLAP)) == "tensor_overlap");
  CHECK(std::string(owf_status_name(OWF_OUT_OF_MEMORY)) == "out_of_memory");
  CHECK(std::string(owf_status_name(OWF_INTERNAL_ERROR)) == "internal_error");
  CHECK(std::string(owf_status_name(-1)) == "unknown");
  CHECK(std::string(owf_status_name(1 << 20)) == "unknown");

  CHECK(std::string(owf_dtype_name(OWF_DTYPE_Q4_K)) == "Q4_K");
  CHECK(owf_dtype_name(9999) == nullptr);
  uint32_t code = 0;
  CHECK(owf_dtype_from_name("bf16", &code) == OWF_OK);
  CHECK(code == OWF_DTYPE_BF16);
  CHECK(owf_dtype_from_name("nope", &code) == OWF_NOT_FOUND);
  CHECK(owf_dtype_from_name(nullptr, &code) == OWF_INVALID_ARGUMENT);
  CHECK(owf_dtype_from_name("F32", nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(std::string(owf_role_name(OWF_ROLE_NORMALIZATION)) == "normalization");
  CHECK(owf_role_name(6) == nullptr);
  CHECK(std::string(owf_codec_name(OWF_CODEC_ZSTD)) == "zstd");
  CHECK(owf_codec_name(3) == nullptr);

  uint64_t bytes = 0;
  const uint64_t shape[] = {2, 64};
  CHECK(owf_tensor_byte_size(OWF_DTYPE_F16, shape, 2, &bytes) == OWF_OK);
  CHECK(bytes == 256);
  CHECK(owf_tensor_byte_size(OWF_DTYPE_F16, nullptr, 0, &bytes) == OWF_OK);
  CHECK(bytes == 2);
  const uint64_t ragged[] = {3};
  CHECK(owf_tensor_byte_size(OWF_DTYPE_Q4_0, ragged, 1, &bytes) == OWF_TENSOR_SIZE_MISMATCH);
  const uint64_t huge[] = {1ull << 40, 1ull << 40};
  CHECK(owf_tensor_byte_size(OWF_DTYPE_F32, huge, 2, &bytes) == OWF_SHAPE_OVERFLOW);
  CHECK(owf_tensor_byte_size(7777, shape, 2, &bytes) == OWF_UNKNOWN_DTYPE);
  CHECK(owf_tensor_byte_size(OWF_DTYPE_F32, nullptr, 2, &bytes) == OWF_INVALID_ARGUMENT);
  CHECK(owf_tensor_byte_size(OWF_DTYPE_F32, shape, 2, nullptr) == OWF_INVALID_ARGUMENT);

  const owf_limits l = owf_limits_default();
  CHECK(l.max_tensors == owf::Limits{}.max_tensors);
  CHECK(l.max_rank == owf::Limits{}.max_rank);
  const owf_write_options o = owf_write_options_default();
  CHECK(o.alignment == 64);
  CHECK(o.sync == 1);
  CHECK(o.compress == 0);
}

TEST_CASE("C API: dtype and role codes are the library's") {
  for (const owf::DTypeInfo& info : owf::all_dtypes()) {
    const char* name = owf_dtype_name(static_cast<uint32_t>(info.dtype));
    REQUIRE(name != nullptr);
    CHECK(std::string(name) == info.name);
    uint32_t code = 0;
    CHECK(owf_dtype_from_name(name, &code) == OWF_OK);
    CHECK(code == static_cast<uint32_t>(info.dtype));
  }
  for (uint32_t r = 0; r <= OWF_ROLE_BUFFER; ++r)
    CHECK(std::string(owf_role_name(r)) == owf::role_name(static_cast<owf::Role>(r)));
  for (int code = 0; code < 100; ++code)
    CHECK(std::string(owf_status_name(code)) == owf::error_code_name(static_cast<owf::ErrorCode>(code)));
}

TEST_CASE("C API: a scalar tensor and an empty array") {
  TempDir dir;
  const std::string path = (dir / "s.owf").string();
  {
    WriterHandle h;
    REQUIRE(owf_writer_create(path.c_str(), nullptr, &h.w, nullptr) == OWF_OK);
    owf_license_desc license{};
    license.spdx = "MIT";
    CHECK(owf_writer_set_license(h.w, &license) == OWF_OK);
    CHECK(owf_writer_set_hparam_int64_array(h.w, "empty", nullptr, 0) == OWF_OK);
    std::vector<uint64_t> scalar;
    auto t = desc("step", OWF_DTYPE_I64, scalar, OWF_ROLE_BUFFER);
    const int64_t step = 7;
    CHECK(owf_writer_add_tensor(h.w, &t, &step, sizeof step) == OWF_OK);
    REQUIRE(owf_writer_finish(h.w) == OWF_OK);
  }
  FileHandle h;
  REQUIRE(owf_file_open(path.c_str(), nullptr, &h.f, nullptr) == OWF_OK);
  owf_tensor_info info;
  REQUIRE(owf_file_tensor_info(h.f, 0, &info) == OWF_OK);
  CHECK(info.rank == 0);
  CHECK(info.shape == nullptr);
  CHECK(info.element_count == 1);
  REQUIRE(info.data != nullptr);
  CHECK(*static_cast<const int64_t*>(info.data) == 7);
  const int64_t* values = reinterpret_cast<const int64_t*>(1);
  size_t n = 9;
  CHECK(owf_file_hparam_int64_array(h.f, "empty", &values, &n) == OWF_OK);
  CHECK(n == 0);
  CHECK(values == nullptr);
  int type = -1;
  CHECK(owf_file_hparam_type(h.f, "empty", &type, &n) == OWF_OK);
  CHECK(type == OWF_VALUE_INT_ARRAY);
  CHECK(n == 0);
}

TEST_CASE("C API: u64 hyperparameters") {
  TempDir dir;
  const std::string path = (dir / "u.owf").string();
  {
    auto w = owf::Writer::create(path);
    REQUIRE(w.ok());
    owf::License license;
    license.spdx = "MIT";
    REQUIRE(w->set_license(license).ok());
    REQUIRE(w->set_hyperparameter("big", owf::Value(std::int64_t{-1}, owf::IntType::kU64)).ok());
    REQUIRE(w->set_hyperparameter("neg", owf::Value(std::int64_t{-5})).ok());
    REQUIRE(w->finish().ok());
  }
  FileHandle h;
  REQUIRE(owf_file_open(path.c_str(), nullptr, &h.f, nullptr) == OWF_OK);
  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
  CHECK(owf_file_hparam_uint64(h.f, "big", &u) == OWF_OK);
  CHECK(u == UINT64_MAX);
  CHECK(owf_file_hparam_int64(h.f, "big", &i) == OWF_LIMIT_EXCEEDED);
  CHECK(owf_file_hparam_double(h.f, "big", &d) == OWF_OK);
  CHECK(d == 18446744073709551616.0);
  CHECK(owf_file_hparam_int64(h.f, "neg", &i) == OWF_OK);
  CHECK(i == -5);
  CHECK(owf_file_hparam_uint64(h.f, "neg", &u) == OWF_LIMIT_EXCEEDED);
  CHECK(std::string(owf_file_error_message(h.f)) == "hyperparameter 'neg' is negative");
}

TEST_CASE("C API: write then read back everything") {
  TempDir dir;
  const std::string path = (dir / "m.owf").string();
  write_model(path);

  FileHandle h;
  owf_error* error = reinterpret_cast<owf_error*>(1);  // must be reset to NULL on success
  REQUIRE(owf_file_open(path.c_str(), nullptr, &h.f, &error) == OWF_OK);
  CHECK(error == nullptr);
  const owf_file* f = h.f;
  CHECK(std::string(owf_file_error_message(f)).empty());
  CHECK(owf_file_error_code(f) == OWF_OK);

  uint16_t major = 0, minor = 0;
  CHECK(owf_file_version(f, &major, &minor) == OWF_OK);
  CHECK(major == 1);
  CHECK(owf_file_version(f, nullptr, nullptr) == OWF_OK);
  uint64_t size = 0, alignment = 0;
  CHECK(owf_file_size(f, &size) == OWF_OK);
  CHECK(size == std::filesystem::file_size(path));
  CHECK(owf_file_alignment(f, &alignment) == OWF_OK);
  CHECK(alignment == 64);

  // The C view agrees with the C++ one.
  auto cpp = owf::File::open(path);
  REQUIRE(cpp.ok());
  uint8_t digest[32];
  CHECK(owf_file_weights_digest(f, digest) == OWF_OK);
  CHECK(std::memcmp(digest, cpp->weights_digest().data(), 32) == 0);

  SUBCASE("tensors") {
    size_t count = 0;
    CHECK(owf_file_tensor_count(f, &count) == OWF_OK);
    REQUIRE(count == 3);
    owf_tensor_info info;
    CHECK(owf_file_tensor_info(f, 0, &info) == OWF_OK);  // name order
    CHECK(str(info.name, info.name_length) == "layer.bias");
    CHECK(info.name[info.name_length] == '\0');
    CHECK(info.dtype == OWF_DTYPE_F32);
    CHECK(info.role == OWF_ROLE_BIAS);
    CHECK(info.codec == OWF_CODEC_NONE);
    REQUIRE(info.rank == 1);
    CHECK(info.shape[0] == 3);
    CHECK(info.logical_bytes == sizeof kBias);
    CHECK(info.stored_bytes == sizeof kBias);
    CHECK(info.element_count == 3);
    CHECK(info.offset % 64 == 0);
    REQUIRE(info.data != nullptr);
    CHECK(std::memcmp(info.data, kBias, sizeof kBias) == 0);
    CHECK(std::memcmp(info.sha256, cpp->tensor(0).sha256.data(), 32) == 0);

    size_t index = 99;
    CHECK(owf_file_find_tensor(f, "layer.weight", &index) == OWF_OK);
    CHECK(index == 1);
    CHECK(owf_file_tensor_info_by_name(f, "step", &info) == OWF_OK);
    CHECK(info.rank == 1);
    CHECK(info.dtype == OWF_DTYPE_I64);
    CHECK(*static_cast<const int64_t*>(info.data) == 7);

    float weight[6] = {};
    CHECK(owf_file_read_tensor(f, 1, weight, sizeof weight, 1) == OWF_OK);
    CHECK(std::memcmp(weight, kWeight, sizeof kWeight) == 0);
    float middle[2] = {};
    CHECK(owf_file_read_tensor_range(f, 1, 2 * sizeof(float), middle, sizeof middle) == OWF_OK);
    CHECK(middle[0] == 3);
    CHECK(middle[1] == 4);
  }

  SUBCASE("verify with progress") {
    Progress p;
    CHECK(owf_file_verify(f, 2, on_progress, &p) == OWF_OK);
    CHECK(p.calls >= 1);
    CHECK(p.total == sizeof kWeight + sizeof kBias + sizeof(int64_t));
    CHECK(p.done == p.total);
    CHECK(owf_file_verify(f, 0, nullptr, nullptr) == OWF_OK);
  }

  SUBCASE("load into caller buffers") {
    float weight[6] = {};
    float bias[3] = {};
    const owf_load_request requests[] = {{1, weight, sizeof weight}, {0, bias, sizeof bias}};
    Progress p;
    CHECK(owf_file_load(f, requests, 2, 2, 1, on_progress, &p) == OWF_OK);
    CHECK(std::memcmp(weight, kWeight, sizeof kWeight) == 0);
    CHECK(std::memcmp(bias, kBias, sizeof kBias) == 0);
    CHECK(p.total == sizeof kWeight + sizeof kBias);
    CHECK(p.done == p.total);
    CHECK(owf_file_load(f, nullptr, 0, 0, 1, nullptr, nullptr) == OWF_OK);
    const owf_load_request short_buffer[] = {{1, weight, sizeof weight - 1}};
    CHECK(owf_file_load(f, short_buffer, 1, 0, 1, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(std::string(owf_file_error_message(f)).find("layer.weight") != std::string::npos);
    const owf_load_request out_of_range[] = {{3, weight, sizeof weight}};
    CHECK(owf_file_load(f, out_of_range, 1, 0, 1, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_load(f, nullptr, 1, 0, 1, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
  }

  SUBCASE("license and provenance") {
    int has = 0;
    CHECK(owf_file_has_license(f, &has) == OWF_OK);
    CHECK(has == 1);
    const char* s = nullptr;
    size_t n = 0;
    CHECK(owf_file_license(f, OWF_LICENSE_SPDX, &s, &n) == OWF_OK);
    CHECK(str(s, n) == "MIT");
    CHECK(owf_file_license(f, OWF_LICENSE_NAME, &s, nullptr) == OWF_OK);
    CHECK(std::string(s) == "MIT License");
    CHECK(owf_file_license(f, OWF_LICENSE_URL, &s, &n) == OWF_OK);
    CHECK(n == 0);
    CHECK(owf_file_license_copyright_count(f, &n) == OWF_OK);
    REQUIRE(n == 2);
    CHECK(owf_file_license_copyright(f, 1, &s, &n) == OWF_OK);
    CHECK(str(s, n) == "2026 B");
    CHECK(owf_file_provenance(f, OWF_PROVENANCE_ARCHITECTURE, &s, &n) == OWF_OK);
    CHECK(str(s, n) == "mlp");
    CHECK(owf_file_provenance(f, OWF_PROVENANCE_CREATED, &s, &n) == OWF_OK);
    CHECK(n == 0);
    CHECK(owf_file_provenance_author_count(f, &n) == OWF_OK);
    CHECK(n == 1);
    CHECK(owf_file_provenance_author(f, 0, &s, nullptr) == OWF_OK);
    CHECK(std::string(s) == "Ada");
    CHECK(owf_file_provenance_base_model_count(f, &n) == OWF_OK);
    CHECK(n == 1);
    uint8_t d[32];
    CHECK(owf_file_provenance_base_model(f, 0, &s, &n, d) == OWF_OK);
    CHECK(str(s, n) == "base-net");
    CHECK(d[31] == 31);
    CHECK(owf_file_provenance_base_model(f, 0, &s, nullptr, nullptr) == OWF_OK);
  }

  SUBCASE("hyperparameters") {
    size_t count = 0;
    CHECK(owf_file_hparam_count(f, &count) == OWF_OK);
    CHECK(count == 8);
    std::vector<std::string> keys;
    for (size_t i = 0; i < count; ++i) {
      const char* k = nullptr;
      size_t n = 0;
      REQUIRE(owf_file_hparam_key(f, i, &k, &n) == OWF_OK);
      keys.push_back(str(k, n));
    }
    CHECK(keys == std::vector<std::string>{"act", "bools", "doubles", "flag", "ints", "lr", "model.size", "strs"});
    int type = -1;
    size_t n = 0;
    CHECK(owf_file_hparam_type(f, "doubles", &type, &n) == OWF_OK);
    CHECK(type == OWF_VALUE_FLOAT_ARRAY);
    CHECK(n == 3);
    CHECK(owf_file_hparam_type(f, "act", &type, &n) == OWF_OK);
    CHECK(type == OWF_VALUE_STRING);
    CHECK(n == 1);
    CHECK(owf_file_hparam_type(f, "flag", &type, nullptr) == OWF_OK);
    CHECK(type == OWF_VALUE_BOOL);

    int b = 0;
    CHECK(owf_file_hparam_bool(f, "flag", &b) == OWF_OK);
    CHECK(b == 1);
    int64_t i = 0;
    CHECK(owf_file_hparam_int64(f, "model.size", &i) == OWF_OK);
    CHECK(i == 3);
    uint64_t u = 0;
    CHECK(owf_file_hparam_uint64(f, "model.size", &u) == OWF_OK);
    CHECK(u == 3);
    CHECK(owf_file_hparam_uint64(f, "act", &u) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_uint64(f, "model.size", nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_uint64(nullptr, "model.size", &u) == OWF_INVALID_ARGUMENT);
    double d = 0;
    CHECK(owf_file_hparam_double(f, "lr", &d) == OWF_OK);
    CHECK(d == 0.125);
    CHECK(owf_file_hparam_double(f, "model.size", &d) == OWF_OK);  // integers widen
    CHECK(d == 3.0);
    const char* s = nullptr;
    CHECK(owf_file_hparam_string(f, "act", &s, &n) == OWF_OK);
    CHECK(str(s, n) == "relu");
    const int64_t* ints = nullptr;
    CHECK(owf_file_hparam_int64_array(f, "ints", &ints, &n) == OWF_OK);
    REQUIRE(n == 2);
    CHECK(ints[1] == -4);
    const double* doubles = nullptr;
    CHECK(owf_file_hparam_double_array(f, "doubles", &doubles, &n) == OWF_OK);
    REQUIRE(n == 3);
    CHECK(doubles[2] == 2.5);
    uint8_t bools[3] = {9, 9, 9};
    CHECK(owf_file_hparam_bool_array(f, "bools", nullptr, 0, &n) == OWF_LIMIT_EXCEEDED);
    CHECK(n == 3);
    CHECK(owf_file_hparam_bool_array(f, "bools", bools, 2, &n) == OWF_LIMIT_EXCEEDED);
    CHECK(bools[0] == 9);
    CHECK(owf_file_hparam_bool_array(f, "bools", bools, 3, &n) == OWF_OK);
    CHECK((bools[0] == 1 && bools[1] == 0 && bools[2] == 1));
    CHECK(owf_file_hparam_string_array_at(f, "strs", 1, &s, &n) == OWF_OK);
    CHECK(str(s, n) == "yz");

    // Errors: absent keys, wrong types, out of range.
    CHECK(owf_file_hparam_int64(f, "missing", &i) == OWF_NOT_FOUND);
    CHECK(std::string(owf_file_error_message(f)).find("missing") != std::string::npos);
    CHECK(owf_file_error_code(f) == OWF_NOT_FOUND);
    CHECK(owf_file_hparam_type(f, "missing", &type, &n) == OWF_NOT_FOUND);
    CHECK(owf_file_hparam_int64(f, "act", &i) == OWF_DTYPE_MISMATCH);
    CHECK(std::string(owf_file_error_message(f)) == "hyperparameter 'act' is a string, not a integer");
    CHECK(owf_file_hparam_bool(f, "lr", &b) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_double(f, "act", &d) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_string(f, "lr", &s, &n) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_int64_array(f, "doubles", &ints, &n) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_double_array(f, "ints", &doubles, &n) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_bool_array(f, "ints", bools, 3, &n) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_string_array_at(f, "act", 0, &s, &n) == OWF_DTYPE_MISMATCH);
    CHECK(owf_file_hparam_string_array_at(f, "strs", 2, &s, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_key(f, 8, &s, &n) == OWF_INVALID_ARGUMENT);
  }

  SUBCASE("metadata") {
    size_t n = 0;
    CHECK(owf_file_metadata_count(f, &n) == OWF_OK);
    CHECK(n == 1);
    const char *k = nullptr, *v = nullptr;
    size_t kn = 0, vn = 0;
    CHECK(owf_file_metadata_at(f, 0, &k, &kn, &v, &vn) == OWF_OK);
    CHECK(str(k, kn) == "note");
    CHECK(str(v, vn) == "hello");
    CHECK(owf_file_metadata_at(f, 0, &k, nullptr, &v, nullptr) == OWF_OK);
    CHECK(owf_file_metadata_get(f, "note", &v, &vn) == OWF_OK);
    CHECK(str(v, vn) == "hello");
    CHECK(owf_file_metadata_get(f, "other", &v, &vn) == OWF_NOT_FOUND);
    CHECK(owf_file_metadata_at(f, 1, &k, &kn, &v, &vn) == OWF_INVALID_ARGUMENT);
  }

  SUBCASE("tensor errors leave a message on the handle") {
    size_t index = 0;
    CHECK(owf_file_find_tensor(f, "nope", &index) == OWF_NOT_FOUND);
    CHECK(std::string(owf_file_error_message(f)) == "no tensor named 'nope'");
    owf_tensor_info info;
    CHECK(owf_file_tensor_info(f, 3, &info) == OWF_INVALID_ARGUMENT);
    CHECK(std::string(owf_file_error_message(f)).find("out of range") != std::string::npos);
    CHECK(owf_file_tensor_info_by_name(f, "nope", &info) == OWF_NOT_FOUND);
    float small[2];
    CHECK(owf_file_read_tensor(f, 1, small, sizeof small, 0) == OWF_TENSOR_SIZE_MISMATCH);
    CHECK(std::string(owf_file_error_message(f)).find("layer.weight") != std::string::npos);
    CHECK(owf_file_read_tensor(f, 1, nullptr, 24, 0) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_tensor(f, 7, small, sizeof small, 0) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_tensor_range(f, 1, 20, small, sizeof small) != OWF_OK);  // past the end
    CHECK(owf_file_read_tensor_range(f, 1, 0, nullptr, 4) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_tensor_range(f, 9, 0, small, 4) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_license(f, 99, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
    const char* s = nullptr;
    CHECK(owf_file_license(f, 99, &s, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance(f, -1, &s, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_license_copyright(f, 2, &s, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance_author(f, 1, &s, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance_base_model(f, 1, &s, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
    // A successful call leaves the last message in place.
    size_t count = 0;
    CHECK(owf_file_tensor_count(f, &count) == OWF_OK);
    CHECK(owf_file_error_code(f) == OWF_INVALID_ARGUMENT);
  }
}

TEST_CASE("C API: opening bad files") {
  TempDir dir;
  owf_file* f = reinterpret_cast<owf_file*>(1);
  owf_error* e = nullptr;

  SUBCASE("missing file") {
    const std::string path = (dir / "absent.owf").string();
    CHECK(owf_file_open(path.c_str(), nullptr, &f, &e) == OWF_IO_ERROR);
    CHECK(f == nullptr);
    REQUIRE(e != nullptr);
    CHECK(owf_error_code(e) == OWF_IO_ERROR);
    CHECK(std::string(owf_error_message(e)).find("absent.owf") != std::string::npos);
    owf_error_free(e);
    // The error out-parameter is optional.
    CHECK(owf_file_open(path.c_str(), nullptr, &f, nullptr) == OWF_IO_ERROR);
  }
  SUBCASE("not an OWF file") {
    std::vector<std::byte> junk(256, std::byte{0x41});
    CHECK(owf_file_open_memory(junk.data(), junk.size(), nullptr, &f, &e) == OWF_BAD_MAGIC);
    CHECK(f == nullptr);
    CHECK(owf_error_code(e) == OWF_BAD_MAGIC);
    owf_error_free(e);
    CHECK(owf_file_open_memory(junk.data(), 10, nullptr, &f, &e) == OWF_TRUNCATED);
    owf_error_free(e);
    CHECK(owf_file_open_memory(nullptr, 0, nullptr, &f, &e) == OWF_TRUNCATED);
    owf_error_free(e);
  }
  SUBCASE("limits and corruption") {
    const std::string path = (dir / "m.owf").string();
    write_model(path);
    std::vector<std::byte> bytes = owf::test::slurp(path);
    owf_limits limits = owf_limits_default();
    limits.max_tensors = 2;
    CHECK(owf_file_open(path.c_str(), &limits, &f, &e) == OWF_LIMIT_EXCEEDED);
    CHECK(std::string(owf_error_message(e)).find("limit") != std::string::npos);
    owf_error_free(e);
    CHECK(owf_file_open_memory(bytes.data(), bytes.size(), &limits, &f, &e) == OWF_LIMIT_EXCEEDED);
    owf_error_free(e);

    // A flipped weight byte passes open (structure is fine) but fails
    // verify and a digest-checked read, naming the tensor.
    REQUIRE(owf_file_open_memory(bytes.data(), bytes.size(), nullptr, &f, &e) == OWF_OK);
    owf_tensor_info info;
    REQUIRE(owf_file_tensor_info_by_name(f, "layer.weight", &info) == OWF_OK);
    const uint64_t offset = info.offset;
    owf_file_free(f);
    bytes[offset] ^= std::byte{0x01};
    REQUIRE(owf_file_open_memory(bytes.data(), bytes.size(), nullptr, &f, &e) == OWF_OK);
    CHECK(owf_file_verify(f, 1, nullptr, nullptr) == OWF_TENSOR_DIGEST_MISMATCH);
    CHECK(std::string(owf_file_error_message(f)).find("layer.weight") != std::string::npos);
    float w[6];
    CHECK(owf_file_read_tensor(f, 1, w, sizeof w, 1) == OWF_TENSOR_DIGEST_MISMATCH);
    CHECK(owf_file_read_tensor(f, 1, w, sizeof w, 0) == OWF_OK);  // unchecked read still works
    const owf_load_request load_weight[] = {{1, w, sizeof w}};
    CHECK(owf_file_load(f, load_weight, 1, 2, 1, nullptr, nullptr) == OWF_TENSOR_DIGEST_MISMATCH);
    CHECK(std::string(owf_file_error_message(f)).find("layer.weight") != std::string::npos);
    CHECK(owf_file_load(f, load_weight, 1, 2, 0, nullptr, nullptr) == OWF_OK);
    owf_file_free(f);

    // A truncated file.
    CHECK(owf_file_open_memory(bytes.data(), bytes.size() - 1, nullptr, &f, &e) != OWF_OK);
    CHECK(f == nullptr);
    CHECK(std::string(owf_error_message(e)).size() > 0);
    owf_error_free(e);
  }
}

TEST_CASE("C API: NULL pointers are errors, not crashes") {
  TempDir dir;
  const std::string path = (dir / "m.owf").string();
  write_model(path);
  FileHandle h;
  REQUIRE(owf_file_open(path.c_str(), nullptr, &h.f, nullptr) == OWF_OK);
  const owf_file* f = h.f;

  // Handle-creating functions.
  owf_file* out = nullptr;
  owf_error* e = nullptr;
  CHECK(owf_file_open(nullptr, nullptr, &out, &e) == OWF_INVALID_ARGUMENT);
  CHECK(std::string(owf_error_message(e)) == "path is NULL");
  owf_error_free(e);
  CHECK(owf_file_open(path.c_str(), nullptr, nullptr, &e) == OWF_INVALID_ARGUMENT);
  owf_error_free(e);
  CHECK(owf_file_open_memory(nullptr, 10, nullptr, &out, nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_file_open_memory(path.data(), 10, nullptr, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
  owf_writer* w = nullptr;
  CHECK(owf_writer_create(nullptr, nullptr, &w, nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_create(path.c_str(), nullptr, nullptr, nullptr) == OWF_INVALID_ARGUMENT);

  // Error objects and frees.
  CHECK(owf_error_code(nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(std::string(owf_error_message(nullptr)).empty());
  owf_error_free(nullptr);
  owf_file_free(nullptr);
  owf_writer_free(nullptr);
  CHECK(std::string(owf_file_error_message(nullptr)).empty());
  CHECK(std::string(owf_writer_error_message(nullptr)).empty());
  CHECK(owf_file_error_code(nullptr) == OWF_OK);
  CHECK(owf_writer_error_code(nullptr) == OWF_OK);

  // Every reader function with a NULL handle, then with NULL out-parameters.
  uint16_t u16 = 0;
  uint64_t u64 = 0;
  size_t n = 0;
  uint8_t digest[32];
  owf_tensor_info info;
  const char* s = nullptr;
  int i = 0;
  int64_t i64 = 0;
  double d = 0;
  const int64_t* ints = nullptr;
  const double* doubles = nullptr;
  uint8_t bytes[8];
  for (const owf_file* handle : {static_cast<const owf_file*>(nullptr), f}) {
    CAPTURE(handle == nullptr);
    const bool null_handle = handle == nullptr;
    CHECK(owf_file_version(handle, &u16, &u16) == (null_handle ? OWF_INVALID_ARGUMENT : OWF_OK));
    CHECK(owf_file_size(handle, null_handle ? &u64 : nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_alignment(handle, null_handle ? &u64 : nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_weights_digest(handle, null_handle ? digest : nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_tensor_count(handle, null_handle ? &n : nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_tensor_info(handle, 0, null_handle ? &info : nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_find_tensor(handle, null_handle ? "step" : nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_find_tensor(handle, "step", nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_tensor_info_by_name(handle, "step", nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_tensor_info_by_name(handle, nullptr, &info) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_tensor(handle, 2, nullptr, 8, 0) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_tensor_range(handle, 2, 0, nullptr, 8) == OWF_INVALID_ARGUMENT);
    if (null_handle) CHECK(owf_file_verify(handle, 0, nullptr, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_has_license(handle, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_license(handle, OWF_LICENSE_SPDX, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_license_copyright_count(handle, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_license_copyright(handle, 0, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance(handle, OWF_PROVENANCE_NAME, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance_author_count(handle, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance_author(handle, 0, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance_base_model_count(handle, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_provenance_base_model(handle, 0, nullptr, &n, digest) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_count(handle, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_key(handle, 0, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_type(handle, "act", nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_type(handle, nullptr, &i, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_bool(handle, "flag", nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_bool(handle, nullptr, &i) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_int64(handle, "model.size", nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_int64(handle, nullptr, &i64) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_double(handle, "lr", nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_double(handle, nullptr, &d) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_string(handle, "act", nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_string(handle, nullptr, &s, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_int64_array(handle, "ints", nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_int64_array(handle, "ints", &ints, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_int64_array(handle, nullptr, &ints, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_double_array(handle, "doubles", nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_double_array(handle, "doubles", &doubles, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_bool_array(handle, "bools", bytes, 8, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_bool_array(handle, "bools", nullptr, 8, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_bool_array(handle, nullptr, bytes, 8, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_string_array_at(handle, "strs", 0, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_hparam_string_array_at(handle, nullptr, 0, &s, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_metadata_count(handle, nullptr) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_metadata_at(handle, 0, nullptr, &n, &s, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_metadata_at(handle, 0, &s, &n, nullptr, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_metadata_get(handle, nullptr, &s, &n) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_metadata_get(handle, "note", nullptr, &n) == OWF_INVALID_ARGUMENT);
  }
  CHECK(std::string(owf_file_error_message(f)) == "value is NULL");

  // Every writer function with a NULL handle.
  owf_license_desc license{};
  license.spdx = "MIT";
  owf_provenance_desc provenance{};
  std::vector<uint64_t> shape{1};
  auto t = desc("t", OWF_DTYPE_F32, shape, OWF_ROLE_OTHER);
  const float one = 1;
  CHECK(owf_writer_set_license(nullptr, &license) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_provenance(nullptr, &provenance) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_bool(nullptr, "k", 1) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_int64(nullptr, "k", 1) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_double(nullptr, "k", 1) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_string(nullptr, "k", "v") == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_bool_array(nullptr, "k", nullptr, 0) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_int64_array(nullptr, "k", nullptr, 0) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_double_array(nullptr, "k", nullptr, 0) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_string_array(nullptr, "k", nullptr, 0) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_metadata(nullptr, "k", "v") == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_add_tensor(nullptr, &t, &one, 4) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_begin_tensor(nullptr, &t) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_append(nullptr, &one, 4) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_end_tensor(nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_finish(nullptr) == OWF_INVALID_ARGUMENT);

  // ... and with NULL arguments on a live writer.
  WriterHandle wh;
  const std::string out_path = (dir / "out.owf").string();
  REQUIRE(owf_writer_create(out_path.c_str(), nullptr, &wh.w, nullptr) == OWF_OK);
  owf_writer* wr = wh.w;
  CHECK(owf_writer_set_license(wr, nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(std::string(owf_writer_error_message(wr)) == "license is NULL");
  CHECK(owf_writer_error_code(wr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_provenance(wr, nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_bool(wr, nullptr, 1) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_int64(wr, nullptr, 1) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_double(wr, nullptr, 1) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_string(wr, nullptr, "v") == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_string(wr, "k", nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_bool_array(wr, "k", nullptr, 2) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_int64_array(wr, "k", nullptr, 2) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_double_array(wr, "k", nullptr, 2) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_hparam_string_array(wr, "k", nullptr, 2) == OWF_INVALID_ARGUMENT);
  const char* with_null[] = {"a", nullptr};
  CHECK(owf_writer_set_hparam_string_array(wr, "k", with_null, 2) == OWF_INVALID_ARGUMENT);
  CHECK(std::string(owf_writer_error_message(wr)) == "values[1] is NULL");
  CHECK(owf_writer_set_metadata(wr, nullptr, "v") == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_set_metadata(wr, "k", nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_add_tensor(wr, nullptr, &one, 4) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_add_tensor(wr, &t, nullptr, 4) == OWF_INVALID_ARGUMENT);
  owf_tensor_desc unnamed = t;
  unnamed.name = nullptr;
  CHECK(owf_writer_add_tensor(wr, &unnamed, &one, 4) == OWF_INVALID_ARGUMENT);
  owf_tensor_desc shapeless = t;
  shapeless.shape = nullptr;
  CHECK(owf_writer_add_tensor(wr, &shapeless, &one, 4) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_begin_tensor(wr, nullptr) == OWF_INVALID_ARGUMENT);
  CHECK(owf_writer_append(wr, nullptr, 4) == OWF_INVALID_ARGUMENT);
  license.copyright_count = 1;  // with a NULL array
  CHECK(owf_writer_set_license(wr, &license) == OWF_INVALID_ARGUMENT);
  provenance.author_count = 1;
  CHECK(owf_writer_set_provenance(wr, &provenance) == OWF_INVALID_ARGUMENT);
  provenance.author_count = 0;
  provenance.base_model_count = 1;
  CHECK(owf_writer_set_provenance(wr, &provenance) == OWF_INVALID_ARGUMENT);
}

TEST_CASE("C API: writer errors") {
  TempDir dir;
  const std::string path = (dir / "w.owf").string();
  WriterHandle h;
  owf_write_options options = owf_write_options_default();
  options.sync = 0;
  owf_error* e = nullptr;

  SUBCASE("create fails") {
    options.alignment = 3;
    CHECK(owf_writer_create(path.c_str(), &options, &h.w, &e) == OWF_BAD_ALIGNMENT);
    CHECK(h.w == nullptr);
    CHECK(std::string(owf_error_message(e)).find("alignment 3") != std::string::npos);
    owf_error_free(e);
    const std::string nowhere = (dir / "no" / "such" / "dir.owf").string();
    CHECK(owf_writer_create(nowhere.c_str(), nullptr, &h.w, &e) == OWF_IO_ERROR);
    CHECK(owf_error_code(e) == OWF_IO_ERROR);
    owf_error_free(e);
  }

  SUBCASE("free without finish leaves no file") {
    REQUIRE(owf_writer_create(path.c_str(), &options, &h.w, nullptr) == OWF_OK);
    std::vector<uint64_t> shape{2};
    auto t = desc("t", OWF_DTYPE_F32, shape, OWF_ROLE_OTHER);
    const float v[2] = {1, 2};
    CHECK(owf_writer_add_tensor(h.w, &t, v, sizeof v) == OWF_OK);
    owf_writer_free(h.w);
    h.w = nullptr;
    CHECK(std::filesystem::is_empty(dir.path()));
  }

  SUBCASE("validation") {
    REQUIRE(owf_writer_create(path.c_str(), &options, &h.w, nullptr) == OWF_OK);
    owf_writer* w = h.w;
    CHECK(owf_writer_finish(w) == OWF_MISSING_LICENSE);
    CHECK(std::string(owf_writer_error_message(w)).find("license") != std::string::npos);
    owf_license_desc license{};
    license.spdx = "Not-A-License";
    CHECK(owf_writer_set_license(w, &license) == OWF_BAD_LICENSE);
    license.spdx = nullptr;  // empty
    CHECK(owf_writer_set_license(w, &license) != OWF_OK);
    license.spdx = "NOASSERTION";
    CHECK(owf_writer_set_license(w, &license) == OWF_OK);
    CHECK(owf_writer_set_hparam_int64(w, "bad..key", 1) == OWF_BAD_HYPERPARAMETER);
    CHECK(owf_writer_set_hparam_string(w, "k", "\xff") == OWF_BAD_UTF8);
    CHECK(owf_writer_set_metadata(w, "", "v") == OWF_BAD_METADATA);

    std::vector<uint64_t> shape{2};
    const float v[2] = {1, 2};
    auto t = desc("t", OWF_DTYPE_F32, shape, OWF_ROLE_OTHER);
    auto bad_dtype = desc("t", 999, shape, OWF_ROLE_OTHER);
    CHECK(owf_writer_add_tensor(w, &bad_dtype, v, sizeof v) == OWF_UNKNOWN_DTYPE);
    CHECK(std::string(owf_writer_error_message(w)) == "tensor 't': unknown dtype code 999");
    auto bad_role = desc("t", OWF_DTYPE_F32, shape, 42);
    CHECK(owf_writer_add_tensor(w, &bad_role, v, sizeof v) == OWF_UNKNOWN_ROLE);
    auto empty_name = desc("", OWF_DTYPE_F32, shape, OWF_ROLE_OTHER);
    CHECK(owf_writer_add_tensor(w, &empty_name, v, sizeof v) == OWF_BAD_TENSOR_NAME);
    CHECK(owf_writer_add_tensor(w, &t, v, 4) == OWF_TENSOR_SIZE_MISMATCH);
    CHECK(owf_writer_append(w, v, 4) == OWF_INVALID_ARGUMENT);  // no tensor begun
    CHECK(owf_writer_end_tensor(w) == OWF_INVALID_ARGUMENT);
    CHECK(owf_writer_begin_tensor(w, &t) == OWF_OK);
    CHECK(owf_writer_begin_tensor(w, &t) == OWF_INVALID_ARGUMENT);  // still open
    CHECK(owf_writer_append(w, v, sizeof v) == OWF_OK);
    CHECK(owf_writer_append(w, v, 4) == OWF_TENSOR_SIZE_MISMATCH);  // past its size
    CHECK(owf_writer_end_tensor(w) == OWF_OK);
    CHECK(owf_writer_add_tensor(w, &t, v, sizeof v) == OWF_DUPLICATE_TENSOR_NAME);
    auto u = desc("u", OWF_DTYPE_F32, shape, OWF_ROLE_OTHER);
    CHECK(owf_writer_begin_tensor(w, &u) == OWF_OK);
    CHECK(owf_writer_append(w, v, 4) == OWF_OK);
    CHECK(owf_writer_end_tensor(w) == OWF_TENSOR_SIZE_MISMATCH);  // ended early
    CHECK(owf_writer_finish(w) != OWF_OK);
    CHECK(!std::filesystem::exists(path));
  }

  SUBCASE("finish twice") {
    REQUIRE(owf_writer_create(path.c_str(), &options, &h.w, nullptr) == OWF_OK);
    owf_license_desc license{};
    license.spdx = "Apache-2.0";
    CHECK(owf_writer_set_license(h.w, &license) == OWF_OK);
    CHECK(owf_writer_finish(h.w) == OWF_OK);
    CHECK(owf_writer_finish(h.w) == OWF_INVALID_ARGUMENT);
    std::vector<uint64_t> shape{1};
    auto t = desc("t", OWF_DTYPE_F32, shape, OWF_ROLE_OTHER);
    const float v = 1;
    CHECK(owf_writer_add_tensor(h.w, &t, &v, sizeof v) == OWF_INVALID_ARGUMENT);
    owf_writer_free(h.w);
    h.w = nullptr;
    FileHandle f;
    CHECK(owf_file_open(path.c_str(), nullptr, &f.f, nullptr) == OWF_OK);
    size_t count = 9;
    CHECK(owf_file_tensor_count(f.f, &count) == OWF_OK);
    CHECK(count == 0);
  }
}

TEST_CASE("C API: one file shared by threads, with failures on all of them") {
  TempDir dir;
  const std::string path = (dir / "m.owf").string();
  write_model(path);
  FileHandle h;
  REQUIRE(owf_file_open(path.c_str(), nullptr, &h.f, nullptr) == OWF_OK);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        size_t index = 0;
        float w[6];
        const std::string name = "missing" + std::to_string(t * 1000 + i);
        if (owf_file_find_tensor(h.f, name.c_str(), &index) != OWF_NOT_FOUND) ++wrong[t];
        if (owf_file_read_tensor(h.f, 1, w, sizeof w, 1) != OWF_OK) ++wrong[t];
        if (owf_file_read_tensor(h.f, 1, w, 4, 0) != OWF_TENSOR_SIZE_MISMATCH) ++wrong[t];
      }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == std::vector<int>(4, 0));
  CHECK(owf_file_error_code(h.f) != OWF_OK);
}
