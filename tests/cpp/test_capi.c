/* The C API from plain C: load from file and memory, shapes, labels, run, errors as codes,
 * and several sessions of one model on concurrent threads giving identical results. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "attocore/attocore.h"

static int failures = 0;
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              attocore_last_error());                                      \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

static char* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = malloc(*size);
  if (fread(buf, 1, *size, f) != *size) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  return buf;
}

enum { IN_N = 2 * 3 * 13 * 11, OUT_N = 2 * 7, THREADS = 4, RUNS = 25 };
static float input[IN_N], expected[OUT_N];
static const attocore_model* shared_model;

static void* worker(void* arg) {
  int* bad = (int*)arg;
  attocore_session_options opt;
  attocore_session_options_init(&opt);
  opt.threads = 1 + (*bad % 2);  /* mix single- and two-thread sessions */
  *bad = 0;
  attocore_session* s = NULL;
  if (attocore_session_create(shared_model, &opt, &s) != ATTOCORE_OK) {
    *bad = 1;
    return NULL;
  }
  float out[OUT_N];
  for (int r = 0; r < RUNS; ++r) {
    if (attocore_session_run(s, input, 2, out, OUT_N) != ATTOCORE_OK || memcmp(out, expected, sizeof(out)) != 0) ++*bad;
  }
  attocore_session_free(s);
  return NULL;
}

int main(void) {
  char path[1024], io_path[1024];
  const char* dir = getenv("ATTOCORE_TEST_DATA");
  snprintf(path, sizeof(path), "%s/tiny.atto", dir ? dir : ATTOCORE_TEST_DATA_DIR);
  snprintf(io_path, sizeof(io_path), "%s/tiny_io.bin", dir ? dir : ATTOCORE_TEST_DATA_DIR);

  attocore_model* model = NULL;
  CHECK(attocore_model_load_file(path, &model) == ATTOCORE_OK);
  if (!model) return 1;
  int64_t dims[4];
  CHECK(attocore_model_input_shape(model, dims) == ATTOCORE_OK);
  CHECK(dims[0] == 1 && dims[1] == 3 && dims[2] == 13 && dims[3] == 11);
  int64_t odims[6];
  int ndim = 0;
  CHECK(attocore_model_output_shape(model, odims, &ndim) == ATTOCORE_OK && ndim == 2 && odims[1] == 7);
  CHECK(attocore_model_num_labels(model) == 7 && strcmp(attocore_model_label(model, 2), "t2") == 0);
  CHECK(attocore_model_label(model, 7) == NULL && attocore_model_label(model, -1) == NULL);
  CHECK(strcmp(attocore_model_name(model), "tiny") == 0);
  CHECK(strcmp(attocore_model_precision(model), "fp32") == 0);

  /* Load options: fp32 by default (NULL too), an unknown precision is an argument error, fp16
   * loads where the CPU has FEAT_FP16 (qemu-aarch64's default CPU) and bf16 where it has
   * AVX512-BF16, each refused with the missing feature named elsewhere. */
  {
    attocore_model_options o;
    attocore_model_options_init(&o);
    CHECK(o.precision != NULL && strcmp(o.precision, "fp32") == 0);
    attocore_model* m = NULL;
    CHECK(attocore_model_load_file_with_options(path, NULL, &m) == ATTOCORE_OK &&
          strcmp(attocore_model_precision(m), "fp32") == 0);
    attocore_model_free(m);
    m = NULL;
    o.precision = "bf8";
    CHECK(attocore_model_load_file_with_options(path, &o, &m) == ATTOCORE_ERROR_ARGUMENT && m == NULL);
    CHECK(strstr(attocore_last_error(), "precision") != NULL);
    o.precision = "fp16";
    const attocore_status st = attocore_model_load_file_with_options(path, &o, &m);
    if (st == ATTOCORE_OK) {
      CHECK(strcmp(attocore_model_precision(m), "fp16") == 0);
      printf("precision fp16 loads here\n");
    } else {
      CHECK(st == ATTOCORE_ERROR_CONFIG && m == NULL && strstr(attocore_last_error(), "FEAT_FP16") != NULL);
      printf("precision fp16 refused here: %s\n", attocore_last_error());
    }
    attocore_model_free(m);
    m = NULL;
    o.precision = "bf16";
    const attocore_status sb = attocore_model_load_file_with_options(path, &o, &m);
    if (sb == ATTOCORE_OK) {
      CHECK(strcmp(attocore_model_precision(m), "bf16") == 0);
      printf("precision bf16 loads here\n");
    } else {
      CHECK(sb == ATTOCORE_ERROR_CONFIG && m == NULL && strstr(attocore_last_error(), "AVX512-BF16") != NULL);
      printf("precision bf16 refused here: %s\n", attocore_last_error());
    }
    attocore_model_free(m);
  }

  size_t io_size = 0;
  char* io = read_all(io_path, &io_size);
  CHECK(io != NULL && io_size == sizeof(input) + sizeof(expected));
  if (!io) return 1;
  memcpy(input, io, sizeof(input));
  const float* numba_logits = (const float*)(io + sizeof(input));

  attocore_session* session = NULL;
  CHECK(attocore_session_create(model, NULL, &session) == ATTOCORE_OK);
  CHECK(attocore_session_run(session, input, 2, expected, OUT_N) == ATTOCORE_OK);
  for (int i = 0; i < OUT_N; ++i) {
    float d = expected[i] - numba_logits[i];
    CHECK(d < 1e-5f && d > -1e-5f);
  }
  /* Errors come back as codes with a message, never as crashes. */
  float small[3];
  CHECK(attocore_session_run(session, input, 2, small, 3) == ATTOCORE_ERROR_INPUT);
  CHECK(strstr(attocore_last_error(), "output buffer") != NULL);
  CHECK(attocore_session_run(session, input, 0, expected, OUT_N) == ATTOCORE_ERROR_INPUT);
  {  /* one NaN or infinity anywhere in the batch, the last element included, is refused */
    const size_t n = sizeof(input) / sizeof(input[0]);
    const size_t where[] = {0, n / 2, n - 1};
    const float bad_values[] = {NAN, INFINITY, -INFINITY};
    float out[OUT_N];
    for (int w = 0; w < 3; ++w)
      for (int v = 0; v < 3; ++v) {
        const float keep = input[where[w]];
        input[where[w]] = bad_values[v];
        CHECK(attocore_session_run(session, input, 2, out, OUT_N) == ATTOCORE_ERROR_INPUT);
        CHECK(strstr(attocore_last_error(), "NaN or infinity") != NULL);
        input[where[w]] = keep;
      }
    CHECK(attocore_session_run(session, input, 2, out, OUT_N) == ATTOCORE_OK && memcmp(out, expected, sizeof(out)) == 0);
  }
  CHECK(attocore_session_run(NULL, input, 1, expected, OUT_N) == ATTOCORE_ERROR_ARGUMENT);
  {  /* the checked entry point refuses an input buffer of the wrong size, before reading it */
    float out[OUT_N];
    CHECK(attocore_session_run_checked(session, input, IN_N - 1, 2, out, OUT_N) == ATTOCORE_ERROR_INPUT);
    CHECK(strstr(attocore_last_error(), "input buffer holds") != NULL);
    CHECK(attocore_session_run_checked(session, input, IN_N, 1, out, OUT_N) == ATTOCORE_ERROR_INPUT);
    CHECK(attocore_session_run_checked(session, input, IN_N, 2, out, OUT_N) == ATTOCORE_OK &&
          memcmp(out, expected, sizeof(out)) == 0);
  }
  {  /* thread counts outside [0, ATTOCORE_MAX_THREADS] are refused */
    attocore_session_options opt;
    attocore_session_options_init(&opt);
    attocore_session* s = NULL;
    const int bad_threads[] = {-1, ATTOCORE_MAX_THREADS + 1, 20000};
    for (int i = 0; i < 3; ++i) {
      opt.threads = bad_threads[i];
      CHECK(attocore_session_create(model, &opt, &s) == ATTOCORE_ERROR_ARGUMENT && s == NULL);
      CHECK(strstr(attocore_last_error(), "threads") != NULL);
    }
    /* memory_bytes is what max_arena_bytes is checked against */
    size_t need = 0;
    CHECK(attocore_session_memory_bytes(session, 2, &need) == ATTOCORE_OK && need > 0);
    float out[OUT_N];
    for (int extra = 0; extra < 2; ++extra) {
      attocore_session_options_init(&opt);  /* the same thread count as `session` */
      opt.max_arena_bytes = need - (size_t)extra;
      CHECK(attocore_session_create(model, &opt, &s) == ATTOCORE_OK);
      CHECK(attocore_session_run_checked(s, input, IN_N, 2, out, OUT_N) ==
            (extra ? ATTOCORE_ERROR_RESOURCE : ATTOCORE_OK));
      attocore_session_free(s);
    }
  }
  attocore_model* bad = NULL;
  CHECK(attocore_model_load_file("/nonexistent.atto", &bad) == ATTOCORE_ERROR_IO && bad == NULL);
  CHECK(attocore_model_load_memory("garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage!", 64, &bad) ==
        ATTOCORE_ERROR_FORMAT);
  CHECK(strstr(attocore_last_error(), "magic") != NULL);
  size_t arena = 0;
  CHECK(attocore_session_arena_bytes(session, 2, &arena) == ATTOCORE_OK && arena > 0);

  /* Loading from memory gives the same model. */
  size_t size = 0;
  char* bytes = read_all(path, &size);
  attocore_model* from_memory = NULL;
  CHECK(bytes && attocore_model_load_memory(bytes, size, &from_memory) == ATTOCORE_OK);
  free(bytes);  /* the model keeps its own copy */
  attocore_session* s2 = NULL;
  float out2[OUT_N];
  CHECK(attocore_session_create(from_memory, NULL, &s2) == ATTOCORE_OK);
  CHECK(attocore_session_run(s2, input, 2, out2, OUT_N) == ATTOCORE_OK && memcmp(out2, expected, sizeof(out2)) == 0);
  attocore_session_free(s2);
  attocore_model_free(from_memory);

  /* Concurrent sessions over one model. */
  shared_model = model;
  pthread_t threads[THREADS];
  int bad_runs[THREADS];
  for (int t = 0; t < THREADS; ++t) {
    bad_runs[t] = t;
    pthread_create(&threads[t], NULL, worker, &bad_runs[t]);
  }
  for (int t = 0; t < THREADS; ++t) {
    pthread_join(threads[t], NULL);
    CHECK(bad_runs[t] == 0);
  }
  attocore_session_free(session);
  attocore_model_free(model);
  free(io);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed (%s kernels)\n", attocore_isa());
  return 0;
}
