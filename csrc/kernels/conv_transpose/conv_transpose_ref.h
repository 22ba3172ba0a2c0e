// Transposed convolution (ONNX ConvTranspose, PyTorch ConvTranspose2d), NHWC, any kernel,
// stride, padding, dilation, output padding and groups: each output pixel gathers the input
// pixels whose window covers it (oy = iy * stride - pad + ky * dilation), so threads split the
// output rows and no two write one value. The oracle for the GEMM path (exec/conv_transpose_layer).
#pragma once
#include <vector>

#include "graph/graph.h"
#include "kernels/conv2d/conv2d_ref.h"

namespace attocore {

// A convolution's shape record: in_* the transposed convolution's input, out_* its output
// (the window's stride up-samples); batch unused.
using ConvTransposeShape = Conv2dShape;

// The file's [in, out / groups, kh, kw] weights as [group][ky][kx][in / groups][out / groups].
std::vector<float> pack_conv_transpose_ref(const ConvTransposeShape& s, const float* weights);

// Output rows [r0, r1) of the flattened batch * out_h; bias may be null; act: a clamp.
void conv_transpose_ref(const ConvTransposeShape& s, const float* x, const float* packed, const float* bias,
                        Activation act, float* y, int r0, int r1);

}  // namespace attocore
