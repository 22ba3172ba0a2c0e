// Depthwise-with-multiplier tester: every listed variant (dwconv_kernels.inc) this CPU runs
// against the portable reference and the reference against the plain convolution definition
// (conv2d_ref with groups = channels), on edge shapes (odd channels, multipliers 1-5, stride
// 1 and 2 on odd sizes, 1x1 images, 5x5 windows, padding 0 and 2, rows mixing every
// pixel-group size, rows of 7k pixels) and on every grouped layer of the four nets.
#include <vector>

#include "kernels/conv2d/conv2d_ref.h"
#include "kernels/dispatch/kernel_table.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

struct Pads {
  int top, left, bottom, right;
};

static void check(int batch, int h, int w, int c, int k, int kernel, int stride, Pads pad, unsigned seed) {
  DwconvShape s;
  s.batch = batch, s.in_h = h, s.in_w = w, s.in_c = c, s.multiplier = k, s.out_c = c * k;
  s.window.kernel_h = s.window.kernel_w = kernel;
  s.window.stride_h = s.window.stride_w = stride;
  s.window.pad_top = pad.top, s.window.pad_left = pad.left, s.window.pad_bottom = pad.bottom;
  s.window.pad_right = pad.right;
  s.window.groups = c;
  s.out_h = (h + pad.top + pad.bottom - kernel) / stride + 1;
  s.out_w = (w + pad.left + pad.right - kernel) / stride + 1;
  if (s.out_h < 1 || s.out_w < 1) return;
  std::vector<float> x(size_t(batch) * h * w * c + kDwconvInputSlack), wt(size_t(s.out_c) * kernel * kernel),
      bias(s.out_c);
  test::fill(x, seed), test::fill(wt, seed + 1), test::fill(bias, seed + 2);
  const size_t out_n = size_t(batch) * s.out_h * s.out_w * s.out_c;
  const Epilogue ep{test::clamp_for(seed).min, test::clamp_for(seed).max};

  // The plain definition: conv2d_ref with groups = c, then the epilogue's clamp.
  Conv2dShape cs;
  cs.batch = batch, cs.in_h = h, cs.in_w = w, cs.in_c = c, cs.out_h = s.out_h, cs.out_w = s.out_w, cs.out_c = s.out_c;
  cs.window = s.window;
  std::vector<float> packed(conv2d_ref_packed_size(cs)), want(out_n);
  conv2d_ref_pack(cs, wt.data(), packed.data());
  conv2d_ref(cs, x.data(), packed.data(), bias.data(), Activation::kNone, want.data(), 0, batch * s.out_h);
  for (float& v : want) v = ep.apply(v);

  for (Isa isa : available_isas())
    for (const DwconvKernel* listed : kernel_list(isa).dwconv) {
      const DwconvKernel& kern = *listed;
      PackedDwconv p = pack_dwconv(s, kern, wt.data(), bias.data());
      std::vector<float> got(out_n + 8, 777.f);
      // Two row ranges, as two threads would split them.
      const int rows = batch * s.out_h, mid = rows / 2;
      std::vector<float> scratch(dwconv_scratch_floats(s, kern));
      kern.fn(DwconvArgs{&s, &p, x.data(), got.data(), ep, 0, mid, scratch.data()});
      kern.fn(DwconvArgs{&s, &p, x.data(), got.data(), ep, mid, rows, scratch.data()});
      double worst;
      ++cases;
      CHECK_MSG(test::close(got.data(), want.data(), out_n, 1e-5, &worst),
                "%s: n=%d %dx%d c=%d k=%d %dx%d s=%d: error %g", kern.name, batch, h, w, c, k, kernel, kernel, stride,
                worst);
      CHECK_MSG(got[out_n] == 777.f, "%s wrote past its output", kern.name);
    }
}

static void check(int batch, int h, int w, int c, int k, int kernel, int stride, int pad, unsigned seed) {
  check(batch, h, w, c, k, kernel, stride, Pads{pad, pad, pad, pad}, seed);
}

int main() {
  unsigned seed = 1;
  for (int c : {1, 3, 5, 7, 8, 17})
    for (int k : {1, 2, 3, 4, 5})
      for (int stride : {1, 2})
        for (int hw : {1, 2, 5, 8, 11}) check(1 + (c % 2), hw, hw + (c % 3), c, k, 3, stride, 1, seed++);
  for (int c : {3, 8}) check(1, 9, 7, c, 2, 5, 2, 2, seed++);   // 5x5 window
  // Other windows (EfficientNet's and MobileNet-V3's 5x5, 7x7), multipliers 1 and 2, both
  // strides, rows with and without 8 interior pixels, every padding from 0 to the window's.
  for (int kernel : {5, 7})
    for (int k : {1, 2})
      for (int stride : {1, 2})
        for (int pad : {0, kernel / 2, kernel - 1})
          for (int wd : {kernel, 12, 23, test::spatial(40)})
            for (int c : {1, 16, 17, 33}) check(1 + (c % 2), test::spatial(9), wd, c, k, kernel, stride, pad, seed++);
  // 5x5 windows on rows of 7k output pixels (the x86 variants' groups of 7, dwconv_chunks.h):
  // stride 1 on 7, 14 and 28 wide rows, stride 2 from 13, 14, 27 and 28 wide inputs (1 or 2
  // padding columns past the row's end), image heights with padding rows at both ends,
  // partial chunks and multipliers.
  for (int k : {1, 2})
    for (int c : {16, 17, 33}) {
      for (int wd : {7, 14, 28}) check(1 + (c % 2), test::spatial(9), wd, c, k, 5, 1, 2, seed++);
      for (int wd : {13, 14, 27, 28}) check(1 + (c % 2), test::spatial(11), wd, c, k, 5, 2, 2, seed++);
      // ONNX's asymmetric pads: 0 and 1 padding columns past the row's end (right padding 0
      // or 1), top padding other than the left (1 or 3 rows).
      for (int top : {1, 3}) {
        check(1, test::spatial(9), 9, c, k, 5, 1, Pads{top, 2, 2, 0}, seed++);   // 7 wide, none past the end
        check(1, test::spatial(9), 8, c, k, 5, 1, Pads{top, 2, 1, 1}, seed++);   // 7 wide, one
        check(1, test::spatial(9), 16, c, k, 5, 1, Pads{top, 2, 0, 0}, seed++);  // 14 wide, none
        check(1, test::spatial(11), 15, c, k, 5, 2, Pads{top, 2, 2, 0}, seed++); // 7 wide, none
        check(1, test::spatial(11), 29, c, k, 5, 2, Pads{top, 2, 1, 0}, seed++); // 14 wide, none
      }
    }
  for (int c : {4, 9}) check(1, 7, 7, c, 4, 3, 1, 0, seed++);   // no padding
  for (int c : {5, 9}) check(1, 6, 9, c, 2, 3, 1, 2, seed++);   // 3x3 window, padding 2
  // Rows that mix groups of 8 and 4 with staged edge groups, and rows of 7k output pixels
  // (groups of 7: 14 and 21 wide at stride 1, 27 and 28 wide at stride 2), both strides.
  for (int wd : {14, 19, 21, 27, 28, 29, 37})
    for (int stride : {1, 2}) check(1, 3, wd, 5, 4, 3, stride, 1, seed++);
  for (const auto& z : test::kZooModules) {
    const int hw = test::spatial(z.hw);
    check(1, hw, hw, z.c1, z.k, 3, z.stride, 1, seed++);
  }
  std::printf("%d cases (%s mode)\n", cases, test::small_mode() ? "small" : "full");
  TEST_MAIN_END();
}
