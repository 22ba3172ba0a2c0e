// AVX-512F depthwise convolution (dwconv_kernels.inc): dwconv_chunks.h's kernel, the AVX2
// kernel's walk, on chunks of 16 output channels. A chunk with a multiplier k >= 2 reads at
// most 16 / k + 1 consecutive input channels: one 16-float load (inside the input slack,
// dwconv.h) and one vpermps spread them over the lanes. On this core vpermps issues on one of
// the two ports the 512-bit FMAs use, one per input vector against the 1-3 FMAs that vector
// feeds: still twice the AVX2 kernel's lanes per FMA. A partial last chunk is stored through a
// mask.
#include <immintrin.h>

#include "kernels/dwconv/dwconv_chunks.h"
#include "kernels/simd/vec_avx512.h"

namespace attocore {
namespace {

struct Avx512Chunks {
  using Vec = VecAvx512;
  struct Chunk {
    int in_c0;          // first input channel read
    __m512i perm;       // lane i takes input channel in_c0 + perm[i]
    __mmask16 outputs;  // lanes that are output channels
    bool full() const { return outputs == 0xFFFF; }
  };

  static Chunk at(const PackedDwconv& p, const DwconvShape& s, int c) {
    Chunk ch;
    ch.in_c0 = p.first_input[c];
    ch.perm = _mm512_loadu_si512(p.lane_input.data() + size_t(c) * 16);
    ch.outputs = VecAvx512::first(s.out_c - c * 16);
    return ch;
  }

  template <bool kMultiplier>
  static __m512 load_inputs(const float* src, const Chunk& ch) {
    const __m512 x = _mm512_loadu_ps(src);
    return kMultiplier ? _mm512_permutexvar_ps(ch.perm, x) : x;
  }

  template <bool kFull>
  static void store(float* dst, __m512 y, const Chunk& ch) {
    if (kFull) {
      _mm512_storeu_ps(dst, y);
    } else {
      _mm512_mask_storeu_ps(dst, ch.outputs, y);
    }
  }
};

}  // namespace

void dwconv_avx512(const DwconvArgs& a) { dwconv_chunks<Avx512Chunks>(a); }

}  // namespace attocore
