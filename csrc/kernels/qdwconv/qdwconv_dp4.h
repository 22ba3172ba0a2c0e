// The layout of qdwconv_avx512vnni_dp4 (qdwconv_dp4_avx512vnni.cpp, packed in qdwconv_pack.cpp):
// a 3x3 window's 9 taps as 3 dwords of bytes per output channel, one per window column kx
// (rows 0-2 and a zero weight), multiplied by vpdpbusd against a staged dword of the input
// column's 3 rows made unsigned (x ^ 0x80). A chunk of 16 output channels reads n = 16 / k
// input channels (k: the multiplier, 1, 2, 4, 8 or 16); lane i holds output channel
// o0 + (i % n) k + i / n, whose input channel's dword is lane i % n of a broadcast of n
// dwords, and a pshufb puts the bytes back in output order.
// Other windows and multipliers: qdwconv_avx512vnni (the pack falls back to its layout).
// Internal linkage: each object gets its own copy (no weak symbols).
#pragma once
#include "kernels/qdwconv/qdwconv.h"

namespace attocore {
namespace {

inline bool qdwconv_dp4_applies(const DwconvShape& s) {
  const int k = s.multiplier;
  return s.window.kernel_h == 3 && s.window.kernel_w == 3 && (k == 1 || k == 2 || k == 4 || k == 8 || k == 16);
}

constexpr int kQDp4Rows = 4;  // output rows staged at a time (at most)

// The stage's dwords: the row's input columns, in_c each ((out_w - 1) stride_w + 2 dilation_w
// + 1 <= in_w + pad_left + pad_right), and 64 dwords of slack (the interleave's last store,
// a chunk's broadcast past the last column's channels), per staged row, a multiple of 16
// (each row on a cache line); qdwconv_scratch_bytes holds kQDp4Rows of them.
inline size_t qdwconv_dp4_stage_dwords(const DwconvShape& s) {
  const WindowAttrs& w = s.window;
  return (size_t(s.in_c) * size_t(s.in_w + w.pad_left + w.pad_right) + 64 + 15) & ~size_t(15);
}

}  // namespace
}  // namespace attocore
