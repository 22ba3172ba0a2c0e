// Int8 GEMM: a 1x1 convolution over NHWC pixels, a dense convolution after im2col, or a
// fully connected layer. For rows m and output channels n:
//   acc[m][n] = bias[n] + sum_k (A[m][k] - a_zp) * W[n][k]          (exact, in int32)
//   C[m][n]   = requantize(acc[m][n], multiplier[n], ep)           (quant/requantize.h)
// A and C are int8 rows (lda, ldc bytes apart); W is int8 [n][k] (per output channel
// symmetric: no weight zero point), bias int32. Every variant gives the reference's bits.
// Each variant packs the weights its own way at load time (its pack function), folding what
// it can into the bias: the input zero point (-a_zp * sum_k W[n][k]) and, for the unsigned x
// signed dot products (vpdpbusd), the +128 that makes A unsigned.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/quant/requantize.h"
#include "util/aligned_vector.h"

namespace attocore {

// The largest reduction an int8 layer may have: |A - a_zp| <= 255 and |W| <= 127, so a sum
// of this many products and a bias of at most kMaxInt8Bias stays inside int32 (the loader
// refuses more: format/validate.cpp).
constexpr int64_t kMaxInt8Reduction = 32768;
constexpr int64_t kMaxInt8Bias = int64_t(1) << 30;

struct PackedQGemm {
  int n = 0, k = 0;
  int nr = 0;     // the variant's column block (output channels per tile); n padded to it
  int kpad = 0;   // k as the variant stores it (rounded up to its dot-product depth)
  AlignedVector<int8_t> weights;   // the variant's layout
  AlignedVector<int32_t> bias;     // n rounded up to nr, zero points folded in
  AlignedVector<float> multiplier; // n rounded up to nr (padding: 0)
};

using QGemmPackFunction = PackedQGemm(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                                      int32_t a_zero_point);

struct QGemmArgs {
  const PackedQGemm* w = nullptr;
  const int8_t* a = nullptr;  // rows x k, lda bytes apart; no variant reads past a row's k bytes
  size_t lda = 0;
  int8_t* c = nullptr;        // rows x n, ldc bytes apart; written exactly there
  size_t ldc = 0;
  int rows = 0;
  QuantEpilogue ep;
};

using QGemmFunction = void(const QGemmArgs&);

// What a variant needs of the CPU beyond its table's instruction set.
enum class CpuNeed : uint8_t { kNone, kAvx512Vnni, kAvxVnni, kDotProd };

// A listed variant of an int8 family without a packing step (qadd, qmaxpool, quantize): its
// function, its display name (the symbol), what it needs of the CPU.
template <typename Function>
struct QKernelOf {
  Function* fn = nullptr;
  const char* name = "";
  CpuNeed need = CpuNeed::kNone;
};

struct QGemmKernel {
  QGemmPackFunction* pack = nullptr;
  QGemmFunction* fn = nullptr;
  const char* name = "";
  CpuNeed need = CpuNeed::kNone;
};

// Every variant, from their list (qgemm_kernels.inc).
#define QGEMM_KERNEL(table, fn, pack, need) QGemmFunction fn; QGemmPackFunction pack;
#include "kernels/qgemm/qgemm_kernels.inc"
#undef QGEMM_KERNEL

}  // namespace attocore
