// The vector int8 max pools' shared loop, separable as a max is: per output row,
//   1. the max of the window's input rows inside the image, byte by byte along the whole
//      row (every channel of every pixel: one long run of vectors whatever the channel
//      count, which the stem pool's 3-8 channels need);
//   2. the max of kernel_w neighbouring pixels at every position of that row, padded on
//      both sides with -128 (a padded position then never wins: every window holds at least
//      one pixel of the image, whose code is >= -128);
//   3. every stride_w-th position's pixel, clamped, is the output pixel.
// V supplies the vector: kBytes, load, store, max, min, splat. Included by one ISA file each,
// inside its anonymous namespace use (nothing here has external linkage).
#pragma once
#include <algorithm>
#include <cstring>

#include "kernels/qmaxpool/qmaxpool.h"

namespace attocore {
namespace {

// dst[i] = max over j < count of src[j][i], for i < n.
template <typename V>
void max_of_rows(const int8_t* const* src, int count, int8_t* dst, size_t n) {
  size_t i = 0;
  for (; i + V::kBytes <= n; i += V::kBytes) {
    auto m = V::load(src[0] + i);
    for (int j = 1; j < count; ++j) m = V::max(m, V::load(src[j] + i));
    V::store(dst + i, m);
  }
  for (; i < n; ++i) {
    int8_t m = src[0][i];
    for (int j = 1; j < count; ++j) m = std::max(m, src[j][i]);
    dst[i] = m;
  }
}

// dst[i] = max over j < count of src[i + j * step], for i < n.
template <typename V>
void max_of_shifts(const int8_t* src, size_t step, int count, int8_t* dst, size_t n) {
  size_t i = 0;
  for (; i + V::kBytes <= n; i += V::kBytes) {
    auto m = V::load(src + i);
    for (int j = 1; j < count; ++j) m = V::max(m, V::load(src + i + size_t(j) * step));
    V::store(dst + i, m);
  }
  for (; i < n; ++i) {
    int8_t m = src[i];
    for (int j = 1; j < count; ++j) m = std::max(m, src[i + size_t(j) * step]);
    dst[i] = m;
  }
}

// p[i] clamped to [lo, hi], for i < n.
template <typename V>
void clamp_bytes(int8_t* p, size_t n, int8_t lo, int8_t hi) {
  const auto vlo = V::splat(lo), vhi = V::splat(hi);
  size_t i = 0;
  for (; i + V::kBytes <= n; i += V::kBytes) V::store(p + i, V::min(V::max(V::load(p + i), vlo), vhi));
  for (; i < n; ++i) p[i] = std::clamp(p[i], lo, hi);
}

template <typename V>
void qmaxpool_rows(const QMaxPoolArgs& a) {
  const WindowAttrs& w = *a.window;
  const size_t c = size_t(a.channels), row_bytes = size_t(a.in_w) * c;
  const size_t padded = size_t(a.in_w + w.pad_left + w.pad_right) * c;
  int8_t* vertical = static_cast<int8_t*>(a.scratch);
  int8_t* horizontal = vertical + padded + 64;
  std::memset(vertical, -128, size_t(w.pad_left) * c);
  std::memset(vertical + size_t(w.pad_left) * c + row_bytes, -128, size_t(w.pad_right) * c);
  // Positions whose window starts an output pixel: 0, stride, ... (out_w of them).
  const size_t positions = size_t(a.out_w - 1) * size_t(w.stride_w) + 1;
  const int8_t* rows[16];
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / a.out_h, oy = row % a.out_h;
    const int8_t* image = a.input + size_t(n) * a.in_h * row_bytes;
    const int top = oy * w.stride_h - w.pad_top;
    const int y0 = std::max(top, 0), y1 = std::min(top + w.kernel_h, a.in_h);
    int8_t* out = a.output + size_t(row) * a.out_w * c;
    if (y0 >= y1) std::memset(vertical + size_t(w.pad_left) * c, -128, row_bytes);  // (the loader refuses such windows)
    for (int y = y0; y < y1;) {  // windows taller than 16 rows: a max of maxes
      int count = 0;
      if (y > y0) rows[count++] = vertical + size_t(w.pad_left) * c;
      for (; y < y1 && count < 16; ++y) rows[count++] = image + size_t(y) * row_bytes;
      max_of_rows<V>(rows, count, vertical + size_t(w.pad_left) * c, row_bytes);
    }
    max_of_shifts<V>(vertical, c, w.kernel_w, horizontal, positions * c);
    clamp_bytes<V>(horizontal, positions * c, a.lo, a.hi);
    if (w.stride_w == 1) {
      std::memcpy(out, horizontal, size_t(a.out_w) * c);
    } else {
      for (int ox = 0; ox < a.out_w; ++ox) std::memcpy(out + size_t(ox) * c, horizontal + size_t(ox) * w.stride_w * c, c);
    }
  }
}

}  // namespace
}  // namespace attocore
