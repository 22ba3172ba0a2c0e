// Activation tester: every listed variant (activation_kernels.inc; the reference included)
// against the definition in double precision, for every activation, on lengths around every
// vector width (0..67), the zoo's largest activation tensor (MobileNet-V3's 112x112x64) and
// inputs from -100 to 100 (both sides of every knee, and past exp's range: no lane may
// overflow to NaN); in place and out of place, in two pieces as threads split a run.
#include <cmath>
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "test_harness.h"

using namespace attocore;

static double definition(Activation act, double v) {
  const double gate = std::fmin(std::fmax(v + 3, 0.0), 6.0) / 6;
  switch (act) {
    case Activation::kNone: return v;
    case Activation::kRelu: return std::fmax(v, 0.0);
    case Activation::kRelu6: return std::fmin(std::fmax(v, 0.0), 6.0);
    case Activation::kSigmoid: return 1 / (1 + std::exp(-v));
    case Activation::kHardSigmoid: return gate;
    case Activation::kHardSwish: return v * gate;
    case Activation::kSilu: return v / (1 + std::exp(-v));
    case Activation::kTanh: return std::tanh(v);
  }
  return NAN;
}

static int cases = 0;

static void check(Activation act, size_t n, float scale, unsigned seed) {
  std::vector<float> x(n);
  test::fill(x, seed);
  for (float& v : x) v *= scale;
  for (Isa isa : available_isas())
    for (const ActivationKernel* kern : kernel_list(isa).activation) {
      for (bool in_place : {false, true}) {
        std::vector<float> got(n + 8, 12345.f);
        if (in_place) std::copy(x.begin(), x.end(), got.begin());
        const float* src = in_place ? got.data() : x.data();
        kern->fn(act, src, got.data(), n / 3);
        kern->fn(act, src + n / 3, got.data() + n / 3, n - n / 3);
        ++cases;
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < n; ++i) {
          const double want = definition(act, x[i]);
          const double d = std::fabs(got[i] - want) / (1e-6 + std::fabs(want));
          if (!(d <= worst)) worst = d, at = i;  // NaN is the worst
        }
        // Relative 1e-6 (or 1e-12 absolute near zero): a few ulp of float.
        CHECK_MSG(worst <= 1e-6, "%s %s act=%s n=%zu scale=%g%s: relative error %g at x=%g (got %g)", isa_name(isa),
                  kern->name, activation_name(act), n, double(scale), in_place ? " in place" : "", worst,
                  double(x[at]), double(got[at]));
        for (size_t i = n; i < n + 8; ++i)
          CHECK_MSG(got[i] == 12345.f, "%s %s wrote past the output (n=%zu)", isa_name(isa), kern->name, n);
      }
    }
}

// A NaN made inside the network stays NaN through a smooth activation, as through the
// reference's std::exp (the clamps follow the epilogues' rule instead, like every kernel).
static void check_nan_goes_through(Activation act) {
  std::vector<float> x(37, NAN), y(37, 0.f);
  for (size_t i = 0; i < x.size(); i += 2) x[i] = float(i) - 18.f;  // NaN among numbers, in every lane position
  for (Isa isa : available_isas())
    for (const ActivationKernel* kern : kernel_list(isa).activation) {
      kern->fn(act, x.data(), y.data(), x.size());
      ++cases;
      for (size_t i = 0; i < x.size(); ++i)
        CHECK_MSG(std::isnan(x[i]) == std::isnan(y[i]), "%s %s act=%s: x=%g gave %g", isa_name(isa), kern->name,
                  activation_name(act), double(x[i]), double(y[i]));
    }
}

int main() {
  for (Activation act : {Activation::kSigmoid, Activation::kHardSigmoid, Activation::kHardSwish, Activation::kSilu, Activation::kTanh})
    check_nan_goes_through(act);
  const Activation kinds[] = {Activation::kNone, Activation::kRelu, Activation::kRelu6, Activation::kSigmoid,
                              Activation::kHardSigmoid, Activation::kHardSwish, Activation::kSilu, Activation::kTanh};
  unsigned seed = 1;
  for (Activation act : kinds) {
    for (size_t n = 0; n < 68; ++n) check(act, n, 8.f, seed++);
    for (float scale : {0.01f, 1.f, 4.f, 30.f, 100.f}) check(act, 1000, scale, seed++);
    check(act, size_t(test::spatial(112)) * test::spatial(112) * 64, 6.f, seed++);
  }
  std::printf("%d activation cases\n", cases);
  TEST_MAIN_END();
}
