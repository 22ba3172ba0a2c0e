// Up-sampling NHWC by integer factors (FPN and detector necks): nearest (out[y] = in[y / s],
// PyTorch's and ONNX's asymmetric floor) and bilinear with half-pixel centres (PyTorch's
// align_corners=False: source y = (oy + 0.5) / s - 0.5, clamped to the image). Output rows
// [r0, r1) of the flattened batch * out_h.
#pragma once

namespace attocore {

void resize_nearest_rows(const float* x, int h, int w, int c, int sh, int sw, float* y, int r0, int r1);
void resize_bilinear_rows(const float* x, int h, int w, int c, int sh, int sw, float* y, int r0, int r1);

}  // namespace attocore
