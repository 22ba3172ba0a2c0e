// The portable int8 GEMM: the definition (qgemm.h) written out, one output at a time.
#include "kernels/qgemm/qgemm.h"

namespace attocore {

PackedQGemm qgemm_ref_pack(int n, int k, const int8_t* w_nk, const int32_t* bias, const float* multiplier,
                           int32_t a_zero_point) {
  PackedQGemm p;
  p.n = n, p.k = k, p.nr = 1, p.kpad = k;
  p.weights.assign(w_nk, w_nk + size_t(n) * k);
  p.bias.resize(n);
  p.multiplier.assign(multiplier, multiplier + n);
  for (int j = 0; j < n; ++j) {
    int32_t sum = 0;
    for (int i = 0; i < k; ++i) sum += w_nk[size_t(j) * k + i];
    p.bias[j] = (bias ? bias[j] : 0) - a_zero_point * sum;  // sum (a - zp) w = sum a w - zp sum w
  }
  return p;
}

void qgemm_ref(const QGemmArgs& a) {
  const PackedQGemm& w = *a.w;
  for (int m = 0; m < a.rows; ++m) {
    const int8_t* row = a.a + size_t(m) * a.lda;
    int8_t* out = a.c + size_t(m) * a.ldc;
    for (int j = 0; j < w.n; ++j) {
      const int8_t* wj = w.weights.data() + size_t(j) * w.k;
      int32_t acc = w.bias[j];
      for (int i = 0; i < w.k; ++i) acc += int32_t(row[i]) * int32_t(wj[i]);
      out[j] = requantize(acc, w.multiplier[j], a.ep);
    }
  }
}

}  // namespace attocore
