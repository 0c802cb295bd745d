/* Lists the tensors of an OWF file through the C API.
 *   owf_list MODEL.owf
 * Exit codes: 0 success, 1 the file cannot be opened, 2 usage. */
#include <owf/owf.h>
#include <stdio.h>

int main(int argc, char** argv) {
  owf_file* file = NULL;
  owf_error* error = NULL;
  size_t count = 0, i, d;
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.owf\n", argv[0]);
    return 2;
  }
  if (owf_file_open(argv[1], NULL, &file, &error) != OWF_OK) {
    fprintf(stderr, "%s: %s: %s\n", argv[1], owf_status_name(owf_error_code(error)), owf_error_message(error));
    owf_error_free(error);
    return 1;
  }
  owf_file_tensor_count(file, &count);
  printf("libowf %s (ABI %d), %s: %zu tensors\n", owf_library_version(), owf_abi_version(), argv[1], count);
  for (i = 0; i < count; ++i) {
    owf_tensor_info t;
    if (owf_file_tensor_info(file, i, &t) != OWF_OK) continue;
    printf("  %s %s [", t.name, owf_dtype_name(t.dtype));
    for (d = 0; d < t.rank; ++d) printf("%s%llu", d ? ", " : "", (unsigned long long)t.shape[d]);
    printf("] %llu bytes\n", (unsigned long long)t.logical_bytes);
  }
  owf_file_free(file);
  return 0;
}
