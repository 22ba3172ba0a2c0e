#include "kernels/fc/fc_ref.h"

#include "kernels/eltwise/activation.h"

namespace attocore {

void fully_connected_ref(int batch, int in_features, int out_features, const float* input, const float* weight,
                         const float* bias, Activation act, float* output) {
  for (int n = 0; n < batch; ++n) {
    const float* x = input + size_t(n) * in_features;
    for (int o = 0; o < out_features; ++o) {
      const float* w = weight + size_t(o) * in_features;
      float acc = bias ? bias[o] : 0.f;
      for (int k = 0; k < in_features; ++k) acc += x[k] * w[k];
      output[size_t(n) * out_features + o] = activate(act, acc);
    }
  }
}

}  // namespace attocore
