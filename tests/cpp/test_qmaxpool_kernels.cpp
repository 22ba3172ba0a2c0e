// Int8 max pool tester: the reference against the definition (max over the taps inside the
// image, clamped), then every listed variant this CPU runs (qmaxpool_kernels.inc) against
// the reference, byte for byte: the zoo's 3x3 stride-2 pool after each stem width, channel
// counts around each vector width (1-70), windows 1x1 to 5x5, strides 1-3, padding, images
// smaller than the window, the extremes of int8, and the clamps an activation leaves.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "int8_harness.h"
#include "kernels/dispatch/qkernel_table.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

static void check(int batch, int h, int w, int c, int kernel, int stride, int pad, unsigned seed, int lo = -128,
                  int hi = 127, int x_lo = -128, int x_hi = 127) {
  WindowAttrs win;
  win.kernel_h = win.kernel_w = kernel;
  win.stride_h = win.stride_w = stride;
  win.pad_top = win.pad_left = win.pad_bottom = win.pad_right = pad;
  const int out_h = (h + 2 * pad - kernel) / stride + 1, out_w = (w + 2 * pad - kernel) / stride + 1;
  std::vector<int8_t> x(size_t(batch) * h * w * c);
  test::fill_int(x, seed, x_lo, x_hi);
  const size_t out_n = size_t(batch) * out_h * out_w * c;
  std::vector<int8_t> want(out_n);
  for (int n = 0; n < batch; ++n)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox)
        for (int ch = 0; ch < c; ++ch) {
          int m = -1000;
          for (int ky = 0; ky < kernel; ++ky)
            for (int kx = 0; kx < kernel; ++kx) {
              const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) m = std::max<int>(m, x[((size_t(n) * h + iy) * w + ix) * c + ch]);
            }
          want[((size_t(n) * out_h + oy) * out_w + ox) * c + ch] = int8_t(std::clamp(m, lo, hi));
        }
  for (const QMaxPoolKernel* k : runnable_qmaxpool_kernels()) {
    std::vector<int8_t> got(out_n + 8, int8_t(0x5A));
    const int rows = batch * out_h, mid = rows / 2;
    std::vector<uint8_t> scratch(qmaxpool_scratch_bytes(w, c, win), 0xA5);  // stale bytes, as a reused scratch has
    for (auto [r0, r1] : {std::pair{0, mid}, std::pair{mid, rows}})
      k->fn(QMaxPoolArgs{h, w, c, out_h, out_w, &win, x.data(), got.data(), int8_t(lo), int8_t(hi), r0, r1,
                         scratch.data()});
    ++cases;
    size_t bad = 0;
    for (size_t i = 0; i < out_n; ++i) bad += got[i] != want[i];
    CHECK_MSG(bad == 0, "%s: n=%d %dx%d c=%d k=%d s=%d p=%d clamp [%d, %d]: %zu outputs differ", k->name, batch, h, w,
              c, kernel, stride, pad, lo, hi, bad);
    for (size_t i = out_n; i < out_n + 8; ++i) CHECK_MSG(got[i] == 0x5A, "%s wrote past its output", k->name);
  }
}

int main() {
  std::vector<std::string> skipped;
  for (const QMaxPoolKernel* k : runnable_qmaxpool_kernels(&skipped)) std::printf("checking %s\n", k->name);
  for (const std::string& s : skipped) std::printf("skipped %s\n", s.c_str());
  const bool small = test::small_mode();
  unsigned seed = 1;
  // The zoo's pool after the stem (112x112 -> 56x56, 3x3 stride 2 pad 1), every stem width.
  for (int c : test::kZooStemWidths) check(1, small ? 28 : 112, small ? 28 : 112, c, 3, 2, 1, seed++);
  for (int c = 1; c <= 70; ++c) check(c % 3 == 0 ? 2 : 1, 9, 11, c, 3, 2, 1, seed++);
  for (int kernel = 1; kernel <= 5; ++kernel)
    for (int stride = 1; stride <= 3; ++stride)
      for (int pad = 0; pad < kernel && pad <= 2; ++pad) check(1, 7, 10, 37, kernel, stride, pad, seed++);
  check(1, 2, 2, 33, 3, 1, 1, seed++);  // an image smaller than the window
  check(1, 40, 24, 3, 20, 1, 2, seed++);  // taller than 16 rows: a max of maxes
  check(1, 1, 1, 48, 3, 2, 1, seed++);
  check(2, 8, 8, 40, 3, 2, 1, seed++, 0, 127);     // ReLU at a zero point of 0
  check(1, 8, 8, 40, 3, 2, 1, seed++, -5, 60);     // a ReLU6-like band
  check(1, 6, 6, 50, 3, 1, 1, seed++, -128, 127, -128, -128);
  check(1, 6, 6, 50, 3, 1, 1, seed++, -128, 127, 127, 127);
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
