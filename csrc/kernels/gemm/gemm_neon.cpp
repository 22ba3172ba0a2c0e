// NEON GEMM microkernels (aarch64, and ARMv7 with neon-vfpv4 for vfmaq_f32).
// 6x8 keeps 12 accumulators (fits ARMv7's 16 q registers); 4x16 uses 16.
#include <arm_neon.h>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_neon.h"

namespace attocore {
namespace {

template <int MR, int NV>
void gemm_neon(const GemmTile& t) {
  constexpr int NR = NV * 4;
  float32x4_t acc[MR][NV];
  const float* w = t.panel;
  _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
    const float32x4_t b = vld1q_f32(w + 4 * v);
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) acc[r][v] = b;
  }
  w += NR;
  const float* a[MR];
  for (int r = 0; r < MR; ++r) a[r] = t.a + size_t(r < t.rows ? r : t.rows - 1) * t.a_stride;
  const int k = t.k;  // a local bound and an unrolled loop: fewer loop-control instructions per FMA
  _Pragma("GCC unroll 4") for (int ki = 0; ki < k; ++ki) {
    float32x4_t b[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) b[v] = vld1q_f32(w + 4 * v);
    w += NR;
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
      const float32x4_t x = vdupq_n_f32(a[r][ki]);
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[r][v] = vfmaq_f32(acc[r][v], x, b[v]);
    }
  }
  const float32x4_t zero = vdupq_n_f32(0.f), six = vdupq_n_f32(6.f);
  auto finish = [&](float32x4_t y, const float* res) {
    if (res) y = vaddq_f32(y, vld1q_f32(res));
    if (t.act != Activation::kNone) y = vmaxq_f32(y, zero);
    if (t.act == Activation::kRelu6) y = vminq_f32(y, six);
    return y;
  };
  // Constant acc indices after unrolling keep the accumulators in registers.
  _Pragma("GCC unroll 16") for (int r = 0; r < MR; ++r) {
    if (r < t.rows) {
      float* c = t.c + size_t(r) * t.c_stride;
      const float* res = t.residual ? t.residual + size_t(r) * t.r_stride : nullptr;
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        const int left = t.cols - 4 * v;
        if (left >= 4) {
          vst1q_f32(c + 4 * v, finish(acc[r][v], res ? res + 4 * v : nullptr));
        } else if (left > 0) {
          float lanes[4];
          vst1q_f32(lanes, acc[r][v]);
          for (int j = 0; j < left; ++j) {
            float y = lanes[j] + (res ? res[4 * v + j] : 0.f);
            if (t.act != Activation::kNone) y = y > 0.f ? y : 0.f;
            if (t.act == Activation::kRelu6) y = y < 6.f ? y : 6.f;
            c[4 * v + j] = y;
          }
        }
      }
    }
  }
}

}  // namespace

void gemm_6x8_neon(const GemmTile& t) { gemm_neon<6, 2>(t); }
void gemm_4x16_neon(const GemmTile& t) { gemm_neon<4, 4>(t); }

}  // namespace attocore
