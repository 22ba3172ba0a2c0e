// The x86 int8 GEMM variants' weight packing, in a file of its own with no ISA flags: it is
// plain scalar code, and the container code it instantiates must not be emitted from an ISA
// object as weak symbols (tests/test_cpp.py::test_isa_objects_share_no_inline_code).
#include "kernels/qgemm/qgemm.h"

#include <cstring>
#include <utility>

namespace attocore {
namespace {

// Blocks of nr columns; per group of 4 k, nr x 4 bytes: column j's W[j][4q .. 4q+3] at 4j
// (the vpdpbusd "c4" layout), k and n zero-padded. The bias takes -(a_zp + flip) * sum_k W,
// flip = 128 where the kernel feeds A + 128 (xor 0x80) to an unsigned dot product.
PackedQGemm pack_c4(int nr, int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                    int32_t a_zero_point, int32_t flip) {
  PackedQGemm p;
  p.n = n, p.k = k, p.nr = nr, p.kpad = (k + 3) / 4 * 4;
  const int npad = (n + nr - 1) / nr * nr;
  p.weights.assign(size_t(npad) * p.kpad, 0);
  p.bias.assign(npad, 0);
  p.multiplier.assign(npad, 0.f);
  for (int j = 0; j < n; ++j) {
    int8_t* blk = p.weights.data() + size_t(j / nr) * nr * p.kpad;
    int32_t sum = 0;
    for (int i = 0; i < k; ++i) {
      const int8_t wv = w_nk[size_t(j) * k + i];
      blk[size_t(i / 4) * nr * 4 + (j % nr) * 4 + i % 4] = wv;
      sum += wv;
    }
    p.bias[j] = (bias ? bias[j] : 0) - (flip + a_zero_point) * sum;
    p.multiplier[j] = multiplier[j];
  }
  return p;
}

}  // namespace

PackedQGemm qgemm_avx512vnni_pack(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                                  int32_t a_zero_point) {
  return pack_c4(16, n, k, w_nk, bias, multiplier, a_zero_point, 128);
}

// The c4 layout of 8-column blocks widened to int16 (vpmaddwd's operands): per 4 k, columns
// 0-3 then 4-7, each column's 4 weights side by side. No +128: the AVX2 kernel keeps A signed.
PackedQGemm qgemm_avx2_pack(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                            int32_t a_zero_point) {
  PackedQGemm p = pack_c4(8, n, k, w_nk, bias, multiplier, a_zero_point, 0);
  AlignedVector<int8_t> wide(2 * p.weights.size());
  for (size_t i = 0; i < p.weights.size(); ++i) {
    const int16_t v = p.weights[i];
    std::memcpy(wide.data() + 2 * i, &v, 2);
  }
  p.weights = std::move(wide);
  return p;
}

PackedQGemm qgemm_avxvnni_pack(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                               int32_t a_zero_point) {
  return pack_c4(8, n, k, w_nk, bias, multiplier, a_zero_point, 128);
}

}  // namespace attocore
