// Max pool tester: every listed variant (maxpool_kernels.inc; the reference included)
// against the plain definition (the max of the window's positions inside the image), bit for
// bit, on odd channel counts, widths not a multiple of the vector, windows 1-3, strides 1-3,
// every legal padding, batches of 1 and 2, and the nets' pool (3x3 stride 2 pad 1 on
// 112x112).
#include <algorithm>
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "test_harness.h"

using namespace attocore;

static int cases = 0;

static void check(int batch, int h, int w, int c, int kernel, int stride, int pad, unsigned seed) {
  WindowAttrs win;
  win.kernel_h = win.kernel_w = kernel;
  win.stride_h = win.stride_w = stride;
  win.pad_top = win.pad_left = win.pad_bottom = win.pad_right = pad;
  const int out_h = (h + 2 * pad - kernel) / stride + 1, out_w = (w + 2 * pad - kernel) / stride + 1;
  if (out_h < 1 || out_w < 1) return;
  std::vector<float> x(size_t(batch) * h * w * c);
  test::fill(x, seed);
  const Epilogue ep{test::clamp_for(seed).min, test::clamp_for(seed).max};
  std::vector<float> want(size_t(batch) * out_h * out_w * c);
  for (int n = 0; n < batch; ++n)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox)
        for (int ch = 0; ch < c; ++ch) {
          float m = -1e30f;
          for (int ky = 0; ky < kernel; ++ky)
            for (int kx = 0; kx < kernel; ++kx) {
              const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) m = std::max(m, x[((size_t(n) * h + iy) * w + ix) * c + ch]);
            }
          want[((size_t(n) * out_h + oy) * out_w + ox) * c + ch] = ep.apply(m);
        }
  for (Isa isa : available_isas())
    for (const MaxPoolKernel* listed : kernel_list(isa).maxpool) {
      const MaxPoolKernel& kern = *listed;
      std::vector<float> got(want.size() + 8, 12345.f);
      // In two row ranges, as threads split it.
      const int rows = batch * out_h;
      kern.fn(h, w, c, out_h, out_w, win, x.data(), ep, got.data(), 0, rows / 2);
      kern.fn(h, w, c, out_h, out_w, win, x.data(), ep, got.data(), rows / 2, rows);
      ++cases;
      CHECK_MSG(std::equal(want.begin(), want.end(), got.begin()), "%s %s n=%d %dx%d c=%d k=%d s=%d p=%d differs",
                isa_name(isa), kern.name, batch, h, w, c, kernel, stride, pad);
      CHECK_MSG(std::all_of(got.begin() + want.size(), got.end(), [](float v) { return v == 12345.f; }),
                "%s %s c=%d wrote past the output", isa_name(isa), kern.name, c);
    }
}

int main() {
  unsigned seed = 1;
  for (int c : {1, 3, 5, 8, 9, 16, 17})
    for (int hw : {1, 2, 5, 7, 8})
      for (int kernel = 1; kernel <= 3; ++kernel)
        for (int stride = 1; stride <= 3; ++stride)
          for (int pad = 0; pad < kernel; ++pad) check(1 + seed % 2, hw, hw + 1, c, kernel, stride, pad, seed++);
  for (int c : {3, 6, 8}) check(1, test::spatial(112), test::spatial(112), c, 3, 2, 1, seed++);  // the nets' pool
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
