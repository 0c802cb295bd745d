/* owf/owf.h is plain C99: this file is compiled as C with -std=c99 -Wall
 * -Wextra -Werror -pedantic and linked against the shared library, and it
 * runs a write-then-read round trip in a directory given on the command line. */
#include <stdio.h>
#include <string.h>

#include "owf/owf.h"

#define EXPECT(cond)                                                     \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                          \
    }                                                                    \
  } while (0)

int main(int argc, char** argv) {
  char path[4096];
  owf_writer* writer = NULL;
  owf_file* file = NULL;
  owf_error* error = NULL;
  owf_write_options options = owf_write_options_default();
  owf_license_desc license = {0};
  owf_tensor_desc tensor = {0};
  owf_tensor_info info;
  const uint64_t shape[2] = {2, 3};
  const float values[6] = {1, 2, 3, 4, 5, 6};
  float back[6];
  owf_load_request request;
  double as_double[2];
  unsigned char bf16[4];
  int64_t hidden = 0;

  if (argc != 2) return 2;
  EXPECT(owf_abi_version() == OWF_ABI_VERSION);
  EXPECT(strcmp(owf_status_name(OWF_BAD_MAGIC), "bad_magic") == 0);

  /* Errors come back as codes and messages, never as crashes. */
  EXPECT(owf_file_open(NULL, NULL, &file, &error) == OWF_INVALID_ARGUMENT);
  EXPECT(file == NULL && owf_error_code(error) == OWF_INVALID_ARGUMENT);
  owf_error_free(error);
  snprintf(path, sizeof path, "%s/absent.owf", argv[1]);
  EXPECT(owf_file_open(path, NULL, &file, &error) == OWF_IO_ERROR);
  EXPECT(strlen(owf_error_message(error)) > 0);
  owf_error_free(error);

  snprintf(path, sizeof path, "%s/c99.owf", argv[1]);
  options.sync = 0;
  EXPECT(owf_writer_create(path, &options, &writer, NULL) == OWF_OK);
  license.spdx = "CC0-1.0";
  EXPECT(owf_writer_set_license(writer, &license) == OWF_OK);
  EXPECT(owf_writer_set_hparam_int64(writer, "model.hidden_size", 3) == OWF_OK);
  tensor.name = "w";
  tensor.dtype = OWF_DTYPE_F32;
  tensor.role = OWF_ROLE_WEIGHT;
  tensor.rank = 2;
  tensor.shape = shape;
  EXPECT(owf_writer_add_tensor(writer, &tensor, values, sizeof values) == OWF_OK);
  EXPECT(owf_writer_finish(writer) == OWF_OK);
  owf_writer_free(writer);

  EXPECT(owf_file_open(path, NULL, &file, NULL) == OWF_OK);
  EXPECT(owf_file_verify(file, 1, NULL, NULL) == OWF_OK);
  EXPECT(owf_file_tensor_info_by_name(file, "w", &info) == OWF_OK);
  EXPECT(info.rank == 2 && info.shape[1] == 3 && info.dtype == OWF_DTYPE_F32);
  EXPECT(info.data != NULL && memcmp(info.data, values, sizeof values) == 0);
  EXPECT(owf_file_read_tensor(file, 0, back, sizeof back, 1) == OWF_OK);
  EXPECT(memcmp(back, values, sizeof values) == 0);
  memset(back, 0, sizeof back);
  request.tensor = 0;
  request.out = back;
  request.size = sizeof back;
  EXPECT(owf_file_load(file, &request, 1, 0, 1, NULL, NULL) == OWF_OK);
  EXPECT(memcmp(back, values, sizeof values) == 0);
  EXPECT(owf_file_hparam_int64(file, "model.hidden_size", &hidden) == OWF_OK && hidden == 3);
  /* Elements as numbers: a range of the tensor, then a round trip through BF16. */
  EXPECT(owf_file_read_elements_f64(file, 0, 4, as_double, 2, 1) == OWF_OK);
  EXPECT(as_double[0] == 5.0 && as_double[1] == 6.0);
  EXPECT(owf_encode_f64(as_double, 2, OWF_DTYPE_BF16, bf16, sizeof bf16, 0) == OWF_OK);
  EXPECT(owf_decode_f32(OWF_DTYPE_BF16, bf16, sizeof bf16, back, 2) == OWF_OK);
  EXPECT(back[0] == 5.0f && back[1] == 6.0f);
  EXPECT(owf_file_tensor_info(file, 1, &info) == OWF_INVALID_ARGUMENT);
  EXPECT(strlen(owf_file_error_message(file)) > 0);
  owf_file_free(file);
  printf("C99 round trip through %s: ok\n", path);
  return 0;
}
