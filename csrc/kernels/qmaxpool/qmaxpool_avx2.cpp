// AVX2 int8 max pool: qmaxpool_rows.h's separable loop on 32-byte vectors (vpmaxsb).
#include <immintrin.h>

#include "kernels/qmaxpool/qmaxpool.h"
#include "kernels/qmaxpool/qmaxpool_rows.h"

namespace attocore {
namespace {

struct VecBytesAvx2 {
  static constexpr size_t kBytes = 32;
  static __m256i load(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(int8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static __m256i max(__m256i a, __m256i b) { return _mm256_max_epi8(a, b); }
  static __m256i min(__m256i a, __m256i b) { return _mm256_min_epi8(a, b); }
  static __m256i splat(int8_t v) { return _mm256_set1_epi8(v); }
};

}  // namespace

void qmaxpool_avx2(const QMaxPoolArgs& a) { qmaxpool_rows<VecBytesAvx2>(a); }

}  // namespace attocore
