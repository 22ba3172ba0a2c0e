// Groups the graph's ops into executable steps. Most ops run alone; the AttoNet module
// tail (1x1 conv -> 1x1 conv -> add with an identity or 1x1-projected shortcut) and plain
// back-to-back 1x1 pairs become one fused step whose intermediates never reach the arena,
// together with the depthwise convolution before them and the 1x1 after them.
#pragma once
#include <vector>

#include "graph/graph.h"

namespace attocore {

struct FusedOps {
  // kConvGemm: a convolution on the GEMM kernels (a 1x1, or any dense one through im2col)
  // with the residual add that is its only reader (MobileNet / ResNet style: the add and its
  // activation run in the GEMM's epilogue); a 1x1 also with the depthwise convolution that
  // feeds it (MobileNet's projection), or both.
  enum class Kind { kSingle, kPwpw, kConvGemm } kind = Kind::kSingle;
  int op = -1;          // kSingle: the op
  int first = -1;       // kPwpw: c2 -> c3 conv; kConvGemm: the conv
  int second = -1;      // kPwpw: c3 -> cout conv
  int add = -1;         // kPwpw, kConvGemm: the residual add, or -1
  int projection = -1;  // kPwpw: the shortcut's 1x1 conv, or -1
  int next = -1;        // kPwpw: the following 1x1 conv reading the module output (next module's
                        // compression), run on each tile while it is hot; its output is a second output
  int shortcut = -1;    // kPwpw: identity shortcut tensor, or the projection's input; kConvGemm: the other addend
  int dw = -1;          // kPwpw, kConvGemm: the depthwise convolution feeding `first` (AttoNet's grouped 3x3), run in
                        // bands of rows inside the step (dw_pwpw.h), or -1; the step then reads the
                        // depthwise input, and the depthwise output never exists as a tensor
  int expand = -1;      // kConvGemm with dw: the 1x1 convolution producing the depthwise input
                        // (MobileNet's expansion), computed band by band inside the step (mbconv.h)
};

// In execution order; each fused group sits where its last op stood.
// Ops marked in `keep_single` (indexed by op; may be empty) are never fused.
std::vector<FusedOps> plan_fusion(const Graph& graph, bool enable, const std::vector<bool>& keep_single = {});

}  // namespace attocore
