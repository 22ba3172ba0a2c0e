#include "steps/pwpw.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "graph/activation_epilogue.h"
#include "kernels/eltwise/activation.h"

namespace attocore {

Pwpw::Pwpw(const PwpwShape& s, const GemmKernel& k1, const GemmKernel& k2_, const float* w1, const float* b1,
           const float* w2, const float* b2, const float* wp, const float* bp, Activation a1, Activation aout)
    : shape(s), first_kernel(&k1), second_kernel(&k2_), act1(a1), act_out(aout) {
  const bool proj = s.shortcut == Shortcut::kProjection;
  k2 = s.c3 + (proj ? s.x_c : 0);
  first = pack_gemm_b(s.c2, s.c3, k1, b1, [&](int ki, int n) { return w1[size_t(n) * s.c2 + ki]; });
  std::vector<float> bias(s.cout, 0.f);
  for (int o = 0; o < s.cout; ++o) bias[o] = (b2 ? b2[o] : 0.f) + (proj && bp ? bp[o] : 0.f);
  second = pack_gemm_b(k2, s.cout, k2_, bias.data(), [&](int ki, int n) {
    return ki < s.c3 ? w2[size_t(n) * s.c3 + ki] : wp[size_t(n) * s.x_c + (ki - s.c3)];
  });
  // The tile's [mid | x] rows (k2 floats each) should sit in L1/L2: ~48 KiB. When the
  // second product's weights outgrow L2 (a projection tail: k2 = c3 + x_c, hundreds by
  // hundreds), they stream from L3 once per tile, so the tile grows to kLargeBRowBytes of
  // rows (the GEMM driver then walks them panel by panel: see PackedGemmB::large).
  tile = fused_tile_rows(second, k2, std::max(k1.mr, k2_.mr));
}

void Pwpw::attach_next(const GemmKernel& kernel, int channels, const float* wn, const float* bn, Activation act) {
  next_kernel = &kernel;
  next_c = channels;
  next_act = act;
  next = pack_gemm_b(shape.cout, channels, kernel, bn, [&](int ki, int n) { return wn[size_t(n) * shape.cout + ki]; });
}

void Pwpw::run(const float* x2, const float* x, float* out, float* scratch, int pixel_begin, int pixel_end,
               float* next_out, int x2_first) const {
  const PwpwShape& s = shape;
  const int per_image = s.out_h * s.out_w;
  // Equal tiles of at most split_cap(tile) rows: every tile re-reads all three weight matrices.
  const int step = equal_split_step(pixel_end - pixel_begin, tile, std::max(first_kernel->mr, second_kernel->mr));
  for (int p0 = pixel_begin; p0 < pixel_end; p0 += step) {
    const int rows = std::min(step, pixel_end - p0);
    gemm(*first_kernel, rows, x2 + size_t(p0 - x2_first) * s.c2, s.c2, first, scratch, k2, nullptr, 0, epilogue_of(act1));
    const float* residual = nullptr;
    if (s.shortcut == Shortcut::kProjection) {
      // Output pixel (image, oy, ox) stepped rather than divided out per pixel, and a few
      // channels (the first module's x_c = c0 = 3-8) copied inline rather than by a memcpy
      // call per pixel (the gain measured within noise; the loop is no dearer).
      int image = p0 / per_image, oy = p0 % per_image / s.out_w, ox = p0 % s.out_w;
      for (int r = 0; r < rows; ++r) {
        const float* src =
            x + ((size_t(image) * s.x_h + size_t(oy) * s.stride) * s.x_w + size_t(ox) * s.stride) * s.x_c;
        float* dst = scratch + size_t(r) * k2 + s.c3;
        if (s.x_c <= 16) {
          for (int c = 0; c < s.x_c; ++c) dst[c] = src[c];
        } else {
          std::memcpy(dst, src, sizeof(float) * s.x_c);
        }
        if (++ox == s.out_w) ox = 0, oy = oy + 1 == s.out_h ? (++image, 0) : oy + 1;
      }
    } else if (s.shortcut == Shortcut::kIdentity) {
      residual = x + size_t(p0) * s.cout;
    }
    gemm(*second_kernel, rows, scratch, k2, second, out + size_t(p0) * s.cout, s.cout, residual, s.cout, epilogue_of(act_out));
    if (next_kernel != nullptr && next_out != nullptr)
      gemm(*next_kernel, rows, out + size_t(p0) * s.cout, s.cout, next, next_out + size_t(p0) * next_c, next_c,
           nullptr, 0, epilogue_of(next_act));
  }
}

void pwpw_reference(const PwpwShape& s, const float* w1, const float* b1, const float* w2, const float* b2,
                    const float* wp, const float* bp, Activation act1, Activation act_out, const float* x2,
                    const float* x, float* out, int pixels) {
  std::vector<double> mid(s.c3);
  const int per_image = s.out_h * s.out_w;
  for (int p = 0; p < pixels; ++p) {
    for (int m = 0; m < s.c3; ++m) {
      double acc = b1 ? b1[m] : 0.0;
      for (int c = 0; c < s.c2; ++c) acc += double(x2[size_t(p) * s.c2 + c]) * w1[size_t(m) * s.c2 + c];
      mid[m] = activate(act1, float(acc));
    }
    const int n = p / per_image, oy = (p % per_image) / s.out_w, ox = p % s.out_w;
    const float* xp = x + ((size_t(n) * s.x_h + size_t(oy) * s.stride) * s.x_w + size_t(ox) * s.stride) * s.x_c;
    for (int o = 0; o < s.cout; ++o) {
      double acc = b2 ? b2[o] : 0.0;
      for (int m = 0; m < s.c3; ++m) acc += mid[m] * w2[size_t(o) * s.c3 + m];
      if (s.shortcut == Shortcut::kIdentity) acc += x[size_t(p) * s.cout + o];
      if (s.shortcut == Shortcut::kProjection) {
        acc += bp ? bp[o] : 0.0;
        for (int c = 0; c < s.x_c; ++c) acc += double(xp[c]) * wp[size_t(o) * s.x_c + c];
      }
      out[size_t(p) * s.cout + o] = activate(act_out, float(acc));
    }
  }
}

}  // namespace attocore
