// The two AVX512-BF16 operations the bf16 GEMM kernels use (gemm/gemm_bf16_tile.h), in two
// implementations with the same interface:
//  Bf16Native    the instructions themselves (vcvtne2ps2bf16, vdpbf16ps): only in files
//                compiled with -mavx512bf16 (gemm_avx512bf16.cpp), run only where
//                cpu_features().avx512bf16;
//  Bf16Emulated  the same on AVX-512F alone (gemm_bf16emu_avx512.cpp): what lets the kernels'
//                code be tested on CPUs without the instructions. Not a user path (the
//                tester's list only): a bf16 load without AVX512-BF16 is refused.
// Both follow Intel's pseudocode (SDM, VCVTNE2PS2BF16 and VDPBF16PS):
//  pack: per float, round to nearest even to bf16; zero and subnormal inputs to a zero of
//        their sign; NaN quiet (bit 6 set); 32 floats (lo's 16, then hi's) to 32 bf16 in
//        order, so 32-bit word w holds elements 2w (low half) and 2w+1 (high half).
//  dot:  per 32-bit lane, acc += odd(a) * odd(b), then acc += even(a) * even(b), each one
//        fp32 rounding (a product of two bf16 is exact in fp32, so each step is an FMA).
// The one known difference: vdpbf16ps treats subnormal inputs and results as zero (DAZ, FTZ,
// whatever MXCSR says); the emulation's FMAs keep them. It shows only where a product or a
// partial sum falls below 2^-126.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace attocore {
namespace {

#ifdef __AVX512BF16__
struct Bf16Native {
  static constexpr const char* kName = "avx512bf16";
  static __m512i pack(__m512 lo, __m512 hi) { return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); }
  static __m512 dot(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
};
#endif

struct Bf16Emulated {
  static constexpr const char* kName = "emulated";
  // 16 floats to their bf16 bits in the low half of each 32-bit lane.
  static __m512i bf16_bits(__m512 x) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __m512i abs = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(abs, _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    const __mmask16 tiny = _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7f800000));  // exponent 0
    return _mm512_mask_and_epi32(r, tiny, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x8000));
  }
  static __m512i pack(__m512 lo, __m512 hi) {
    // vpmovdw (AVX-512F) keeps each lane's low 16 bits: 16 bf16 in order per half.
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(bf16_bits(lo))),
                              _mm512_cvtepi32_epi16(bf16_bits(hi)), 1);
  }
  static __m512 even(__m512i x) { return _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)); }
  static __m512 odd(__m512i x) { return _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(int(0xffff0000u)))); }
  static __m512 dot(__m512 acc, __m512i a, __m512i b) {
    acc = _mm512_fmadd_ps(odd(a), odd(b), acc);
    return _mm512_fmadd_ps(even(a), even(b), acc);
  }
};

}  // namespace
}  // namespace attocore
