/* attocore C API: load a model, create sessions, run. Plain C, stable ABI.
 *
 * Every function that can fail returns an attocore_status; on failure the message of the
 * calling thread's last error is available from attocore_last_error(). No C++ exception
 * crosses this interface and nothing aborts on bad input.
 *
 * Threading:
 * - attocore_model: immutable once loaded; any number of threads may use it at once (create
 *   sessions, query shapes, labels, metadata), and sessions keep it alive until freed.
 * - attocore_session: one call at a time. Use one session per thread, or serialise the calls
 *   on a shared one with a lock of your own; two concurrent calls on one session are a data
 *   race (wrong results or a crash, not an error code). attocore.capi's cffi binding does
 *   the locking for Python.
 * - attocore_last_error(): per thread.
 * - attocore_model_free / attocore_session_free: not while another thread uses that object.
 *
 * Memory: everything a run allocates (activation arena, per-thread and shared scratch) is
 * counted against the session's max_arena_bytes before it is allocated. Each session holds
 * its own buffers between runs: N sessions may hold N times the limit.
 */
#ifndef ATTOCORE_ATTOCORE_H_
#define ATTOCORE_ATTOCORE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ATTOCORE_API __attribute__((visibility("default")))
#else
#define ATTOCORE_API
#endif

typedef enum attocore_status {
  ATTOCORE_OK = 0,
  ATTOCORE_ERROR_IO = 1,          /* the file cannot be opened or read */
  ATTOCORE_ERROR_FORMAT = 2,      /* malformed weight file */
  ATTOCORE_ERROR_GRAPH = 3,       /* inconsistent graph */
  ATTOCORE_ERROR_UNSUPPORTED = 4, /* an operator this runtime cannot execute */
  ATTOCORE_ERROR_INPUT = 5,       /* bad input to run: batch, buffers, sizes, NaN or infinity */
  ATTOCORE_ERROR_RESOURCE = 6,    /* a declared size exceeds a limit, or out of memory */
  ATTOCORE_ERROR_INTERNAL = 7,
  ATTOCORE_ERROR_ARGUMENT = 8,    /* a null pointer or invalid argument */
  ATTOCORE_ERROR_CONFIG = 9       /* ATTOCORE_ISA names an instruction set this build or CPU lacks, or
                                     precision "fp16" on a CPU without FEAT_FP16, or "bf16" on one
                                     without AVX512-BF16 */
} attocore_status;

typedef struct attocore_model attocore_model;
typedef struct attocore_session attocore_session;

#define ATTOCORE_MAX_THREADS 256

typedef struct attocore_session_options {
  int threads;            /* 0: the machine's cores (at most ATTOCORE_MAX_THREADS), else 1 .. ATTOCORE_MAX_THREADS */
  size_t max_arena_bytes; /* all a run allocates; 0: the default limit (8 GiB, 1 GiB on 32-bit); runs needing more
                             fail with ATTOCORE_ERROR_RESOURCE before allocating */
} attocore_session_options;

ATTOCORE_API const char* attocore_version(void);
ATTOCORE_API const char* attocore_status_name(attocore_status status);
/* Message of this thread's last failed call ("" if none). Valid until the next call. */
ATTOCORE_API const char* attocore_last_error(void);
/* Kernel set this build and CPU use: "avx512", "avx2", "neon" or "ref" (ATTOCORE_ISA may
   choose a lesser one; "unavailable" when it names a set this CPU lacks). */
ATTOCORE_API const char* attocore_isa(void);

ATTOCORE_API attocore_status attocore_model_load_file(const char* path, attocore_model** model);
/* Copies `data`; the caller may free it on return. */
ATTOCORE_API attocore_status attocore_model_load_memory(const void* data, size_t size, attocore_model** model);
ATTOCORE_API void attocore_model_free(attocore_model* model);

/* Load-time options (attocore_model_options_init sets the defaults). precision: "fp32" (the
 * default; NULL means it too) or "fp16": binary16 weights and fp16 arithmetic in the GEMM
 * kernels (1x1 and im2col convolutions, fully connected layers, the fused steps' GEMMs), the
 * other kernels fp32, on ARMv8.2 cores with FEAT_FP16 only (Cortex-A55/A75/A76 and later,
 * the Raspberry Pi 5): elsewhere (x86, ARMv7, Cortex-A53/A72) loading fails with
 * ATTOCORE_ERROR_CONFIG and a message naming the missing feature. Or "bf16": the same GEMMs
 * with bfloat16 weights and inputs and fp32 sums (AVX512-BF16's vdpbf16ps), the other
 * kernels fp32, on x86 CPUs with AVX512-BF16 only (Cooper Lake, Sapphire Rapids and later
 * Xeons, AMD Zen 4 and later): elsewhere ATTOCORE_ERROR_CONFIG likewise. Any other string
 * fails with ATTOCORE_ERROR_ARGUMENT. Error bounds: README, "Precision". */
typedef struct attocore_model_options {
  const char* precision;
} attocore_model_options;
ATTOCORE_API void attocore_model_options_init(attocore_model_options* options);
/* As attocore_model_load_file / _memory, with options (NULL: the defaults). */
ATTOCORE_API attocore_status attocore_model_load_file_with_options(const char* path, const attocore_model_options* options,
                                                                   attocore_model** model);
ATTOCORE_API attocore_status attocore_model_load_memory_with_options(const void* data, size_t size,
                                                                     const attocore_model_options* options,
                                                                     attocore_model** model);
/* "fp32", "fp16" or "bf16": the precision the model was loaded with. */
ATTOCORE_API const char* attocore_model_precision(const attocore_model* model);

/* Input shape N,C,H,W with N = 1 (any batch N runs). */
ATTOCORE_API attocore_status attocore_model_input_shape(const attocore_model* model, int64_t dims[4]);
/* Output shape with N = 1; *ndim receives the rank (at most 6 dims are written). For a
 * model with several outputs this and the run functions below that take one output buffer
 * concern the first output (index 0); the others are computed but not handed out: use
 * attocore_model_num_outputs, attocore_model_output_shape_at and attocore_session_run_outputs. */
ATTOCORE_API attocore_status attocore_model_output_shape(const attocore_model* model, int64_t dims[6], int* ndim);
/* Graph outputs (1 .. 16), in the file's order; 0 for a null model. */
ATTOCORE_API int attocore_model_num_outputs(const attocore_model* model);
/* Output `index`'s tensor name; NULL if out of range. */
ATTOCORE_API const char* attocore_model_output_name(const attocore_model* model, int index);
/* Output `index`'s shape with N = 1 (4-D feature maps are NCHW), as attocore_model_output_shape;
 * ATTOCORE_ERROR_ARGUMENT for an index out of range. */
ATTOCORE_API attocore_status attocore_model_output_shape_at(const attocore_model* model, int index, int64_t dims[6],
                                                            int* ndim);
ATTOCORE_API const char* attocore_model_name(const attocore_model* model);
ATTOCORE_API int attocore_model_num_labels(const attocore_model* model);
/* Steps run by TVM-generated kernels linked into this build (see `attocore export-tvm`),
 * chosen at load time by ATTOCORE_TVM_LAYERS ("all" or op names); 0 when none. */
ATTOCORE_API int attocore_model_tvm_steps(const attocore_model* model);
ATTOCORE_API const char* attocore_model_label(const attocore_model* model, int index); /* NULL if out of range */
/* Preprocessing metadata: per-channel mean and std (C values each), resize (0: none). */
ATTOCORE_API attocore_status attocore_model_normalization(const attocore_model* model, float* mean, float* std,
                                                          int capacity, uint32_t* resize);

ATTOCORE_API void attocore_session_options_init(attocore_session_options* options);
ATTOCORE_API attocore_status attocore_session_create(const attocore_model* model,
                                                     const attocore_session_options* options,
                                                     attocore_session** session);
ATTOCORE_API void attocore_session_free(attocore_session* session);

/* input: `input_count` floats, exactly batch x C x H x W (NCHW; any other count is refused with
 * ATTOCORE_ERROR_INPUT), finite (a NaN or infinity anywhere is refused with
 * ATTOCORE_ERROR_INPUT); output: room for `output_capacity` floats, at least
 * batch x (output elements per sample). */
ATTOCORE_API attocore_status attocore_session_run_checked(attocore_session* session, const float* input,
                                                          size_t input_count, int batch, float* output,
                                                          size_t output_capacity);
/* As attocore_session_run_checked without the input's size: UNCHECKED, it reads
 * batch x C x H x W floats from `input`, past the end of a shorter buffer. Kept for existing
 * callers; prefer attocore_session_run_checked. */
ATTOCORE_API attocore_status attocore_session_run(attocore_session* session, const float* input, int batch,
                                                  float* output, size_t output_capacity);
/* Every output: `num_outputs` must be attocore_model_num_outputs(); outputs[i] has room for
 * output_capacities[i] floats, at least batch x (output i's elements per sample). Input as
 * attocore_session_run_checked. The model's input size is fixed (the file's H x W): the C API
 * does not re-plan for another size (attocore.Model.run does). */
ATTOCORE_API attocore_status attocore_session_run_outputs(attocore_session* session, const float* input,
                                                          size_t input_count, int batch, float* const* outputs,
                                                          const size_t* output_capacities, int num_outputs);
/* One step of a profiled run: the step's name (an op, or fused ops "first..last", "a+b"),
 * the kernel that ran it ("tvm:..." for a linked TVM kernel), its multiply-adds at batch 1
 * and its time. The strings stay valid until the session's next profiled run. */
typedef struct attocore_step_timing {
  const char* name;
  const char* kernel;
  int64_t macs;
  double seconds;
} attocore_step_timing;

/* attocore_session_run_checked, timing each step: up to `capacity` entries go to `steps`,
 * and *count receives the number of steps (which may exceed capacity). */
ATTOCORE_API attocore_status attocore_session_run_profiled(attocore_session* session, const float* input,
                                                           size_t input_count, int batch, float* output,
                                                           size_t output_capacity, attocore_step_timing* steps,
                                                           int capacity, int* count);
/* Peak activation memory of the session's plan for `batch`. */
ATTOCORE_API attocore_status attocore_session_arena_bytes(attocore_session* session, int batch, size_t* bytes);
/* Everything a run at `batch` allocates (arena with its slack, every thread's scratch): what
 * max_arena_bytes is checked against. */
ATTOCORE_API attocore_status attocore_session_memory_bytes(attocore_session* session, int batch, size_t* bytes);

#ifdef __cplusplus
}
#endif

#endif /* ATTOCORE_ATTOCORE_H_ */
