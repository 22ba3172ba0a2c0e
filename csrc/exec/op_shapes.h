// What a layer reads off a validated graph op: its shapes as the kernels take them, and its
// constants.
#pragma once
#include <cstdint>
#include <vector>

#include "graph/graph.h"
#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/dwconv/dwconv.h"

namespace attocore {

inline const std::vector<int64_t>& shape_of(const Graph& g, int tensor) { return g.tensors[tensor].shape; }

inline Conv2dShape conv_shape(const Graph& g, const OpInfo& op) {
  Conv2dShape s;
  const auto& x = shape_of(g, op.inputs[0]);
  const auto& y = shape_of(g, op.outputs[0]);
  s.in_c = int(x[1]), s.in_h = int(x[2]), s.in_w = int(x[3]);
  s.out_c = int(y[1]), s.out_h = int(y[2]), s.out_w = int(y[3]);
  s.window = op.window;
  return s;
}

inline DwconvShape dwconv_shape(const Graph& g, const OpInfo& op) {
  const Conv2dShape c = conv_shape(g, op);
  DwconvShape s;
  s.in_c = c.in_c, s.in_h = c.in_h, s.in_w = c.in_w;
  s.out_c = c.out_c, s.out_h = c.out_h, s.out_w = c.out_w;
  s.multiplier = c.out_c / c.in_c;
  s.window = op.window;
  return s;
}

inline const float* weights_of(const Graph& g, const OpInfo& op) { return g.tensors[op.inputs[1]].data; }
inline const float* bias_of(const Graph& g, const OpInfo& op) {
  return op.inputs.size() == 3 ? g.tensors[op.inputs[2]].data : nullptr;
}

}  // namespace attocore
