// Precision "bf16" on whole nets: each model's outputs with the bf16 GEMM kernels against its
// fp32 outputs on one random normal input, within kLogitBound of the largest |fp32 output|
// (README, "Precision"). On the emulated bf16 kernels (CompileOptions::
// bf16_emulated_for_tests) wherever the avx512 table runs, and on the native ones where the
// CPU has AVX512-BF16 (else skipped, with the reason). Models: the paths in
// ATTOCORE_BF16_NETS (colon separated: tests/test_precision.py passes AttoNet-A..D), else the
// small test model. Prints each model's measured difference, and whether the top-1 class held.
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "test_harness.h"

using namespace attocore;

// Measured on AttoNet-A..D (seeded weights, 224x224 normal input) with the emulated kernels:
// 0.39% (D) to 0.62% (A) of the largest logit, top-1 unchanged; the bound leaves 3x room.
constexpr double kLogitBound = 2e-2;

static std::vector<float> run(const std::shared_ptr<ModelFile>& file, const CompileOptions& o, const std::vector<float>& x) {
  auto model = std::make_shared<CompiledModel>(file, o);
  Session session(model, 1);
  size_t n = 1;
  for (int64_t d : model->output_shape(1)) n *= size_t(d);
  std::vector<float> y(n);
  session.run(x.data(), 1, y.data());
  return y;
}

static size_t argmax(const std::vector<float>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

int main() {
  std::vector<std::string> paths;
  const char* env = std::getenv("ATTOCORE_BF16_NETS");
  if (env && *env) {
    std::stringstream ss(env);
    for (std::string p; std::getline(ss, p, ':');)
      if (!p.empty()) paths.push_back(p);
  } else {
    paths.push_back(test::data_path("tiny.atto"));
  }
  const Bf16Support native = bf16_support();
  if (!native.available) std::printf("skipped the native bf16 kernels: %s\n", native.reason.c_str());
  bool emulated = true;
  try {
    bf16_emulated_kernel_table();
  } catch (const std::exception& e) {
    std::printf("skipped: %s\n", e.what());  // "emulated bf16 kernels: " and the reason
    emulated = false;
  }
  for (const std::string& path : paths) {
    auto file = ModelFile::open(path);
    CompileOptions fp32;
    auto shape = CompiledModel(file, fp32).input_shape(1);
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    std::vector<float> x(n);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : x) v = normal(rng);
    const std::vector<float> want = run(file, fp32, x);
    double peak = 0;
    for (float v : want)  // an if, not fmax: GCC 12 for aarch64 ICEs on that reduction
      if (std::fabs(v) > peak) peak = std::fabs(v);
    for (int pass = 0; pass < 2; ++pass) {
      const bool use_emulated = pass == 0;
      if (use_emulated ? !emulated : !native.available) continue;
      CompileOptions o;
      o.precision = Precision::kBf16;
      o.bf16_emulated_for_tests = use_emulated;
      const std::vector<float> got = run(file, o, x);
      CHECK(got.size() == want.size());
      const double err = test::max_abs_diff(got.data(), want.data(), want.size());
      const bool top1 = argmax(got) == argmax(want);
      std::printf("%s: bf16 (%s kernels): largest output difference %.3g = %.4f of the largest |fp32 output| %.3g; "
                  "top-1 %s\n",
                  path.c_str(), use_emulated ? "emulated" : "native", err, err / peak, peak, top1 ? "same" : "differs");
      CHECK_MSG(err <= kLogitBound * peak, "%s: bf16 outputs off by %g (largest %g)", path.c_str(), err, peak);
    }
  }
  TEST_MAIN_END();
}
