// Int8 GEMM with the AArch64 dot-product instruction (sdot, ARMv8.2 +dotprod; built with
// -march=armv8.2-a+dotprod, run only where cpu_features() reports asimddp). sdot adds four
// int8 x int8 products into each int32 lane exactly, so no intermediate can saturate.
//
// Packing: columns in blocks of 8 (nr), k in groups of 4 (one sdot lane), stored per block
// as [group][column][4 bytes], k zero padded to a multiple of 4: one group of a block is two
// 16-byte vectors (columns 0-3, 4-7). The input zero point is folded into the bias:
//   sum_k (a - zp) w = sum_k a w - zp sum_k w,
// so the kernel multiplies the raw int8 rows.
//
// Kernel: up to 8 rows x 8 columns of int32 accumulators (16 registers), per 16 bytes of k
// one load of each row's A and per group two weight loads feeding 2 x rows sdot by lane
// (vdotq_laneq_s32: the row's group `lane` against four columns). The last k % 16 bytes of
// each row are copied once per row block into a zeroed 16-byte buffer, so A is never read
// past a row's k bytes; a partial last column block is stored lane by lane.
#include <arm_neon.h>

#include <cstring>

#include "kernels/qgemm/qgemm.h"
#include "kernels/quant/requantize_neon.h"

namespace attocore {
namespace {

constexpr int kNr = 8;

// One group (4 k) of the kernel: every row's group G of its A vector against 8 columns.
template <int MR, int G>
inline void dot_group(int32x4_t (&acc)[MR][2], const int8x16_t (&a)[MR], const int8_t* wp) {
  const int8x16_t w0 = vld1q_s8(wp + 32 * G), w1 = vld1q_s8(wp + 32 * G + 16);
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, a[r], G);
    acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, a[r], G);
  }
}

// MR rows of A (lda apart) against every column block, into MR rows of C.
template <int MR>
void rows_block(const PackedQGemm& w, const int8_t* a, size_t lda, int8_t* c, size_t ldc, const NeonRequant& rq) {
  const int k = w.k, kmain = k / 16 * 16, ktail = k - kmain, tail_groups = (ktail + 3) / 4;
  // The rows' last k % 16 bytes, zero padded (the packed weights past k are zero too).
  int8_t tail[MR][16];
  if (ktail)
    for (int r = 0; r < MR; ++r) {
      std::memset(tail[r], 0, 16);
      std::memcpy(tail[r], a + r * lda + kmain, size_t(ktail));
    }
  const size_t block_bytes = size_t(w.kpad) * kNr;
  for (int j0 = 0; j0 < w.n; j0 += kNr) {
    const int8_t* wp = w.weights.data() + size_t(j0 / kNr) * block_bytes;
    int32x4_t acc[MR][2];
    const int32x4_t b0 = vld1q_s32(w.bias.data() + j0), b1 = vld1q_s32(w.bias.data() + j0 + 4);
    for (int r = 0; r < MR; ++r) acc[r][0] = b0, acc[r][1] = b1;
    for (int kk = 0; kk < kmain; kk += 16, wp += 4 * 32) {
      int8x16_t av[MR];
      for (int r = 0; r < MR; ++r) av[r] = vld1q_s8(a + r * lda + kk);
      dot_group<MR, 0>(acc, av, wp);
      dot_group<MR, 1>(acc, av, wp);
      dot_group<MR, 2>(acc, av, wp);
      dot_group<MR, 3>(acc, av, wp);
    }
    if (ktail) {  // only the groups the packing stored (kpad = k rounded up to 4)
      int8x16_t av[MR];
      for (int r = 0; r < MR; ++r) av[r] = vld1q_s8(tail[r]);
      dot_group<MR, 0>(acc, av, wp);
      if (tail_groups > 1) dot_group<MR, 1>(acc, av, wp);
      if (tail_groups > 2) dot_group<MR, 2>(acc, av, wp);
      if (tail_groups > 3) dot_group<MR, 3>(acc, av, wp);
    }
    const float32x4_t m0 = vld1q_f32(w.multiplier.data() + j0), m1 = vld1q_f32(w.multiplier.data() + j0 + 4);
    const int valid = w.n - j0;
    for (int r = 0; r < MR; ++r) {
      const int8x8_t q = narrow_s32_s8(rq(acc[r][0], m0), rq(acc[r][1], m1));
      if (valid >= kNr)
        vst1_s8(c + r * ldc + j0, q);
      else
        store_s8_partial(c + r * ldc + j0, q, valid);
    }
  }
}

}  // namespace

PackedQGemm qgemm_neondot_pack(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                               int32_t a_zero_point) {
  PackedQGemm p;
  p.n = n, p.k = k, p.nr = kNr, p.kpad = (k + 3) / 4 * 4;
  const int blocks = (n + kNr - 1) / kNr;
  p.weights.assign(size_t(blocks) * kNr * p.kpad, 0);
  p.bias.assign(size_t(blocks) * kNr, 0);
  p.multiplier.assign(size_t(blocks) * kNr, 0.f);
  for (int j = 0; j < n; ++j) {
    int8_t* block = p.weights.data() + size_t(j / kNr) * kNr * p.kpad;
    int32_t sum = 0;
    for (int i = 0; i < k; ++i) {
      const int8_t v = w_nk[size_t(j) * k + i];
      block[(size_t(i / 4) * kNr + j % kNr) * 4 + i % 4] = v;
      sum += v;
    }
    p.bias[j] = (bias ? bias[j] : 0) - a_zero_point * sum;  // as qgemm_ref_pack
    p.multiplier[j] = multiplier[j];
  }
  return p;
}

void qgemm_neondot(const QGemmArgs& a) {
  const NeonRequant rq(a.ep);
  int m = 0;
  for (; m + 8 <= a.rows; m += 8) rows_block<8>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq);
  if (m + 4 <= a.rows) rows_block<4>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq), m += 4;
  if (m + 2 <= a.rows) rows_block<2>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq), m += 2;
  if (m < a.rows) rows_block<1>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq);
}

}  // namespace attocore
