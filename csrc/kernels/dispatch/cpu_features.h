// What the CPU we run on can do, read once at run time (cpuid on x86; NEON is part of the
// aarch64 baseline and of our ARMv7 build flags).
#pragma once

namespace attocore {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;  // and the OS saves the zmm and mask registers
  bool neon = false;
  // The int8 dot-product instructions (kernels/qgemm, kernels/qdwconv): AVX512-VNNI's
  // vpdpbusd on zmm (with avx512bw for the byte shuffles), AVX-VNNI's on ymm (Alder Lake,
  // Zen 5), ARMv8.2's sdot (HWCAP_ASIMDDP: Cortex-A55/A76, the Raspberry Pi 5).
  bool avx512bw = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  bool dotprod = false;
  // ARMv8.2 half-precision arithmetic on vectors (FEAT_FP16, Linux HWCAP_ASIMDHP: Cortex-A55,
  // A75, A76 and later, the Raspberry Pi 5; not the A53 or A72 of the Pi 3 and 4): the fp16
  // kernels of precision "fp16".
  bool fp16 = false;
  // AVX512-BF16 (vcvtne2ps2bf16, vdpbf16ps: Cooper Lake, Sapphire Rapids and later Xeons,
  // AMD Zen 4 and later), with avx512bw and the zmm state the OS saves: the bf16 kernels of
  // precision "bf16".
  bool avx512bf16 = false;
  // AMX-BF16 with AMX-TILE (tdpbf16ps on tile registers: Sapphire Rapids and later Xeons) and
  // the OS saving the tile state (XCR0 bits 17-18): the first choice of precision "bf16", once
  // request_amx_tile_state() has the process's permission. amx_why_not says which check failed
  // (empty when amx_bf16).
  bool amx_bf16 = false;
  const char* amx_why_not = "not an x86 CPU";
};

const CpuFeatures& cpu_features();

// Linux's per-process permission for the AMX tile state (arch_prctl(ARCH_REQ_XCOMP_PERM)),
// without which the first tile instruction faults. Asked once, on the first call, and only by
// precision "bf16": the grant enlarges every signal frame of the process, which a program with
// a small sigaltstack of its own would not expect from loading an fp32 model. False, with the
// reason in *why_not, when refused or when the CPU or OS lacks AMX.
bool request_amx_tile_state(const char** why_not);

}  // namespace attocore
