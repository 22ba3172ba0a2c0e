#include "graph/activation_epilogue.h"
#include "steps/mbconv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/eltwise/activation.h"

namespace attocore {
namespace {

size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }

}  // namespace

MbConv::MbConv(int in_channels, const GemmKernel& ek, const float* we, const float* be, Activation act_e,
               const DwconvKernel& dwk, const DwconvShape& ds, const float* wd, const float* bd, Activation act_d,
               int out_channels, const GemmKernel& pk, const float* wp, const float* bp, Activation act_p)
    : in_c(in_channels), mid_c(ds.in_c), out_c(out_channels) {
  expand.kernel = &ek;
  expand.act = act_e;
  expand.b = pack_gemm_b(in_c, mid_c, ek, be, [&](int k, int n) { return we[size_t(n) * in_c + k]; });
  project.kernel = &pk;
  project.act = act_p;
  const int dw_c = ds.out_c;  // mid_c * multiplier
  project.b = pack_gemm_b(dw_c, out_c, pk, bp, [&](int k, int n) { return wp[size_t(n) * dw_c + k]; });
  // A band is one projection tile (gemm.h), rounded up to whole rows.
  dw = DwconvBands(dwk, ds, wd, bd, act_d, fused_tile_rows(project.b, dw_c, pk.mr));
}

size_t MbConv::expanded_floats() const {
  return round_up_16(size_t(dw.max_input_rows()) * dw.shape.in_w * mid_c + kDwconvInputSlack);
}
size_t MbConv::scratch_floats() const { return expanded_floats() + dw.scratch_floats(); }

void MbConv::run(const float* x, const float* residual, float* out, float* scratch, int pixel_begin,
                 int pixel_end) const {
  const DwconvShape& s = dw.shape;
  const int ow = s.out_w, per_image = s.out_h * ow;
  const size_t row_floats = size_t(s.in_w) * mid_c;
  float* expanded = scratch;
  float* band = expanded + expanded_floats();
  float* dw_scratch = band + dw.band_floats();
  int held_image = -1, held_lo = 0, held_hi = 0;  // rows of e in `expanded`, from its start
  for (int b0 = pixel_begin; b0 < pixel_end;) {
    const int b1 = dw.band_end(b0, pixel_end, true);
    const int n = b0 / per_image, oy0 = b0 % per_image / ow;
    const int oy1 = (b1 - 1) % per_image / ow + 1;
    int lo, hi;
    dw.input_rows(oy0, oy1, &lo, &hi);
    // Rows of e already held (the previous band's bottom rows) move to the front.
    int from = lo;
    if (held_image == n && lo >= held_lo && lo < held_hi) {
      if (lo > held_lo) std::memmove(expanded, expanded + size_t(lo - held_lo) * row_floats,
                                     sizeof(float) * size_t(held_hi - lo) * row_floats);
      from = std::min(held_hi, hi);
    }
    if (hi > from)
      gemm(*expand.kernel, (hi - from) * s.in_w, x + (size_t(n) * s.in_h + from) * s.in_w * in_c, in_c, expand.b,
           expanded + size_t(from - lo) * row_floats, mid_c, nullptr, 0, epilogue_of(expand.act));
    held_image = n, held_lo = lo, held_hi = hi;
    dw.run_rows(expanded, lo, hi, oy0, oy1, band, dw_scratch);
    const int first = n * per_image + oy0 * ow;
    gemm(*project.kernel, b1 - b0, band + size_t(b0 - first) * s.out_c, s.out_c, project.b, out + size_t(b0) * out_c,
         out_c, residual ? residual + size_t(b0) * out_c : nullptr, out_c, epilogue_of(project.act));
    b0 = b1;
  }
}

void mbconv_reference(int batch, const DwconvShape& s, int in_c, int out_c, const float* we, const float* be,
                      Activation act_e, const float* wd, const float* bd, Activation act_d, const float* wp,
                      const float* bp, Activation act_p, const float* x, const float* residual, float* out) {
  const int mid = s.in_c, k = s.multiplier;
  const WindowAttrs& w = s.window;
  std::vector<float> e(size_t(batch) * s.in_h * s.in_w * mid), d(size_t(s.out_c));
  for (size_t p = 0; p < size_t(batch) * s.in_h * s.in_w; ++p)
    for (int m = 0; m < mid; ++m) {
      double acc = be ? be[m] : 0.0;
      for (int c = 0; c < in_c; ++c) acc += double(x[p * in_c + c]) * we[size_t(m) * in_c + c];
      e[p * mid + m] = activate(act_e, float(acc));
    }
  for (int n = 0; n < batch; ++n)
    for (int oy = 0; oy < s.out_h; ++oy)
      for (int ox = 0; ox < s.out_w; ++ox) {
        for (int oc = 0; oc < s.out_c; ++oc) {
          double acc = bd ? bd[oc] : 0.0;
          for (int ky = 0; ky < w.kernel_h; ++ky)
            for (int kx = 0; kx < w.kernel_w; ++kx) {
              const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
              const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
              acc += double(e[((size_t(n) * s.in_h + iy) * s.in_w + ix) * mid + oc / k]) *
                     wd[(size_t(oc) * w.kernel_h + ky) * w.kernel_w + kx];
            }
          d[oc] = activate(act_d, float(acc));
        }
        const size_t p = (size_t(n) * s.out_h + oy) * s.out_w + ox;
        for (int o = 0; o < out_c; ++o) {
          double acc = (bp ? bp[o] : 0.0) + (residual ? residual[p * out_c + o] : 0.0);
          for (int c = 0; c < s.out_c; ++c) acc += double(d[c]) * wp[size_t(o) * s.out_c + c];
          out[p * out_c + o] = activate(act_p, float(acc));
        }
      }
}

}  // namespace attocore
