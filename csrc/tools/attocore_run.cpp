// attocore-run: run a model on a board with no Python.
//
//   attocore-run MODEL IMAGE [--threads N] [--bench N] [--profile N] [--top K]
//                [--precision fp32|fp16|bf16] [--tvm-layers all|OP,OP... | --plan FILE]
//
// --top-k K is accepted as --top K, the name `attocore run` uses.
// --threads N: 0 (the default: all cores) to ATTOCORE_MAX_THREADS (256).
// IMAGE is a binary PPM (P6), preprocessed from the model's metadata as attocore.run does,
// or a raw float32 NCHW tensor (.f32/.raw/.bin) of the model's input shape, used as is.
// Prints the top-k classes; with --bench N also the median and spread of N timed runs;
// with --profile N each step's median time over N runs and the kernel that ran it.
// --tvm-layers runs the listed layers with TVM kernels linked in at build time
// (cmake -DATTOCORE_TVM_KERNELS=DIR, DIR from `attocore export-tvm`); --plan takes that
// list from a plan file written by `attocore tune-plan` (its steps marked "tvm").
// --precision fp16: fp16 GEMM kernels (attocore_model_options; ARMv8.2 FEAT_FP16 cores only,
// refused elsewhere with the missing feature named); --precision bf16 likewise, bf16 GEMM
// kernels on x86 CPUs with AVX512-BF16 only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attocore/attocore.h"
#include "tools/image.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: attocore-run MODEL IMAGE [--threads N] [--bench N] [--profile N] [--top K|--top-k K]\n"
                       "                    [--precision fp32|fp16|bf16] [--tvm-layers all|OP,... | --plan FILE]\n"
                       "  IMAGE: binary PPM (P6) or raw float32 NCHW tensor (.f32, .raw, .bin)\n");
  return 2;
}

// A plan file (`attocore tune-plan`): "attocore-plan 1", then "# key: value" notes and one
// tab-separated line per step: step, choice (native|tvm), native ms, tvm ms, the TVM
// layers (first op names) that run it. Returns the --tvm-layers selection of its tvm steps.
struct Plan {
  std::string model;
  std::string tvm_layers;
  int tvm_steps = 0;
};

Plan read_plan(const std::string& path) {
  std::istringstream in(attocore_tools::RegularFile(path, "plan file").read_all());
  Plan plan;
  bool header = false;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.compare(0, 9, "# model: ") == 0) plan.model = line.substr(9);
      continue;
    }
    if (!header) {
      if (line != "attocore-plan 1") throw std::runtime_error(path + ": not an attocore plan (want 'attocore-plan 1' first)");
      header = true;
      continue;
    }
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
    if (f.size() != 5 || (f[1] != "native" && f[1] != "tvm"))
      throw std::runtime_error(path + ":" + std::to_string(number) + ": want step, native|tvm, two times, layers");
    if (f[1] == "tvm") {
      if (f[4].empty() || f[4] == "-") throw std::runtime_error(path + ":" + std::to_string(number) + ": a tvm step names no layers");
      plan.tvm_layers += (plan.tvm_layers.empty() ? "" : ",") + f[4];
      ++plan.tvm_steps;
    }
  }
  if (!header) throw std::runtime_error(path + ": empty plan file");
  return plan;
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
  int threads = 0, bench = 0, profile = 0, top = 5;
  std::string tvm_layers, plan_path, precision = "fp32";
  bool have_layers = false;
  for (int i = 3; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) return usage();
    const char* val = argv[++i];
    if (opt == "--tvm-layers" || opt == "--plan") {
      if (have_layers) {
        std::fprintf(stderr, "error: give one of --tvm-layers and --plan, once\n");
        return usage();
      }
      have_layers = true;
      (opt == "--plan" ? plan_path : tvm_layers) = val;
      continue;
    }
    if (opt == "--precision") {
      precision = val;
      if (precision != "fp32" && precision != "fp16" && precision != "bf16") {
        std::fprintf(stderr, "error: bad option --precision %s (fp32, fp16 or bf16)\n", val);
        return usage();
      }
      continue;
    }
    bool ok = (opt == "--threads" && parse_int(val, 0, ATTOCORE_MAX_THREADS, &threads)) ||
              (opt == "--bench" && parse_int(val, 1, 1000000, &bench)) ||
              (opt == "--profile" && parse_int(val, 1, 1000000, &profile)) ||
              ((opt == "--top" || opt == "--top-k") && parse_int(val, 1, 100000, &top));
    if (!ok) {
      std::fprintf(stderr, "error: bad option %s %s\n", opt.c_str(), val);
      return usage();
    }
  }
  Plan plan;
  if (!plan_path.empty()) {
    try {
      plan = read_plan(plan_path);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error (plan): %s\n", e.what());
      return 1;
    }
    tvm_layers = plan.tvm_layers.empty() ? "none" : plan.tvm_layers;
  }
  if (have_layers) setenv("ATTOCORE_TVM_LAYERS", tvm_layers.c_str(), 1);  // read when the model is compiled

  attocore_model* model = nullptr;
  attocore_model_options load_options;
  attocore_model_options_init(&load_options);
  load_options.precision = precision.c_str();
  attocore_status st = attocore_model_load_file_with_options(model_path.c_str(), &load_options, &model);
  if (st != ATTOCORE_OK) return fail(st);
  if (!plan.model.empty() && plan.model != attocore_model_name(model)) {
    std::fprintf(stderr, "error (plan): %s is a plan for '%s', the model is '%s'\n", plan_path.c_str(),
                 plan.model.c_str(), attocore_model_name(model));
    attocore_model_free(model);
    return 1;
  }
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
  const int n_outputs = attocore_model_num_outputs(model);
  if (n_outputs > 1) {
    // Several outputs (feature maps, heads): each one's name, shape and value range; no top-k.
    std::vector<std::vector<float>> outs(static_cast<size_t>(n_outputs));
    std::vector<float*> buffers;
    std::vector<size_t> capacities;
    std::vector<std::string> shapes;
    for (int o = 0; o < n_outputs; ++o) {
      int64_t dims[6];
      int nd = 0;
      attocore_model_output_shape_at(model, o, dims, &nd);
      size_t n = 1;
      std::string shape = "(";
      for (int i = 0; i < nd; ++i) n *= size_t(dims[i]), shape += (i ? ", " : "") + std::to_string(dims[i]);
      outs[size_t(o)].resize(n);
      buffers.push_back(outs[size_t(o)].data());
      capacities.push_back(n);
      shapes.push_back(shape + ")");
    }
    st = attocore_session_run_outputs(session, input.data(), input.size(), 1, buffers.data(), capacities.data(),
                                      n_outputs);
    if (st != ATTOCORE_OK) {
      attocore_session_free(session);
      attocore_model_free(model);
      return fail(st);
    }
    std::printf("%s (%s kernels): %d outputs\n", attocore_model_name(model), attocore_isa(), n_outputs);
    for (int o = 0; o < n_outputs; ++o) {
      const std::vector<float>& v = outs[size_t(o)];
      double sum = 0;
      for (float f : v) sum += f;
      std::printf("  %d. %-24s shape %s min %.6f max %.6f mean %.6f\n", o, attocore_model_output_name(model, o),
                  shapes[size_t(o)].c_str(), double(*std::min_element(v.begin(), v.end())),
                  double(*std::max_element(v.begin(), v.end())), sum / double(v.size()));
    }
    if (profile > 0 || bench > 0) std::printf("(profile and bench below run the whole model; output 0 is kept)\n");
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

  if (n_outputs == 1) {
  // Softmax in double, then the top k.
  const float peak = *std::max_element(logits.begin(), logits.end());
  std::vector<double> prob(classes);
  double sum = 0;
  for (size_t i = 0; i < classes; ++i) sum += prob[i] = std::exp(double(logits[i]) - peak);
  std::vector<size_t> order(classes);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  if (std::strcmp(attocore_model_precision(model), "fp32") == 0) {
    std::printf("%s (%s kernels)\n", attocore_model_name(model), attocore_isa());
  } else {
    std::printf("%s (%s kernels, precision %s)\n", attocore_model_name(model), attocore_isa(),
                attocore_model_precision(model));
  }
  if (attocore_model_tvm_steps(model) > 0) std::printf("TVM kernels: %d steps\n", attocore_model_tvm_steps(model));
  for (size_t r = 0; r < std::min(size_t(top), classes); ++r) {
    const size_t i = order[r];
    const char* label = attocore_model_label(model, int(i));
    std::printf("  %zu. %-24s index %-4zu p=%.4f logit=%.6f\n", r + 1, label ? label : "?", i, prob[i] / sum,
                double(logits[i]));
  }
  }

  if (!plan_path.empty()) std::printf("plan: %s (%d steps on TVM kernels)\n", plan_path.c_str(), plan.tvm_steps);

  if (profile > 0) {
    // Per step: the median over the runs (the first run above warmed the caches).
    std::vector<attocore_step_timing> steps(4096);
    std::map<std::string, std::vector<double>> times;
    std::vector<std::pair<std::string, std::string>> order;  // (step, kernel) in run order
    for (int i = 0; i < profile; ++i) {
      int count = 0;
      if ((st = attocore_session_run_profiled(session, input.data(), input.size(), 1, logits.data(), logits.size(),
                                              steps.data(), int(steps.size()), &count)) != ATTOCORE_OK) {
        attocore_session_free(session);
        attocore_model_free(model);
        return fail(st);
      }
      for (int k = 0; k < count && k < int(steps.size()); ++k) {
        if (i == 0) order.emplace_back(steps[k].name, steps[k].kernel);
        times[steps[k].name].push_back(steps[k].seconds * 1e3);
      }
    }
    std::printf("profile: %d runs, median ms per step (step, kernel, ms)\n", profile);
    double total = 0;
    for (const auto& [name, kernel] : order) {
      std::vector<double>& t = times[name];
      std::sort(t.begin(), t.end());
      const double median = t[t.size() / 2];
      total += median;
      std::printf("step\t%s\t%s\t%.5f\n", name.c_str(), kernel.c_str(), median);
    }
    std::printf("profile total: %.4f ms\n", total);
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
