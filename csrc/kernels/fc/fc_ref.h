// Reference fully connected layer: out[n, o] = act(sum_k x[n, k] * w[o, k] + b[o]).
#pragma once
#include "graph/graph.h"

namespace attocore {

void fully_connected_ref(int batch, int in_features, int out_features, const float* input, const float* weight,
                         const float* bias, Activation act, float* output);

}  // namespace attocore
