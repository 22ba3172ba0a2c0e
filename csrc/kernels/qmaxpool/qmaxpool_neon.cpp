// NEON int8 max pool (AArch64 and ARMv7): qmaxpool_rows.h's separable loop on 16-byte
// vectors (vmax.s8).
#include <arm_neon.h>

#include "kernels/qmaxpool/qmaxpool.h"
#include "kernels/qmaxpool/qmaxpool_rows.h"

namespace attocore {
namespace {

struct VecBytesNeon {
  static constexpr size_t kBytes = 16;
  static int8x16_t load(const int8_t* p) { return vld1q_s8(p); }
  static void store(int8_t* p, int8x16_t v) { vst1q_s8(p, v); }
  static int8x16_t max(int8x16_t a, int8x16_t b) { return vmaxq_s8(a, b); }
  static int8x16_t min(int8x16_t a, int8x16_t b) { return vminq_s8(a, b); }
  static int8x16_t splat(int8_t v) { return vdupq_n_s8(v); }
};

}  // namespace

void qmaxpool_neon(const QMaxPoolArgs& a) { qmaxpool_rows<VecBytesNeon>(a); }

}  // namespace attocore
