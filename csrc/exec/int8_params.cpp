#include "exec/int8_params.h"

#include <algorithm>

namespace attocore {
namespace {

const TensorInfo& input_of(const Graph& g, const OpInfo& op, size_t i) { return g.tensors[op.inputs[i]]; }
const TensorInfo& output_of(const Graph& g, const OpInfo& op) { return g.tensors[op.outputs[0]]; }

}  // namespace

QuantEpilogue int8_epilogue(const TensorInfo& y, Activation act) {
  QuantEpilogue ep;
  ep.zero_point = y.zero_point;
  if (act == Activation::kRelu || act == Activation::kRelu6) ep.lo = y.zero_point;
  if (act == Activation::kRelu6) {
    const float six = 6.0f / y.scales[0];
    ep.hi = six >= 255.0f ? 127 : std::min(127, y.zero_point + round_half_even(six));
  }
  return ep;
}

QuantEpilogue int8_epilogue(const Graph& g, const OpInfo& op) { return int8_epilogue(output_of(g, op), op.activation); }

std::vector<float> int8_conv_multipliers(const Graph& g, const OpInfo& op, int channels) {
  const float sx = input_of(g, op, 0).scales[0], sy = output_of(g, op).scales[0];
  const std::vector<float>& sw = input_of(g, op, 1).scales;
  std::vector<float> m(channels);
  for (int c = 0; c < channels; ++c) m[c] = sx * sw[sw.size() == 1 ? 0 : c] / sy;
  return m;
}

const int32_t* int8_bias(const Graph& g, const OpInfo& op) {
  return op.inputs.size() == 3 ? input_of(g, op, 2).int32_data() : nullptr;
}

QAddParams int8_add_params(const Graph& g, const OpInfo& op) {
  QAddParams p;
  p.za = input_of(g, op, 0).zero_point, p.zb = input_of(g, op, 1).zero_point;
  p.ep = int8_epilogue(g, op);
  p.ma = input_of(g, op, 0).scales[0] / output_of(g, op).scales[0];
  p.mb = input_of(g, op, 1).scales[0] / output_of(g, op).scales[0];
  return p;
}

}  // namespace attocore
