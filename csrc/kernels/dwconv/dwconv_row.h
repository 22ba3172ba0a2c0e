// The walk along one output row of a 3x3, dilation 1, stride S (1 or 2) depthwise layer that
// the vector variants share: which groups of pixels run, where each reads and which of its
// columns are padding. Each variant supplies its group kernel, compiled in its own file
// with its own flags:
//
//   groups.template run<P, kSkipFirst, kSkipLast>(rows, ix0, dst, count)
//
// computes P output pixels of every chunk (the first `count` stored at dst, dst + out_c,
// ...), reading input columns ix0 .. ix0 + (P-1)S+2 of the three window rows (null: a
// padding row), of which the first kSkipFirst and the last kSkipLast are padding (never
// loaded) and the others exist.
//
// With padding 1, a row of 7k pixels (56, 28, 14, 7: every size a 224-pixel input leads
// to) goes in groups of 7 when the variant has registers for them (kWide > 4): the first
// skips the left padding column, the last the right one, no pixel is computed twice. Other
// rows: a first group of 4 skips the padding column, groups of kWide then 4 read only the
// image, and the last group of 4 ends on the row's last pixel (recomputing up to 3 pixels
// of the group before it), skipping a padding column if it reads one. Computed one pixel at
// a time instead, with a 9-FMA dependency chain each, the 4 edge pixels of a 28-wide row
// took about a third of its time; as 8s and 4s, 14- and 7-wide rows spent a third to a
// half of theirs on recomputed pixels. Rows these groups do not fit (other padding, rows of
// under 5 pixels) go through groups of 4 on a zero-padded copy of their columns
// (dwconv_edge.h).
#pragma once
#include <cstddef>
#include <type_traits>

#include "kernels/dwconv/dwconv.h"
#include "kernels/dwconv/dwconv_edge.h"

namespace attocore {

template <int S, int kWide, typename Groups>
void dwconv_row_3x3(const DwconvShape& s, const float* image, int oy, float* out_row, DwconvEdgeStage& stage,
                    const Groups& groups) {
  const WindowAttrs& w = s.window;
  const int iy0 = oy * S - w.pad_top;
  const float* rows[3];
  for (int ky = 0; ky < 3; ++ky)
    rows[ky] = iy0 + ky >= 0 && iy0 + ky < s.in_h ? image + size_t(iy0 + ky) * s.in_w * s.in_c : nullptr;
  auto at = [&](int ox) { return out_row + size_t(ox) * s.out_c; };
  auto ix_of = [&](int ox) { return ox * S - w.pad_left; };
  // Whether pixels [ox, ox + n) read only columns of the image.
  auto interior = [&](int ox, int n) { return ix_of(ox) >= 0 && ox + n <= s.out_w && ix_of(ox + n - 1) + 2 < s.in_w; };
  const int overshoot = ix_of(s.out_w - 1) + 2 - (s.in_w - 1);  // padding columns past the row's end
  if (kWide > 4 && w.pad_left == 1 && s.out_w % 7 == 0 && (overshoot == 0 || overshoot == 1)) {
    const int last = s.out_w - 7;
    if (last == 0) {
      if (overshoot == 0) groups.template run<7, 1, 0>(rows, -1, at(0), 7);
      else groups.template run<7, 1, 1>(rows, -1, at(0), 7);
      return;
    }
    groups.template run<7, 1, 0>(rows, -1, at(0), 7);
    for (int ox = 7; ox < last; ox += 7) groups.template run<7, 0, 0>(rows, ix_of(ox), at(ox), 7);
    if (overshoot == 0) groups.template run<7, 0, 0>(rows, ix_of(last), at(last), 7);
    else groups.template run<7, 0, 1>(rows, ix_of(last), at(last), 7);
    return;
  }
  int ox = 0;
  if (w.pad_left == 1 && s.out_w > 4 && ix_of(3) + 2 < s.in_w) {
    groups.template run<4, 1, 0>(rows, -1, at(0), 4);
    ox = 4;
  }
  if (kWide > 4)
    for (; interior(ox, kWide); ox += kWide) groups.template run<kWide, 0, 0>(rows, ix_of(ox), at(ox), kWide);
  for (; interior(ox, 4); ox += 4) groups.template run<4, 0, 0>(rows, ix_of(ox), at(ox), 4);
  if (ox == s.out_w) return;
  const int last = s.out_w - 4;
  if (ox > 0 && last >= 0 && ix_of(last) >= 0 && (overshoot == 0 || overshoot == 1)) {
    if (overshoot == 0) groups.template run<4, 0, 0>(rows, ix_of(last), at(last), 4);
    else groups.template run<4, 0, 1>(rows, ix_of(last), at(last), 4);
    return;
  }
  for (; ox < s.out_w; ox += 4) {
    stage_dwconv_edge(s, rows, ix_of(ox), 3 * S + 3, stage);
    groups.template run<4, 0, 0>(stage.rows, 0, at(ox), s.out_w - ox < 4 ? s.out_w - ox : 4);
  }
}

// Every output row [a.row_begin, a.row_end) of a depthwise layer as the vector variants run
// them: a 3x3, dilation 1, stride 1 or 2 window through dwconv_row_3x3 with the variant's
// group kernels (groups_for(std::integral_constant<int, S>{}) gives those for stride S), any
// other window through generic(image, oy, out_row), the variant's plain loop over one row.
template <int kWide, typename GroupsFor, typename Generic>
void dwconv_rows(const DwconvArgs& a, const GroupsFor& groups_for, const Generic& generic) {
  const DwconvShape& s = *a.shape;
  const WindowAttrs& w = s.window;
  const bool fast3x3 = w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1 &&
                       w.stride_h == w.stride_w && (w.stride_w == 1 || w.stride_w == 2);
  DwconvEdgeStage stage;
  stage.buf = a.scratch;
  for (int row = a.row_begin; row < a.row_end; ++row) {
    const int n = row / s.out_h, oy = row % s.out_h;
    const float* image = a.input + size_t(n) * s.in_h * s.in_w * s.in_c;
    float* out_row = a.output + size_t(row - a.output_row0) * s.out_w * s.out_c;
    if (!fast3x3) {
      generic(image, oy, out_row);
    } else if (w.stride_w == 1) {
      dwconv_row_3x3<1, kWide>(s, image, oy, out_row, stage, groups_for(std::integral_constant<int, 1>{}));
    } else {
      dwconv_row_3x3<2, kWide>(s, image, oy, out_row, stage, groups_for(std::integral_constant<int, 2>{}));
    }
  }
}

}  // namespace attocore
