// What an int8 op's kernels take from the graph: its output's epilogue (zero point and the
// clamp its activation leaves), its per-channel requantization multipliers, its int32 bias,
// a residual add's parameters. One definition for the single-op layers (int8_layers.h) and
// the fused int8 steps (steps/qmodule_tail.h), so that a fused step gives an op's bits.
#pragma once
#include <cstdint>
#include <vector>

#include "graph/graph.h"
#include "kernels/qadd/qadd.h"
#include "kernels/quant/requantize.h"

namespace attocore {

// The output's zero point and the range its activation leaves, in quantized units: ReLU
// clamps at the zero point (real 0), ReLU6 also at the code nearest real 6.
QuantEpilogue int8_epilogue(const TensorInfo& y, Activation act);
QuantEpilogue int8_epilogue(const Graph& g, const OpInfo& op);  // of op's output and activation

// Per output channel: input scale x weight scale / output scale, in fp32, in this order
// (attocore/quantize/evaluate.py computes the same).
std::vector<float> int8_conv_multipliers(const Graph& g, const OpInfo& op, int channels);

const int32_t* int8_bias(const Graph& g, const OpInfo& op);  // null without one

// An int8 add: each input's scale over the output's, their zero points, the epilogue.
QAddParams int8_add_params(const Graph& g, const OpInfo& op);

}  // namespace attocore
