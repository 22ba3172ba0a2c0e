// attocore-run: run a model on a board with no Python.
//
//   attocore-run MODEL IMAGE [--threads N] [--bench N] [--top K] [--tvm-layers all|OP,OP...]
//
// --top-k K is accepted as --top K, the name `attocore run` uses.
// --threads N: 0 (the default: all cores) to ATTOCORE_MAX_THREADS (256).
// IMAGE is a binary PPM (P6), preprocessed from the model's metadata as attocore.run does,
// or a raw float32 NCHW tensor (.f32/.raw/.bin) of the model's input shape, used as is.
// Prints the top-k classes; with --bench N also the median and spread of N timed runs.
// --tvm-layers runs the listed layers with TVM kernels linked in at build time
// (cmake -DATTOCORE_TVM_KERNELS=DIR, DIR from `attocore export-tvm`).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "attocore/attocore.h"
#include "tools/image.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: attocore-run MODEL IMAGE [--threads N] [--bench N] [--top K|--top-k K] [--tvm-layers all|OP,...]\n"
                       "  IMAGE: binary PPM (P6) or raw float32 NCHW tensor (.f32, .raw, .bin)\n");
  return 2;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

int fail(attocore_status status) {
  std::fprintf(stderr, "error (%s): %s\n", attocore_status_name(status), attocore_last_error());
  return 1;
}

bool parse_int(const char* s, int lo, int hi, int* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = int(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string model_path = argv[1], image_path = argv[2];
  int threads = 0, bench = 0, top = 5;
  for (int i = 3; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) return usage();
    const char* val = argv[++i];
    if (opt == "--tvm-layers") {
      setenv("ATTOCORE_TVM_LAYERS", val, 1);  // read when the model is compiled
      continue;
    }
    bool ok = (opt == "--threads" && parse_int(val, 0, ATTOCORE_MAX_THREADS, &threads)) ||
              (opt == "--bench" && parse_int(val, 1, 1000000, &bench)) || ((opt == "--top" || opt == "--top-k") && parse_int(val, 1, 100000, &top));
    if (!ok) {
      std::fprintf(stderr, "error: bad option %s %s\n", opt.c_str(), val);
      return usage();
    }
  }

  attocore_model* model = nullptr;
  attocore_status st = attocore_model_load_file(model_path.c_str(), &model);
  if (st != ATTOCORE_OK) return fail(st);
  int64_t in[4];
  attocore_model_input_shape(model, in);
  std::vector<float> input;
  try {
    if (ends_with(image_path, ".f32") || ends_with(image_path, ".raw") || ends_with(image_path, ".bin")) {
      input = attocore_tools::read_raw_f32(image_path, size_t(in[1] * in[2] * in[3]));
    } else {
      float mean[16], std_[16];
      uint32_t resize = 0;
      if (in[1] != 3) throw std::runtime_error("this model does not take RGB images; pass a raw float32 tensor");
      attocore_model_normalization(model, mean, std_, 16, &resize);
      input = attocore_tools::preprocess(attocore_tools::read_ppm(image_path), int(in[2]), int(in[3]), resize, mean, std_);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error (input): %s\n", e.what());
    attocore_model_free(model);
    return 1;
  }

  attocore_session_options options;
  attocore_session_options_init(&options);
  options.threads = threads;
  attocore_session* session = nullptr;
  if ((st = attocore_session_create(model, &options, &session)) != ATTOCORE_OK) {
    attocore_model_free(model);
    return fail(st);
  }
  int64_t out_dims[6];
  int ndim = 0;
  attocore_model_output_shape(model, out_dims, &ndim);
  size_t classes = 1;
  for (int i = 1; i < ndim; ++i) classes *= size_t(out_dims[i]);
  std::vector<float> logits(classes);
  st = attocore_session_run_checked(session, input.data(), input.size(), 1, logits.data(), logits.size());
  if (st != ATTOCORE_OK) {
    attocore_session_free(session);
    attocore_model_free(model);
    return fail(st);
  }

  // Softmax in double, then the top k.
  const float peak = *std::max_element(logits.begin(), logits.end());
  std::vector<double> prob(classes);
  double sum = 0;
  for (size_t i = 0; i < classes; ++i) sum += prob[i] = std::exp(double(logits[i]) - peak);
  std::vector<size_t> order(classes);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  std::printf("%s (%s kernels)\n", attocore_model_name(model), attocore_isa());
  if (attocore_model_tvm_steps(model) > 0) std::printf("TVM kernels: %d steps\n", attocore_model_tvm_steps(model));
  for (size_t r = 0; r < std::min(size_t(top), classes); ++r) {
    const size_t i = order[r];
    const char* label = attocore_model_label(model, int(i));
    std::printf("  %zu. %-24s index %-4zu p=%.4f logit=%.6f\n", r + 1, label ? label : "?", i, prob[i] / sum,
                double(logits[i]));
  }

  if (bench > 0) {
    std::vector<double> ms;
    for (int i = 0; i < bench; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      attocore_session_run_checked(session, input.data(), input.size(), 1, logits.data(), logits.size());
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * (ms.size() - 1) + 0.5))]; };
    std::printf("bench: %d runs, median %.3f ms, p10 %.3f ms, p90 %.3f ms, min %.3f ms\n", bench, pct(0.5), pct(0.1),
                pct(0.9), ms.front());
  }
  attocore_session_free(session);
  attocore_model_free(model);
  return 0;
}
