// Int8 GEMM on plain NEON (AArch64 and ARMv7; no dot-product instruction): for CPUs such as
// the Cortex-A53 and A72 (Raspberry Pi 3 and 4).
//
// Exactness: each vmull_s8 product a * w lies in [-16256, 16384] and fits an int16 lane;
// vpadalq_s16 then adds adjacent pairs of them straight into int32. The cheaper-looking
// vmull_s8 + vmlal_s8 (two products summed in int16 before the widening) overflows at
// (-128)(-128) + (-128)(-128) = 32768 and is exact only if no weight is -128, which nothing
// in this project checks. On the A72 it would save nothing: its optimization guide issues
// smull and smlal on pipe F0 and sadalp on F1, so both forms take 2 F0 cycles per 16
// products (llvm-mca, A57 model: this loop at 32 cycles per 256 products, smull-bound). On
// an in-order A53 it would issue 3 instructions per 16 products instead of these 4.
//
// Packing: columns in blocks of 4 (nr), k zero padded to a multiple of 16, stored per block
// as [16-byte k chunk][column][16 bytes]. The input zero point is folded into the bias
// (sum (a - zp) w = sum a w - zp sum w). Kernel: MR rows x 4 columns of int32x4
// accumulators, each lane a partial sum over k, reduced across lanes once at the end; MR is
// 4 on AArch64 (16 accumulators of its 32 registers) and 2 on ARMv7 (16 registers). The last
// k % 16 bytes of each row are copied once per row block into a zeroed buffer, so A is never
// read past a row's k bytes.
#include <arm_neon.h>

#include <cstring>

#include "kernels/qgemm/qgemm.h"
#include "kernels/quant/requantize_neon.h"
#include "kernels/simd/vec_neon.h"  // ATTOCORE_NO_PRESCHEDULE

namespace attocore {
namespace {

constexpr int kNr = 4;
#if defined(__aarch64__)
constexpr int kMr = 4;
#else
constexpr int kMr = 2;
#endif

// The products of the low and the high 8 bytes of a and w, in int16 (exact: see the top).
inline int16x8_t products_low(int8x16_t a, int8x16_t w) { return vmull_s8(vget_low_s8(a), vget_low_s8(w)); }
inline int16x8_t products_high(int8x16_t a, int8x16_t w) {
#if defined(__aarch64__)
  // smull2 reads the high halves in place: written as vget_high + vmull, GCC 12 copied each
  // half out (dup) first, and with the extra registers spilled accumulators in the loop.
  return vmull_high_s8(a, w);
#else
  return vmull_s8(vget_high_s8(a), vget_high_s8(w));  // d registers: the halves are free
#endif
}

// The lane sums of four accumulators, as one vector.
inline int32x4_t lane_sums(const int32x4_t (&v)[kNr]) {
#if defined(__aarch64__)
  return vpaddq_s32(vpaddq_s32(v[0], v[1]), vpaddq_s32(v[2], v[3]));
#else
  const auto halves = [](int32x4_t x) { return vadd_s32(vget_low_s32(x), vget_high_s32(x)); };
  return vcombine_s32(vpadd_s32(halves(v[0]), halves(v[1])), vpadd_s32(halves(v[2]), halves(v[3])));
#endif
}

// One 16-byte k chunk of MR rows (rows[r] + offset) against the block's 4 columns (wk).
// Per column every row's products first, then their accumulates: the order the caller keeps
// (no pre-RA scheduling), leaving each sadalp 2 x MR instructions behind its smull for
// in-order cores (Cortex-A53).
template <int MR>
__attribute__((always_inline)) inline void accumulate_chunk(int32x4_t (&acc)[MR][kNr], const int8_t* const (&rows)[MR],
                                                            size_t offset, const int8_t* wk) {
  int8x16_t av[MR];
  for (int r = 0; r < MR; ++r) av[r] = vld1q_s8(rows[r] + offset);
  for (int j = 0; j < kNr; ++j) {
    const int8x16_t wv = vld1q_s8(wk + 16 * j);
    int16x8_t lo[MR], hi[MR];
    for (int r = 0; r < MR; ++r) lo[r] = products_low(av[r], wv), hi[r] = products_high(av[r], wv);
    for (int r = 0; r < MR; ++r) acc[r][j] = vpadalq_s16(acc[r][j], lo[r]);
    for (int r = 0; r < MR; ++r) acc[r][j] = vpadalq_s16(acc[r][j], hi[r]);
  }
}

// MR rows of A (lda apart) against every column block, into MR rows of C. Without pre-RA
// scheduling (ATTOCORE_NO_PRESCHEDULE): with it GCC 12 hoisted the multiplies of a whole
// chunk ahead of their accumulates and spilled two accumulators per 16 k.
template <int MR>
ATTOCORE_NO_PRESCHEDULE void rows_block(const PackedQGemm& w, const int8_t* a, size_t lda, int8_t* c, size_t ldc,
                                        const NeonRequant& rq) {
  const int k = w.k, kmain = k / 16 * 16, ktail = k - kmain;
  int8_t tail[MR][16];  // the rows' last k % 16 bytes, zero padded
  const int8_t* rows[MR];
  const int8_t* tails[MR];
  for (int r = 0; r < MR; ++r) {
    rows[r] = a + r * lda, tails[r] = tail[r];
    if (ktail) {
      std::memset(tail[r], 0, 16);
      std::memcpy(tail[r], rows[r] + kmain, size_t(ktail));
    }
  }
  const size_t block_bytes = size_t(w.kpad) * kNr;
  for (int j0 = 0; j0 < w.n; j0 += kNr) {
    const int8_t* wp = w.weights.data() + size_t(j0 / kNr) * block_bytes;
    int32x4_t acc[MR][kNr];
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < kNr; ++j) acc[r][j] = vdupq_n_s32(0);
    for (int kk = 0; kk < kmain; kk += 16, wp += 16 * kNr) accumulate_chunk<MR>(acc, rows, size_t(kk), wp);
    if (ktail) accumulate_chunk<MR>(acc, tails, 0, wp);
    const int32x4_t bias = vld1q_s32(w.bias.data() + j0);
    const float32x4_t mult = vld1q_f32(w.multiplier.data() + j0);
    const int valid = w.n - j0;
    for (int r = 0; r < MR; ++r) {
      const int16x4_t q16 = vqmovn_s32(rq(vaddq_s32(lane_sums(acc[r]), bias), mult));
      const int8x8_t q = vqmovn_s16(vcombine_s16(q16, q16));
      int8_t* dst = c + r * ldc + j0;
      if (valid >= kNr) {
        const uint32_t bytes = vget_lane_u32(vreinterpret_u32_s8(q), 0);
        std::memcpy(dst, &bytes, 4);  // C rows have no alignment
      } else {
        store_s8_partial(dst, q, valid);
      }
    }
  }
}

}  // namespace

PackedQGemm qgemm_neon_pack(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                            int32_t a_zero_point) {
  PackedQGemm p;
  p.n = n, p.k = k, p.nr = kNr, p.kpad = (k + 15) / 16 * 16;
  const int blocks = (n + kNr - 1) / kNr;
  p.weights.assign(size_t(blocks) * kNr * p.kpad, 0);
  p.bias.assign(size_t(blocks) * kNr, 0);
  p.multiplier.assign(size_t(blocks) * kNr, 0.f);
  for (int j = 0; j < n; ++j) {
    int8_t* block = p.weights.data() + size_t(j / kNr) * kNr * p.kpad;
    int32_t sum = 0;
    for (int i = 0; i < k; ++i) {
      const int8_t v = w_nk[size_t(j) * k + i];
      block[(size_t(i / 16) * kNr + j % kNr) * 16 + i % 16] = v;
      sum += v;
    }
    p.bias[j] = (bias ? bias[j] : 0) - a_zero_point * sum;  // as qgemm_ref_pack
    p.multiplier[j] = multiplier[j];
  }
  return p;
}

void qgemm_neon(const QGemmArgs& a) {
  const NeonRequant rq(a.ep);
  int m = 0;
  for (; m + kMr <= a.rows; m += kMr) rows_block<kMr>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq);
  if (kMr > 2 && m + 2 <= a.rows) rows_block<2>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq), m += 2;
  if (m < a.rows) rows_block<1>(*a.w, a.a + m * a.lda, a.lda, a.c + m * a.ldc, a.ldc, rq);
}

}  // namespace attocore
