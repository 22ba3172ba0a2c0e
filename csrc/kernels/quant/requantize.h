// The one definition of int8 requantization that every int8 kernel's epilogue follows bit
// for bit (docs/QUANTIZATION.md): an int32 sum becomes
//   q = round_half_even(clamp(float(acc) * multiplier, lo - zp, hi - zp)) + zp
// in fp32, with no fused multiply-add (these sources build with -ffp-contract=off). Every
// instruction set does these steps exactly: int32 -> fp32 rounds to nearest even (cvtdq2ps,
// scvtf), one fp32 multiply, two compares, fp32 -> int32 to nearest even (cvtps2dq, fcvtns,
// or the magic-number add on ARMv7). Clamping before the conversion keeps every value inside
// [-255, 255], where all of those conversions are exact and none can overflow.
#pragma once
#include <cstdint>
#include <cstring>

namespace attocore {

// An int8 output's zero point and the range its activation leaves (none: [-128, 127];
// ReLU: [zp, 127]; ReLU6: [zp, min(127, zp + round(6 / scale))]), in quantized units.
struct QuantEpilogue {
  int32_t zero_point = 0;
  int32_t lo = -128, hi = 127;
};

// Round to nearest, ties to even, for |y| < 2^22, without depending on the rounding mode of
// a conversion instruction: adding 1.5 * 2^23 leaves the rounded integer in the low mantissa
// bits (the vector variants may use cvtps2dq / fcvtns instead: the same results).
inline int32_t round_half_even(float y) {
  const float shifted = y + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return bits - 0x4B400000;
}

// The clamp and rounding of an already scaled value (a global average pool's 64-bit sum,
// converted to float32 directly, goes through this).
inline int8_t requantize_scaled(float y, const QuantEpilogue& ep) {
  const float lo = float(ep.lo - ep.zero_point), hi = float(ep.hi - ep.zero_point);
  y = y > lo ? y : lo;
  y = y < hi ? y : hi;
  return int8_t(round_half_even(y) + ep.zero_point);
}

inline int8_t requantize(int32_t acc, float multiplier, const QuantEpilogue& ep) {
  float y = float(acc) * multiplier;
  const float lo = float(ep.lo - ep.zero_point), hi = float(ep.hi - ep.zero_point);
  y = y > lo ? y : lo;
  y = y < hi ? y : hi;
  return int8_t(round_half_even(y) + ep.zero_point);
}

}  // namespace attocore
