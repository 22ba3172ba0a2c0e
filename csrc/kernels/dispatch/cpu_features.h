// What the CPU we run on can do, read once at run time (cpuid on x86; NEON is part of the
// aarch64 baseline and of our ARMv7 build flags).
#pragma once

namespace attocore {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;  // and the OS saves the zmm and mask registers
  bool neon = false;
};

const CpuFeatures& cpu_features();

}  // namespace attocore
