// Allocation failure at the C API boundary: every allocation in turn is made
// to fail (std::bad_alloc from a replaced operator new) while a file is
// written, opened, inspected and read through the C API. Every call must
// return OWF_OUT_OF_MEMORY or succeed; none may crash, abort or leak an
// exception into C. A separate program because it replaces operator new.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "owf/owf.h"

namespace {
long g_countdown = -1;  // fail the allocation when it reaches 0; -1: never
long g_failures = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (g_countdown >= 0 && g_countdown-- == 0) {
    ++g_failures;
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

int g_errors = 0;

void expect(bool ok, const char* what, long n) {
  if (!ok) {
    std::fprintf(stderr, "allocation %ld: %s\n", n, what);
    ++g_errors;
  }
}

bool acceptable(owf_status s) { return s == OWF_OK || s == OWF_OUT_OF_MEMORY; }

// Writes a small model; returns the first status that is not OK.
//
// `with_strings` adds a string-array hyperparameter. The loop that fails
// allocations while writing leaves it out: Writer::finish copies the model
// information, and with GCC 12's libstdc++ a std::variant copy that throws
// (owf::Value holding a string or vector<string>) destroys an alternative that
// was never constructed. Reading such a file under allocation failure is
// covered.
owf_status write_model(const char* path, bool with_strings) {
  owf_writer* w = nullptr;
  owf_write_options options = owf_write_options_default();
  options.sync = 0;
  owf_status s = owf_writer_create(path, &options, &w, nullptr);
  const char* copyright[] = {"2026 OWF"};
  owf_license_desc license{};
  license.spdx = "Apache-2.0 OR MIT";
  license.copyright = copyright;
  license.copyright_count = 1;
  const uint64_t shape[] = {2, 3};
  const float values[6] = {1, 2, 3, 4, 5, 6};
  owf_tensor_desc t{};
  t.name = "w";
  t.dtype = OWF_DTYPE_F32;
  t.rank = 2;
  t.shape = shape;
  const char* units[] = {"a", "b"};
  if (s == OWF_OK) s = owf_writer_set_license(w, &license);
  if (s == OWF_OK) s = owf_writer_set_hparam_int64(w, "model.size", 3);
  if (s == OWF_OK && with_strings) s = owf_writer_set_hparam_string_array(w, "model.units", units, 2);
  if (s == OWF_OK) s = owf_writer_set_metadata(w, "note", "text");
  if (s == OWF_OK) s = owf_writer_add_tensor(w, &t, values, sizeof values);
  if (s == OWF_OK) s = owf_writer_finish(w);
  owf_writer_free(w);
  return s;
}

// Opens and reads everything; returns the first status that is not OK.
owf_status read_model(const char* path) {
  owf_file* f = nullptr;
  owf_error* e = nullptr;
  owf_status s = owf_file_open(path, nullptr, &f, &e);
  if (s != OWF_OK) {
    // The error object itself may not have been allocated; then e is NULL.
    if (e != nullptr && owf_error_code(e) != s) s = OWF_INTERNAL_ERROR;
    owf_error_free(e);
    return s;
  }
  float back[6];
  const char* str = nullptr;
  int64_t n = 0;
  owf_tensor_info info;
  if (s == OWF_OK) s = owf_file_tensor_info_by_name(f, "w", &info);
  if (s == OWF_OK) s = owf_file_read_tensor(f, 0, back, sizeof back, 1);
  if (s == OWF_OK) s = owf_file_hparam_int64(f, "model.size", &n);
  if (s == OWF_OK) s = owf_file_hparam_string_array_at(f, "model.units", 1, &str, nullptr);
  if (s == OWF_OK) s = owf_file_metadata_get(f, "note", &str, nullptr);
  // Failing lookups build messages, which allocate too.
  if (s == OWF_OK) {
    const owf_status missing = owf_file_hparam_int64(f, "absent", &n);
    if (missing != OWF_NOT_FOUND) s = missing;
  }
  owf_file_free(f);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string path = std::string(argv[1]) + "/oom.owf";
  const std::string scratch = std::string(argv[1]) + "/oom-scratch.owf";
  if (write_model(path.c_str(), true) != OWF_OK) {
    std::fprintf(stderr, "cannot write the model without failures\n");
    return 1;
  }
  long n = 0;
  for (;; ++n) {
    g_countdown = n;
    const owf_status s = write_model(scratch.c_str(), false);
    g_countdown = -1;
    expect(acceptable(s), owf_status_name(s), n);
    if (s == OWF_OK) break;
  }
  std::printf("writing: each of %ld allocations failed in turn, all reported\n", n);
  long m = 0;
  for (;; ++m) {
    g_countdown = m;
    const owf_status s = read_model(path.c_str());
    g_countdown = -1;
    expect(acceptable(s), owf_status_name(s), m);
    if (s == OWF_OK) break;
  }
  std::printf("reading: each of %ld allocations failed in turn, all reported\n", m);
  std::remove(path.c_str());
  std::remove(scratch.c_str());
  std::printf("%d failed\n", g_errors);
  return g_errors == 0 ? 0 : 1;
}
