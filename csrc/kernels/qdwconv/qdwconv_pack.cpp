// The x86 int8 depthwise variants' weight packing (plain code, in no ISA object: see
// qgemm_pack.cpp). Chunks of cw output channels, as int32 lanes:
//   weights: per chunk, per tap, cw int32 holding uint16(w): the weight in each lane's low
//            int16 and zero in the high one, so vpmaddwd / vpdpwssd against an input
//            sign-extended to int32 gives x * w + (sign bits) * 0, exactly x * w;
//   bias:    bias[o] - x_zp * sum_t w[o][t] (every tap then reads x, padding reads x_zp);
//   aux:     per chunk 5 int32: the chunk's first input channel c0, then the 16 bytes of the
//            pshufb map taking input bytes c0 .. to lanes (lane i: (o0 + i) / k - c0).
#include <cmath>
#include <cstring>

#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qdwconv/qdwconv_dp4.h"

namespace attocore {
namespace {

PackedQDwconv pack_lanes(int cw, const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                         const float* multiplier, int32_t x_zero_point) {
  PackedQDwconv p;
  p.cw = cw;
  p.taps = s.window.kernel_h * s.window.kernel_w;
  p.chunks = (s.out_c + cw - 1) / cw;
  p.x_zero_point = x_zero_point;
  const size_t lanes = size_t(p.chunks) * cw;
  p.weights.assign(lanes * p.taps * 4, 0);
  p.bias.assign(lanes, 0);
  p.multiplier.assign(lanes, 0.f);
  p.aux.assign(size_t(p.chunks) * 5, 0);
  for (int ch = 0; ch < p.chunks; ++ch) {
    const int o0 = ch * cw, c0 = o0 / s.multiplier;
    uint8_t map[16] = {};
    for (int i = 0; i < cw; ++i) {
      const int o = o0 + i;
      if (o >= s.out_c) break;
      map[i] = uint8_t(o / s.multiplier - c0);
      int32_t sum = 0;
      for (int t = 0; t < p.taps; ++t) {
        const int8_t w = w_oihw[size_t(o) * p.taps + t];
        const int32_t lane = int32_t(uint16_t(int16_t(w)));
        std::memcpy(p.weights.data() + ((size_t(ch) * p.taps + t) * cw + i) * 4, &lane, 4);
        sum += w;
      }
      p.bias[o] = (bias ? bias[o] : 0) - x_zero_point * sum;
      p.multiplier[o] = multiplier[o];
    }
    p.aux[size_t(ch) * 5] = c0;
    std::memcpy(&p.aux[size_t(ch) * 5 + 1], map, 16);
  }
  return p;
}

}  // namespace

PackedQDwconv qdwconv_avx512vnni_pack(const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                                      const float* multiplier, int32_t x_zero_point) {
  return pack_lanes(16, s, w_oihw, bias, multiplier, x_zero_point);
}

PackedQDwconv qdwconv_avx2_pack(const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                                const float* multiplier, int32_t x_zero_point) {
  return pack_lanes(8, s, w_oihw, bias, multiplier, x_zero_point);
}

// qdwconv_dp4.h's layout: per chunk, 3 x 16 int32 of weight bytes (column kx: rows 0-2 and a
// zero, lane order as there), bias[o] - (128 + x_zp) * sum of all 9 weights (every tap reads x + 128,
// padding reads x_zp + 128), the multiplier in lane order (0 past out_c); aux as above with
// the pshufb map taking lanes back to output order, and after the chunks' 5 int32 one flag:
// |acc * multiplier| < 2^30 for every possible sum (the kernel may then clamp as bytes).
PackedQDwconv qdwconv_avx512vnni_dp4_pack(const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                                          const float* multiplier, int32_t x_zero_point) {
  if (!qdwconv_dp4_applies(s)) return qdwconv_avx512vnni_pack(s, w_oihw, bias, multiplier, x_zero_point);
  constexpr int cw = 16;
  PackedQDwconv p;
  p.cw = cw;
  p.taps = 9;
  p.chunks = (s.out_c + cw - 1) / cw;
  p.x_zero_point = x_zero_point;
  const int k = s.multiplier, n = cw / k;
  const size_t lanes = size_t(p.chunks) * cw;
  p.weights.assign(lanes * 3 * 4, 0);
  p.bias.assign(lanes, 0);
  p.multiplier.assign(lanes, 0.f);
  p.aux.assign(size_t(p.chunks) * 5 + 1, 0);
  bool int_clamp = true;
  for (int ch = 0; ch < p.chunks; ++ch) {
    const int o0 = ch * cw;
    uint8_t map[16] = {};
    for (int i = 0; i < cw; ++i) {
      const int o = o0 + (i % n) * k + i / n;
      map[(i % n) * k + i / n] = uint8_t(i);
      if (o >= s.out_c) continue;
      int32_t sum = 0;
      for (int t = 0; t < 9; ++t) {
        const int8_t w = w_oihw[size_t(o) * 9 + t];
        p.weights[((size_t(ch) * 3 + t % 3) * cw + i) * 4 + t / 3] = w;
        sum += w;
      }
      p.bias[size_t(o0) + i] = (bias ? bias[o] : 0) - (128 + x_zero_point) * sum;
      p.multiplier[size_t(o0) + i] = multiplier[o];
      // Every sum is bias' + 9 taps of (x + 128) w: |acc| <= |bias'| + 9 * 255 * 128.
      const double most = (std::fabs(double(p.bias[size_t(o0) + i])) + 9.0 * 255 * 128) * std::fabs(double(multiplier[o]));
      if (!(most < 1073741824.0)) int_clamp = false;
    }
    p.aux[size_t(ch) * 5] = o0 / k;
    std::memcpy(&p.aux[size_t(ch) * 5 + 1], map, 16);
  }
  p.aux[size_t(p.chunks) * 5] = int_clamp;
  return p;
}

}  // namespace attocore
