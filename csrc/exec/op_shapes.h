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

// A rank-2..4 tensor's 4-D view [N, C, H, W], which the executor stores NHWC: [N, C] is
// [N, C, 1, 1] and [N, C, L] is [N, C, 1, L], so every tensor keeps its channels innermost
// and its other dimensions in order (the ops of any rank read and write that storage).
struct View4 {
  int64_t d[4] = {1, 1, 1, 1};
  int64_t per_image() const { return d[1] * d[2] * d[3]; }
};
inline View4 view4(const std::vector<int64_t>& shape, int64_t batch = 1) {
  View4 v;
  v.d[0] = batch;
  if (shape.size() >= 2) v.d[1] = shape[1];
  if (shape.size() == 3) v.d[3] = shape[2];
  if (shape.size() == 4) v.d[2] = shape[2], v.d[3] = shape[3];
  return v;
}
// Where a tensor's dimension sits in its view: rank 3's dimension 2 is the view's W.
inline int view4_dim(size_t rank, int dim) { return rank == 3 && dim == 2 ? 3 : dim; }

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
