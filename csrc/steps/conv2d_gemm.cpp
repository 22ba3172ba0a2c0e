#include "steps/conv2d_gemm.h"

#include <algorithm>
#include <cstring>

#include "graph/activation_epilogue.h"

namespace attocore {

Conv2dGemm::Conv2dGemm(const Conv2dShape& s, const GemmKernel& wide, const float* oihw, const float* bias)
    : shape(s), kernel(&wide) {
  const WindowAttrs& w = s.window;
  const int kh = w.kernel_h, kw = w.kernel_w, cin = s.in_c;
  k = kh * kw * cin;
  direct = kh == 1 && kw == 1 && w.stride_h == 1 && w.stride_w == 1 && w.pad_top == 0 && w.pad_left == 0 &&
           w.pad_bottom == 0 && w.pad_right == 0;
  if (!direct && wide.narrow_indirect != nullptr && s.out_c <= wide.narrow_indirect->nr) kernel = wide.narrow_indirect;
  const GemmKernel& kern = *kernel;
  indirect = !direct && kern.indirect != nullptr && kern.packing == GemmPacking::kPlain;
  // Keep an im2col tile within ~32 KiB so it stays in L1/L2 beside the weight panel; a
  // pointer tile is small (taps pointers a row), so each weight panel serves 96 rows.
  tile = indirect ? 96 / kern.mr * kern.mr
                  : std::max(kern.mr, std::min(64, int(32768 / (4 * std::max(k, 1))) / kern.mr * kern.mr));
  // Where tap (ky, kx) reads, relative to its window's first pixel.
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx)
      tap_offsets.push_back((size_t(ky) * w.dilation_h * s.in_w + size_t(kx) * w.dilation_w) * cin);
  // The indirect kernel covers every panel: packed at its width, without the narrow tail.
  GemmKernel packing = kern;
  if (indirect) packing.tail = nullptr, packing.rows_for = nullptr;
  b = pack_gemm_b(k, s.out_c, packing, bias, [&](int ki, int oc) {
    const int ci = ki % cin, tap = ki / cin, ky = tap / kw, kx = tap % kw;
    return oihw[((size_t(oc) * cin + ci) * kh + ky) * kw + kx];
  });
  // Blocks of k: equal parts of at most ~kIgemmBlockBytes of a panel each, a multiple of 4
  // k-steps, once a panel is over kLargeBBytes (ResNet's 3x3 at 256 and 512 channels: 288
  // and 576 KiB). Smaller panels are unblocked: at 72-144 KiB (64-128 channels) blocks
  // measured level to 3-9% slower (DECISIONS.md).
  k_block = k;
  const size_t block_bytes = kIgemmBlockBytes;
  const size_t panel_bytes = size_t(k) * kern.nr * sizeof(float);
  if (indirect && panel_bytes > kLargeBBytes) {
    const int parts = int((panel_bytes + block_bytes - 1) / block_bytes);
    k_block = std::min(k, ((k + parts - 1) / parts + 3) / 4 * 4);
  }
}

size_t Conv2dGemm::scratch_floats() const {
  if (direct) return 0;
  if (!indirect) return size_t(tile) * k;
  // A zero row (64-byte aligned), the tile's pointers, one per row and tap; with blocks of
  // k, room for a tile of one panel's residual.
  return residual_copy_offset() + (k_block < k ? size_t(tile) * b.nr : 0);
}

size_t Conv2dGemm::residual_copy_offset() const {
  constexpr size_t kFloatsPerPointer = (sizeof(const float*) + sizeof(float) - 1) / sizeof(float);
  const size_t end = zero_row_floats() + size_t(tile) * shape.window.kernel_h * shape.window.kernel_w * kFloatsPerPointer;
  return (end + 15) / 16 * 16;
}

size_t Conv2dGemm::zero_row_floats() const { return (size_t(shape.in_c) + 15) / 16 * 16; }

// Pointers for output pixels [p0, p0 + rows), tap-major per group of MR rows as the indirect
// kernel reads them; rows past the last and taps over the padding point at the zero row.
void Conv2dGemm::point_tile(const float* input, int p0, int rows, const float* zero, const float** ptrs) const {
  const Conv2dShape& s = shape;
  const WindowAttrs& w = s.window;
  const int mr = kernel->mr, taps = w.kernel_h * w.kernel_w, per_image = s.out_h * s.out_w;
  int n = p0 / per_image, oy = p0 % per_image / s.out_w, ox = p0 % s.out_w;
  const int groups = (rows + mr - 1) / mr;
  const int span_h = (w.kernel_h - 1) * w.dilation_h, span_w = (w.kernel_w - 1) * w.dilation_w;
  for (int r = 0; r < groups * mr; ++r) {
    const float** row = ptrs + size_t(r / mr) * taps * mr + r % mr;
    if (r >= rows) {
      for (int t = 0; t < taps; ++t) row[size_t(t) * mr] = zero;
      continue;
    }
    const float* image = input + size_t(n) * s.in_h * s.in_w * s.in_c;
    const int iy0 = oy * w.stride_h - w.pad_top, ix0 = ox * w.stride_w - w.pad_left;
    if (iy0 >= 0 && iy0 + span_h < s.in_h && ix0 >= 0 && ix0 + span_w < s.in_w) {  // the window inside
      const float* origin = image + (size_t(iy0) * s.in_w + ix0) * s.in_c;
      for (int t = 0; t < taps; ++t) row[size_t(t) * mr] = origin + tap_offsets[t];
      if (++ox == s.out_w) ox = 0, oy = oy + 1 == s.out_h ? (++n, 0) : oy + 1;
      continue;
    }
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      for (int kx = 0; kx < w.kernel_w; ++kx) {
        const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
        const bool inside = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w;
        row[size_t(ky * w.kernel_w + kx) * mr] = inside ? image + (size_t(iy) * s.in_w + ix) * s.in_c : zero;
      }
    }
    if (++ox == s.out_w) ox = 0, oy = oy + 1 == s.out_h ? (++n, 0) : oy + 1;
  }
}

void Conv2dGemm::run(const float* input, float* output, float* scratch, Activation act, int pixel_begin,
                     int pixel_end, const float* residual) const {
  const Conv2dShape& s = shape;
  auto residual_at = [&](int pixel) { return residual ? residual + size_t(pixel) * s.out_c : nullptr; };
  const size_t ldc = out_stride ? out_stride : size_t(s.out_c);
  if (direct) {
    gemm(*kernel, pixel_end - pixel_begin, input + size_t(pixel_begin) * s.in_c, s.in_c, b,
         output + size_t(pixel_begin) * ldc, ldc, residual_at(pixel_begin), s.out_c, epilogue_of(act));
    return;
  }
  if (indirect) {
    // Panel-outer over the tile's groups of MR rows; with a large k, each panel in blocks
    // of k_block k-steps (a slice that stays in L1 while every group uses it), the partial
    // sums kept in the output between blocks, the next slice prefetched into L2 a part per
    // group (the panels of a large k come from L3 or memory: 9.4 MB of weights per layer).
    float* zero = scratch;
    std::fill(zero, zero + s.in_c, 0.f);
    const float** ptrs = reinterpret_cast<const float**>(scratch + zero_row_floats());
    const int mr = kernel->mr, taps = s.window.kernel_h * s.window.kernel_w, nr = b.nr;
    const int kb = k_block;
    // A residual in the output buffer (an add computed in place of its shortcut) would be
    // overwritten by the partial sums: each tile's residual columns are copied aside first.
    const bool overlap = kb < k && residual && residual < output + size_t(pixel_end) * ldc &&
                         output + size_t(pixel_begin) * ldc < residual + size_t(pixel_end) * s.out_c;
    float* res_copy = scratch + residual_copy_offset();
    GemmIndirectTile t;
    t.taps = taps, t.cin = s.in_c, t.c_stride = ldc, t.ep = epilogue_of(act);
    for (int p0 = pixel_begin; p0 < pixel_end; p0 += tile) {
      const int rows = std::min(tile, pixel_end - p0);
      point_tile(input, p0, rows, zero, ptrs);
      for (int p = 0; p < b.panels(); ++p) {
        t.panel = b.panel(p);
        t.cols = std::min(nr, s.out_c - p * nr);
        const float* res = residual ? residual + size_t(p0) * s.out_c + size_t(p) * nr : nullptr;
        t.r_stride = s.out_c;
        if (overlap) {
          for (int r = 0; r < rows; ++r)
            std::memcpy(res_copy + size_t(r) * nr, res + size_t(r) * s.out_c, sizeof(float) * t.cols);
          res = res_copy, t.r_stride = nr;
        }
        for (int k0 = 0; k0 < k; k0 += kb) {
          t.k_begin = k0, t.k_end = std::min(k, k0 + kb);
          // The next slice: this panel's next block, or the next panel's first.
          const char* next = nullptr;
          size_t next_lines = 0;
          if (kb < k) {
            if (t.k_end < k) {
              next = reinterpret_cast<const char*>(t.panel + nr + size_t(t.k_end) * nr);
              next_lines = size_t(std::min(kb, k - t.k_end)) * nr * sizeof(float) / 64;
            } else if (p + 1 < b.panels()) {
              next = reinterpret_cast<const char*>(b.panel(p + 1));
              next_lines = size_t(kb + 1) * nr * sizeof(float) / 64;
            }
          }
          const size_t groups = size_t(rows + mr - 1) / mr, per_group = (next_lines + groups - 1) / groups;
          for (int r = 0; r < rows; r += mr) {
            const size_t g = size_t(r / mr);
            for (size_t l = g * per_group; l < (g + 1) * per_group && l < next_lines; ++l)
              __builtin_prefetch(next + l * 64, 0, 2);  // read, into L2
            t.rows = std::min(mr, rows - r);
            t.a = ptrs + size_t(r / mr) * taps * mr;
            t.c = output + size_t(p0 + r) * ldc + size_t(p) * nr;
            t.residual = res ? res + size_t(r) * t.r_stride : nullptr;
            kernel->indirect(t);
          }
        }
      }
    }
    return;
  }
  const WindowAttrs& w = s.window;
  const int per_image = s.out_h * s.out_w;
  for (int p0 = pixel_begin; p0 < pixel_end; p0 += tile) {
    const int rows = std::min(tile, pixel_end - p0);
    for (int r = 0; r < rows; ++r) {
      const int pixel = p0 + r, n = pixel / per_image, oy = (pixel % per_image) / s.out_w, ox = pixel % s.out_w;
      const float* image = input + size_t(n) * s.in_h * s.in_w * s.in_c;
      float* dst = scratch + size_t(r) * k;
      // Per kernel row, the taps that land inside the image are one contiguous run of
      // pixels when the dilation is 1: copy it at once, zero the rest.
      for (int ky = 0; ky < w.kernel_h; ++ky, dst += size_t(w.kernel_w) * s.in_c) {
        const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
        if (iy < 0 || iy >= s.in_h) {
          std::memset(dst, 0, sizeof(float) * w.kernel_w * s.in_c);
          continue;
        }
        const int ix0 = ox * w.stride_w - w.pad_left;
        int kx0 = 0, kx1 = w.kernel_w;
        while (kx0 < kx1 && ix0 + kx0 * w.dilation_w < 0) ++kx0;
        while (kx1 > kx0 && ix0 + (kx1 - 1) * w.dilation_w >= s.in_w) --kx1;
        std::memset(dst, 0, sizeof(float) * kx0 * s.in_c);
        std::memset(dst + size_t(kx1) * s.in_c, 0, sizeof(float) * (w.kernel_w - kx1) * s.in_c);
        const float* src_row = image + size_t(iy) * s.in_w * s.in_c;
        if (kx1 <= kx0) continue;
        if (w.dilation_w == 1) {
          std::memcpy(dst + size_t(kx0) * s.in_c, src_row + size_t(ix0 + kx0) * s.in_c,
                      sizeof(float) * (kx1 - kx0) * s.in_c);
        } else {
          for (int kx = kx0; kx < kx1; ++kx)
            std::memcpy(dst + size_t(kx) * s.in_c, src_row + size_t(ix0 + kx * w.dilation_w) * s.in_c,
                        sizeof(float) * s.in_c);
        }
      }
    }
    gemm(*kernel, rows, scratch, k, b, output + size_t(p0) * ldc, ldc, residual_at(p0), s.out_c, epilogue_of(act));
  }
}

}  // namespace attocore
