#include "graph/activation_epilogue.h"
#include "steps/dw_conv1x1.h"

namespace attocore {

DwConv1x1::DwConv1x1(const DwconvKernel& dw_kernel, const DwconvShape& ds, const float* wd, const float* bd,
                     Activation act_d, const GemmKernel& k, int out_channels, const float* w, const float* bias,
                     Activation a, int band_pixels)
    : kernel(&k), act(a), out_c(out_channels) {
  const int c = ds.out_c;
  b = pack_gemm_b(c, out_c, k, bias, [&](int ki, int n) { return w[size_t(n) * c + ki]; });
  dw = DwconvBands(dw_kernel, ds, wd, bd, act_d, band_pixels > 0 ? band_pixels : fused_tile_rows(b, c, k.mr));
}

void DwConv1x1::run(int batch, const float* x, const float* residual, float* out, float* scratch, int pixel_begin,
                    int pixel_end) const {
  const int c = dw.shape.out_c;
  dw.run(batch, x, scratch, pixel_begin, pixel_end, [&](const float* band, int b0, int b1, int first) {
    gemm(*kernel, b1 - b0, band + size_t(b0 - first) * c, c, b, out + size_t(b0) * out_c, out_c,
         residual ? residual + size_t(b0) * out_c : nullptr, out_c, epilogue_of(act));
  });
}

}  // namespace attocore
