/* Runs a small multilayer perceptron stored in an OWF file, in plain C99
 * through the OWF C API (owf/owf.h).
 *
 * The model is the one examples/house_price_write.cpp writes: two layers,
 * hidden = act(hidden.weight x + hidden.bias), out = output.weight hidden +
 * output.bias, with every size and the activation read from the file's
 * hyperparameters (model.input_size, model.hidden_size, model.output_size,
 * model.activation, optional model.output_scale). The weights are used in
 * place (zero-copy) when the file stores them uncompressed, and read into a
 * buffer otherwise.
 *
 *   house_price_predict MODEL.owf [INPUT...]
 *
 * Without inputs, the file's metadata "example.input" is used. Exit codes:
 * 0 success, 1 the file is unusable, 2 usage.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owf/owf.h"

/* A tensor's F32 values: borrowed from the file or owned by us. */
typedef struct {
  const float* values;
  float* owned;
} weights;

static int report(const owf_file* file, owf_status status, const char* what) {
  fprintf(stderr, "error: %s: %s: %s\n", what, owf_status_name(status), owf_file_error_message(file));
  return 1;
}

/* Loads tensor `name` as F32 with the given shape (rank 1 when cols is 0). */
static int load(const owf_file* file, const char* name, int64_t rows, int64_t cols, weights* out) {
  owf_tensor_info info;
  size_t index = 0;
  owf_status s = owf_file_find_tensor(file, name, &index);
  if (s == OWF_OK) s = owf_file_tensor_info(file, index, &info);
  if (s != OWF_OK) return report(file, s, name);
  if (info.dtype != OWF_DTYPE_F32) {
    fprintf(stderr, "error: %s is %s, expected F32\n", name, owf_dtype_name(info.dtype));
    return 1;
  }
  if (info.rank != (cols ? 2u : 1u) || info.shape[0] != (uint64_t)rows || (cols && info.shape[1] != (uint64_t)cols)) {
    fprintf(stderr, "error: %s has the wrong shape for the sizes in the hyperparameters\n", name);
    return 1;
  }
  out->owned = NULL;
  if (info.data != NULL && (uintptr_t)info.data % sizeof(float) == 0) {
    out->values = (const float*)info.data; /* zero-copy: valid while the file is open */
    return 0;
  }
  out->owned = (float*)malloc(info.logical_bytes ? (size_t)info.logical_bytes : 1);
  if (out->owned == NULL) return 1;
  s = owf_file_read_tensor(file, index, out->owned, (size_t)info.logical_bytes, 1);
  if (s != OWF_OK) return report(file, s, name);
  out->values = out->owned;
  return 0;
}

static float activate(const char* activation, float z) {
  if (strcmp(activation, "relu") == 0) return z > 0.0f ? z : 0.0f;
  if (strcmp(activation, "tanh") == 0) return tanhf(z);
  if (strcmp(activation, "sigmoid") == 0) return 1.0f / (1.0f + expf(-z));
  return z; /* "identity" */
}

static void print_progress(uint64_t done, uint64_t total, void* user_data) {
  *(uint64_t*)user_data = done;
  (void)total;
}

static void print_hex(const uint8_t* bytes, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) printf("%02x", bytes[i]);
}

/* Prints one hyperparameter value by its type. */
static void print_hparam(const owf_file* file, const char* key) {
  int type = 0;
  size_t count = 0, i;
  int b;
  int64_t n;
  double d;
  const char* str;
  const int64_t* ints;
  const double* doubles;
  if (owf_file_hparam_type(file, key, &type, &count) != OWF_OK) return;
  switch (type) {
    case OWF_VALUE_BOOL:
      if (owf_file_hparam_bool(file, key, &b) == OWF_OK) printf("%s", b ? "true" : "false");
      break;
    case OWF_VALUE_INT:
      if (owf_file_hparam_int64(file, key, &n) == OWF_OK) printf("%lld", (long long)n);
      break;
    case OWF_VALUE_FLOAT:
      if (owf_file_hparam_double(file, key, &d) == OWF_OK) printf("%g", d);
      break;
    case OWF_VALUE_STRING:
      if (owf_file_hparam_string(file, key, &str, NULL) == OWF_OK) printf("\"%s\"", str);
      break;
    case OWF_VALUE_INT_ARRAY:
      if (owf_file_hparam_int64_array(file, key, &ints, &count) == OWF_OK)
        for (i = 0; i < count; ++i) printf("%s%lld", i ? ", " : "[", (long long)ints[i]);
      printf(count ? "]" : "[]");
      break;
    case OWF_VALUE_FLOAT_ARRAY:
      if (owf_file_hparam_double_array(file, key, &doubles, &count) == OWF_OK)
        for (i = 0; i < count; ++i) printf("%s%g", i ? ", " : "[", doubles[i]);
      printf(count ? "]" : "[]");
      break;
    case OWF_VALUE_STRING_ARRAY:
      for (i = 0; i < count; ++i)
        if (owf_file_hparam_string_array_at(file, key, i, &str, NULL) == OWF_OK)
          printf("%s\"%s\"", i ? ", " : "[", str);
      printf(count ? "]" : "[]");
      break;
    default:
      printf("(%zu values)", count);
  }
}

static int describe(const owf_file* file, const char* path) {
  uint16_t major = 0, minor = 0;
  uint64_t size = 0, verified = 0;
  uint8_t digest[32];
  const char *spdx, *name, *version, *arch, *key;
  size_t count = 0, i, d;
  owf_status s;

  owf_file_version(file, &major, &minor);
  owf_file_size(file, &size);
  s = owf_file_verify(file, 0, print_progress, &verified);
  if (s != OWF_OK) return report(file, s, "verify");
  printf("%s: OWF %u.%u, %llu bytes, %llu tensor bytes verified\n", path, major, minor, (unsigned long long)size,
         (unsigned long long)verified);
  owf_file_weights_digest(file, digest);
  printf("weights digest  ");
  print_hex(digest, 32);
  printf("\n");
  if (owf_file_license(file, OWF_LICENSE_SPDX, &spdx, NULL) == OWF_OK) printf("license         %s\n", spdx);
  owf_file_provenance(file, OWF_PROVENANCE_NAME, &name, NULL);
  owf_file_provenance(file, OWF_PROVENANCE_VERSION, &version, NULL);
  owf_file_provenance(file, OWF_PROVENANCE_ARCHITECTURE, &arch, NULL);
  printf("model           %s %s (%s)\n", name, version, arch);
  owf_file_hparam_count(file, &count);
  for (i = 0; i < count; ++i) {
    if (owf_file_hparam_key(file, i, &key, NULL) != OWF_OK) continue;
    printf("  %-22s ", key);
    print_hparam(file, key);
    printf("\n");
  }
  owf_file_tensor_count(file, &count);
  for (i = 0; i < count; ++i) {
    owf_tensor_info t;
    if (owf_file_tensor_info(file, i, &t) != OWF_OK) continue;
    char shape[64] = "[";
    size_t used = 1;
    for (d = 0; d < t.rank && used < sizeof shape; ++d)
      used +=
          (size_t)snprintf(shape + used, sizeof shape - used, "%s%llu", d ? ", " : "", (unsigned long long)t.shape[d]);
    if (used < sizeof shape - 1) strcat(shape, "]");
    printf("  %-14s %-6s %-4s %-8s %s  sha256 ", t.name, owf_role_name(t.role), owf_dtype_name(t.dtype), shape,
           t.data ? "zero-copy" : "decoded  ");
    print_hex(t.sha256, 8);
    printf("\n");
  }
  return 0;
}

int main(int argc, char** argv) {
  owf_file* file = NULL;
  owf_error* error = NULL;
  owf_status s;
  int64_t n_in = 0, n_hidden = 0, n_out = 0, h, i, o;
  double scale = 1.0;
  const char* activation = "identity";
  const char* units = "";
  const char* example = NULL;
  weights w1, b1, w2, b2;
  float* input = NULL;
  float* hidden = NULL;
  int rc = 1;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.owf [INPUT...]\n", argv[0]);
    return 2;
  }
  if (owf_abi_version() != OWF_ABI_VERSION) {
    fprintf(stderr, "error: libowf has ABI %d, this program was built for %d\n", owf_abi_version(), OWF_ABI_VERSION);
    return 1;
  }
  s = owf_file_open(argv[1], NULL, &file, &error);
  if (s != OWF_OK) {
    fprintf(stderr, "error: %s: %s: %s\n", argv[1], owf_status_name(s), owf_error_message(error));
    owf_error_free(error);
    return 1;
  }
  if (describe(file, argv[1]) != 0) goto done;

  /* The architecture comes from the hyperparameters. */
  if ((s = owf_file_hparam_int64(file, "model.input_size", &n_in)) != OWF_OK ||
      (s = owf_file_hparam_int64(file, "model.hidden_size", &n_hidden)) != OWF_OK ||
      (s = owf_file_hparam_int64(file, "model.output_size", &n_out)) != OWF_OK) {
    report(file, s, "hyperparameters");
    goto done;
  }
  if (n_in < 1 || n_hidden < 1 || n_out < 1 || n_in > 4096 || n_hidden > 4096 || n_out > 4096) {
    fprintf(stderr, "error: layer sizes %lld-%lld-%lld are out of range\n", (long long)n_in, (long long)n_hidden,
            (long long)n_out);
    goto done;
  }
  owf_file_hparam_string(file, "model.activation", &activation, NULL);
  owf_file_hparam_double(file, "model.output_scale", &scale);
  owf_file_hparam_string(file, "model.output_units", &units, NULL);

  w1.owned = b1.owned = w2.owned = b2.owned = NULL;
  if (load(file, "hidden.weight", n_hidden, n_in, &w1) || load(file, "hidden.bias", n_hidden, 0, &b1) ||
      load(file, "output.weight", n_out, n_hidden, &w2) || load(file, "output.bias", n_out, 0, &b2))
    goto free_weights;

  input = (float*)calloc((size_t)n_in, sizeof(float));
  hidden = (float*)calloc((size_t)n_hidden, sizeof(float));
  if (input == NULL || hidden == NULL) goto free_weights;
  if (argc > 2) {
    if (argc - 2 != n_in) {
      fprintf(stderr, "error: the model takes %lld inputs, %d given\n", (long long)n_in, argc - 2);
      goto free_weights;
    }
    for (i = 0; i < n_in; ++i) input[i] = strtof(argv[2 + i], NULL);
  } else if (owf_file_metadata_get(file, "example.input", &example, NULL) == OWF_OK) {
    char* end = (char*)example;
    for (i = 0; i < n_in; ++i) input[i] = strtof(end, &end);
  }

  /* The forward pass. */
  for (h = 0; h < n_hidden; ++h) {
    float z = b1.values[h];
    for (i = 0; i < n_in; ++i) z += w1.values[h * n_in + i] * input[i];
    hidden[h] = activate(activation, z);
  }
  printf("input          ");
  for (i = 0; i < n_in; ++i) printf(" %g", input[i]);
  printf("\nhidden (%s)   ", activation);
  for (h = 0; h < n_hidden; ++h) printf(" %.4f", hidden[h]);
  printf("\n");
  for (o = 0; o < n_out; ++o) {
    float y = b2.values[o];
    for (h = 0; h < n_hidden; ++h) y += w2.values[o * n_hidden + h] * hidden[h];
    printf("output %lld       %.4f -> %.0f %s\n", (long long)o, y, y * scale, units);
  }
  rc = 0;

free_weights:
  free(input);
  free(hidden);
  free(w1.owned);
  free(b1.owned);
  free(w2.owned);
  free(b2.owned);
done:
  owf_file_free(file);
  return rc;
}
