// Int8 depthwise tester: the reference against the definition (int64 sums over the taps
// inside the image), then every listed variant this CPU runs (qdwconv_kernels.inc) against
// the reference, bit for bit: multipliers 1-5, strides 1 and 2, odd channel counts and
// sizes, 1x1 images, 5x5 windows, padding 0-2, one-sided and rectangular windows, unequal
// strides, dilation, the input at the extremes of int8, multipliers 8 and 16 and huge
// requantization multipliers (qdwconv_dp4.h's paths), and every
// grouped layer of the four nets. The second half of each case's rows goes into a band
// buffer of its own (output_row0), as the fused int8 module step runs it.
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

// Any window: rectangular kernels, strides and padding per side, dilation.
// mult_scale scales the requantization multipliers (large: outputs at the clamps, and sums
// times multipliers past 2^30, which the byte-clamping paths must leave alone).
static void check_window(int batch, int h, int w, int c, int k, const WindowAttrs& win, unsigned seed,
                         int x_lo = -128, int x_hi = 127, float mult_scale = 1.f) {
  DwconvShape s;
  s.batch = batch, s.in_h = h, s.in_w = w, s.in_c = c, s.multiplier = k, s.out_c = c * k;
  s.window = win;
  s.window.groups = c;
  s.out_h = (h + win.pad_top + win.pad_bottom - (win.kernel_h - 1) * win.dilation_h - 1) / win.stride_h + 1;
  s.out_w = (w + win.pad_left + win.pad_right - (win.kernel_w - 1) * win.dilation_w - 1) / win.stride_w + 1;
  if (s.out_h < 1 || s.out_w < 1) return;
  const int taps = win.kernel_h * win.kernel_w;
  std::vector<int8_t> x(size_t(batch) * h * w * c), wt(size_t(s.out_c) * taps);
  std::vector<int32_t> bias(s.out_c);
  std::vector<int> zp(1);
  test::fill_int(x, seed, x_lo, x_hi);
  test::fill_int(wt, seed + 1, -127, 127);
  test::fill_int(bias, seed + 2, -5000, 5000);
  test::fill_int(zp, seed + 3, -128, 127);
  std::vector<float> mult = test::multipliers(s.out_c, taps, seed + 4);
  for (float& m : mult) m *= mult_scale;
  const QuantEpilogue ep = test::epilogue_for(seed);
  const size_t out_n = size_t(batch) * s.out_h * s.out_w * s.out_c;

  std::vector<int8_t> want(out_n);
  for (int n = 0; n < batch; ++n)
    for (int oy = 0; oy < s.out_h; ++oy)
      for (int ox = 0; ox < s.out_w; ++ox)
        for (int o = 0; o < s.out_c; ++o) {
          int64_t acc = bias[o];
          for (int ky = 0; ky < win.kernel_h; ++ky)
            for (int kx = 0; kx < win.kernel_w; ++kx) {
              const int iy = oy * win.stride_h - win.pad_top + ky * win.dilation_h;
              const int ix = ox * win.stride_w - win.pad_left + kx * win.dilation_w;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              acc += int64_t(x[((size_t(n) * h + iy) * w + ix) * c + o / k] - zp[0]) *
                     wt[size_t(o) * taps + ky * win.kernel_w + kx];
            }
          want[((size_t(n) * s.out_h + oy) * s.out_w + ox) * s.out_c + o] = requantize(int32_t(acc), mult[o], ep);
        }

  for (const QDwconvKernel* kern : runnable_qdwconv_kernels()) {
    PackedQDwconv p = kern->pack(s, wt.data(), bias.data(), mult.data(), zp[0]);
    std::vector<int8_t> got(out_n + 8, int8_t(0x5A));
    std::vector<uint8_t> scratch(qdwconv_scratch_bytes(s));
    const int rows = batch * s.out_h, mid = rows / 2;
    kern->fn(QDwconvArgs{&s, &p, x.data(), got.data(), ep, 0, mid, scratch.data()});
    // The second half as a fused step runs it: into a band buffer of its own rows only
    // (output_row0 = mid), then copied to its place; the band's guard bytes must stay.
    const size_t row_bytes = size_t(s.out_w) * s.out_c;
    std::vector<int8_t> band(size_t(rows - mid) * row_bytes + 8, int8_t(0x5A));
    QDwconvArgs second{&s, &p, x.data(), band.data(), ep, mid, rows, scratch.data()};
    second.output_row0 = mid;
    kern->fn(second);
    std::copy_n(band.begin(), size_t(rows - mid) * row_bytes, got.begin() + size_t(mid) * row_bytes);
    for (size_t i = size_t(rows - mid) * row_bytes; i < band.size(); ++i)
      CHECK_MSG(band[i] == 0x5A, "%s wrote past its band (output_row0)", kern->name);
    ++cases;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < out_n; ++i)
      if (got[i] != want[i] && bad++ == 0) first = i;
    CHECK_MSG(bad == 0,
              "%s: n=%d %dx%d c=%d k=%d %dx%d s=%d,%d p=%d,%d,%d,%d d=%d,%d: %zu outputs differ (first at %zu: %d, want %d)",
              kern->name, batch, h, w, c, k, win.kernel_h, win.kernel_w, win.stride_h, win.stride_w, win.pad_top,
              win.pad_left, win.pad_bottom, win.pad_right, win.dilation_h, win.dilation_w, bad, first, got[first],
              want[first]);
    for (size_t i = out_n; i < out_n + 8; ++i) CHECK_MSG(got[i] == 0x5A, "%s wrote past its output", kern->name);
  }
}

static void check(int batch, int h, int w, int c, int k, int kernel, int stride, int pad, unsigned seed,
                  int x_lo = -128, int x_hi = 127) {
  WindowAttrs win;
  win.kernel_h = win.kernel_w = kernel;
  win.stride_h = win.stride_w = stride;
  win.pad_top = win.pad_left = win.pad_bottom = win.pad_right = pad;
  check_window(batch, h, w, c, k, win, seed, x_lo, x_hi);
}

static WindowAttrs window(int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, int dh = 1, int dw = 1) {
  WindowAttrs win;
  win.kernel_h = kh, win.kernel_w = kw, win.stride_h = sh, win.stride_w = sw;
  win.pad_top = pt, win.pad_left = pl, win.pad_bottom = pb, win.pad_right = pr;
  win.dilation_h = dh, win.dilation_w = dw;
  return win;
}

int main() {
  std::vector<std::string> skipped;
  const auto kernels = runnable_qdwconv_kernels(&skipped);
  for (const std::string& s : skipped) std::printf("skipped %s\n", s.c_str());
  for (const QDwconvKernel* k : kernels) std::printf("checking %s\n", k->name);
  unsigned seed = 1;
  for (int c : {1, 3, 5, 7, 8, 16, 17, 33})
    for (int k : {1, 2, 3, 4, 5})
      for (int stride : {1, 2})
        for (int hw : {1, 2, 5, 8, 11}) check(1 + (c % 2), hw, hw + (c % 3), c, k, 3, stride, 1, seed++);
  for (int c : {3, 8}) check(1, 9, 7, c, 2, 5, 2, 2, seed++);  // 5x5 window
  for (int c : {4, 9}) check(1, 7, 7, c, 4, 3, 1, 0, seed++);  // no padding
  for (int c : {5, 9}) check(1, 6, 9, c, 2, 3, 1, 2, seed++);  // padding 2
  for (int wd : {14, 19, 21, 27, 28, 29, 37})
    for (int stride : {1, 2}) check(1, 3, wd, 5, 4, 3, stride, 1, seed++);
  check(1, 6, 6, 16, 4, 3, 1, 1, seed++, -128, -128);  // the extremes of int8
  check(1, 6, 6, 16, 4, 3, 2, 1, seed++, 127, 127);
  // Windows the square cases miss: padding on one side only (TF "same" at stride 2),
  // unequal strides, a row stride of 3 under the 3x3 path, rectangular kernels, dilation.
  for (int c : {5, 16}) {
    check_window(1, 8, 9, c, 4, window(3, 3, 2, 2, 0, 0, 1, 1), seed++);
    check_window(1, 9, 8, c, 2, window(3, 3, 1, 2, 1, 1, 1, 1), seed++);
    check_window(2, 7, 10, c, 4, window(3, 3, 3, 1, 2, 0, 0, 2), seed++);
    check_window(1, 6, 7, c, 1, window(1, 3, 1, 1, 0, 1, 0, 1), seed++);
    check_window(1, 9, 9, c, 4, window(3, 3, 1, 1, 2, 2, 2, 2, 2, 2), seed++);
    check_window(1, 5, 12, c, 3, window(3, 3, 2, 1, 1, 3, 1, 3), seed++);
  }
  // The vpdpbusd 3x3 path (qdwconv_dp4.h): multipliers 8 and 16, channel counts around its
  // 16- and 32-channel staging blocks and 4-chunk groups, column strides 3, dilation with
  // stride 2, and multipliers large enough to saturate every clamp (1e3) or to push
  // |acc * multiplier| past 2^30 (1e6: the float clamps).
  for (int k : {8, 16})
    for (int c : {1, 3, 6})
      for (int stride : {1, 2}) check(1 + (c % 2), 7, 6 + c, c, k, 3, stride, 1, seed++);
  for (int c : {31, 32, 48, 63, 64, 65, 97})
    for (int k : {1, 2, 4}) check(1, 5, 6, c, k, 3, 1 + (c % 2), 1, seed++);
  for (int c : {5, 40}) {
    check_window(1, 9, 13, c, 4, window(3, 3, 1, 3, 1, 1, 1, 1), seed++);
    check_window(1, 11, 12, c, 2, window(3, 3, 2, 2, 2, 2, 2, 2, 2, 2), seed++);
    check_window(1, 4, 30, c, 1, window(3, 3, 1, 1, 0, 0, 0, 0), seed++);
  }
  for (float scale : {1e3f, 1e6f})
    for (int k : {1, 2, 4})
      for (int c : {7, 40}) {
        WindowAttrs win = window(3, 3, 1, 1, 1, 1, 1, 1);
        check_window(2, 5, 6, c, k, win, seed, -128, 127, scale), seed++;
      }
  for (const auto& z : test::kZooModules) {
    const int hw = test::spatial(z.hw);
    check(1, hw, hw, z.c1, z.k, 3, z.stride, 1, seed++);
  }
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
