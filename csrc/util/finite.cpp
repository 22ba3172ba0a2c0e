#include "util/finite.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace attocore {

bool all_finite(const float* values, size_t n) {
  // Exponent bits all ones (NaN or infinity): adding one exponent step carries into bit 31.
  constexpr uint32_t kExponent = 0x7f800000u, kStep = 0x00800000u, kCarry = 0x80000000u;
  constexpr size_t kBlock = 4096;  // stop within a block of a bad value
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t end = std::min(n, i + kBlock);
    uint32_t bad = 0;
    for (size_t j = i; j < end; ++j) {
      uint32_t bits;
      std::memcpy(&bits, values + j, sizeof bits);
      bad |= (bits & kExponent) + kStep;
    }
    if (bad & kCarry) return false;
  }
  return true;
}

}  // namespace attocore
