// AVX2 depthwise convolution (dwconv_kernels.inc): dwconv_chunks.h's kernel on chunks of 8
// output channels.
#include <immintrin.h>

#include "kernels/dwconv/dwconv_chunks.h"
#include "kernels/simd/vec_avx2.h"

namespace attocore {
namespace {

struct Avx2Chunks {
  using Vec = VecAvx2;
  // Where one chunk of 8 output channels reads its inputs.
  struct Chunk {
    int in_c0;          // first input channel read
    __m256i perm;       // lane i takes input channel in_c0 + perm[i] (0..3)
    int valid_outputs;  // output channels of the chunk that exist (at most 8)
    bool full() const { return valid_outputs == 8; }
  };

  static Chunk at(const PackedDwconv& p, const DwconvShape& s, int c) {
    Chunk ch;
    ch.in_c0 = p.first_input[c];
    ch.perm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.lane_input.data() + size_t(c) * 8));
    ch.valid_outputs = s.out_c - c * 8 < 8 ? s.out_c - c * 8 : 8;
    return ch;
  }

  // Without a multiplier: 8 channels. With a multiplier k >= 2 the chunk's 8 outputs read at
  // most 4 consecutive input channels: one 128-bit load broadcast to both halves, then an
  // in-lane permute (vpermilps, two per cycle) spreads them; a cross-lane vpermps here cost
  // 1.5x the time. Channels past a chunk's needs (the next pixel's, or the arena's slack past
  // the last tensor: see the executor) are loaded and never used by a valid lane.
  template <bool kMultiplier>
  static __m256 load_inputs(const float* src, const Chunk& ch) {
    if (!kMultiplier) return _mm256_loadu_ps(src);
    return _mm256_permutevar_ps(_mm256_broadcast_ps(reinterpret_cast<const __m128*>(src)), ch.perm);
  }

  template <bool kFull>
  static void store(float* dst, __m256 y, const Chunk& ch) {
    if (kFull) {
      _mm256_storeu_ps(dst, y);
    } else {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, y);
      for (int i = 0; i < ch.valid_outputs; ++i) dst[i] = tmp[i];
    }
  }
};

}  // namespace

void dwconv_avx2(const DwconvArgs& a) { dwconv_chunks<Avx2Chunks>(a); }

}  // namespace attocore
