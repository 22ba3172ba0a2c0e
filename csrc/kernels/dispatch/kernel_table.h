// The table of microkernels for one instruction set, and the choice among them at run
// time: the best the CPU supports, unless ATTOCORE_FORCE_REFERENCE=1 (or the session
// option) asks for the portable reference kernels, or ATTOCORE_ISA names one of those
// available (ref, avx2, avx512, neon: to compare or debug a path on a CPU that has better).
// ATTOCORE_LOG=dispatch prints each choice and its reason to stderr (why a set is taken or
// declined, which GEMM kernel a layer's width gets).
#pragma once
#include <string>
#include <vector>

#include "kernels/dwconv/dwconv.h"
#include "kernels/gemm/gemm.h"
#include "kernels/activation/activation.h"
#include "kernels/pool/maxpool.h"
#include "kernels/stem/stem.h"

namespace attocore {

enum class Isa { kReference, kAvx2, kAvx512, kNeon };

const char* isa_name(Isa isa);

// Built from the kernel lists (gemm/gemm_<isa>.inc, dwconv/dwconv_kernels.inc,
// stem/stem_kernels.inc, pool/maxpool_kernels.inc, activation/activation_kernels.inc) in
// kernel_table.cpp.
struct KernelTable {
  Isa isa;
  const GemmKernel* gemm_nr8;   // for outputs of at most 8 channels
  const GemmKernel* gemm_wide;  // the widest tile
  DwconvKernel dwconv;
  StemKernel stem;  // first convolution straight from NCHW
  MaxPoolKernel maxpool;
  ActivationKernel activation;  // an activation op of its own (the smooth ones)

  // The GEMM kernel to use for n output columns.
  const GemmKernel& gemm_for(int n) const;
};

// Every kernel the lists hold for one table's instruction set, the table's own among them:
// what the testers run (each list entry in list order).
struct KernelList {
  std::vector<const GemmKernel*> gemm;
  std::vector<const DwconvKernel*> dwconv;
  std::vector<const StemKernel*> stem;
  std::vector<const MaxPoolKernel*> maxpool;
  std::vector<const ActivationKernel*> activation;
};

// Whether an instruction set's table runs here, and why or why not ("cpu has avx2 and fma",
// "not compiled (ATTOCORE_ENABLE_NEON=OFF)", ...).
struct IsaSupport {
  Isa isa;
  bool available;
  std::string reason;
};
std::vector<IsaSupport> isa_support();  // every set, reference first

// Instruction sets compiled into this build and supported by this CPU (reference first).
std::vector<Isa> available_isas();
// Also honours ATTOCORE_FORCE_REFERENCE and ATTOCORE_ISA (an unavailable name fails).
Isa best_isa(bool force_reference = false);
const KernelTable& kernel_table(Isa isa);
const KernelList& kernel_list(Isa isa);  // fails like kernel_table for a set not in this build

// Precision "fp16" (CompileOptions::precision): the NEON table with the fp16 GEMM kernels
// (gemm/gemm_neonfp16.inc) and the fp16 depthwise kernel (dwconv_neonfp16) in place of its fp32
// ones; the stem, pooling and activations stay fp32 (DESIGN.md, "fp16 precision"). Only on an
// aarch64 build with ATTOCORE_ENABLE_NEON on a CPU with FEAT_FP16 (cpu_features().fp16); never
// chosen by best_isa() (it changes the numerics).
struct Fp16Support {
  bool available;
  std::string reason;  // why not: names the missing feature and the alternative
};
Fp16Support fp16_support();
// Fails with ErrorCode::kConfig and fp16_support().reason when it is not available.
const KernelTable& fp16_kernel_table();
const KernelList& fp16_kernel_list();  // the fp16 kernels alone (GEMM and depthwise: what the fp16 testers run)

// Precision "bf16" (CompileOptions::precision): the AVX-512 table with the bf16 GEMM kernels
// (gemm/gemm_avx512bf16.inc: bf16 weights, vdpbf16ps, fp32 accumulation) in place of its fp32
// ones; every other kernel, depthwise included, stays fp32 (DESIGN.md, "bf16 precision").
// Only on an x86 build with ATTOCORE_ENABLE_AVX512 (and a compiler that knows -mavx512bf16)
// on a CPU with AVX512-BF16 (cpu_features().avx512bf16); never chosen by best_isa().
struct Bf16Support {
  bool available;
  std::string reason;  // why not: names the missing feature and the alternative
};
Bf16Support bf16_support();
// Fails with ErrorCode::kConfig and bf16_support().reason when it is not available. Where the
// CPU has AMX-BF16 (amx_bf16_support()) and allow_amx, the table's kernels are the AMX ones
// (gemm/gemm_amxbf16.inc: 16x32, and 16x16 for at most 16 outputs); else all AVX512-BF16.
const KernelTable& bf16_kernel_table(bool allow_amx = true);
const KernelList& bf16_kernel_list();  // the AVX512-BF16 kernels alone (GEMM only: what the bf16 tester runs)
// AMX-BF16: available, or why not (no AMX, the OS, a build without -mamx-bf16).
Bf16Support amx_bf16_support();
const KernelList& amx_bf16_kernel_list();  // the AMX kernels alone (empty without them)
// The same kernels on the AVX-512F emulation of the two bf16 instructions
// (gemm/gemm_bf16emu_avx512.inc): for the tester only, which runs them wherever the avx512
// table is available (empty in a build without it). No precision or option selects them.
const KernelList& bf16_emulated_kernel_list();
// The bf16 table on those emulated kernels, for tests only (CompileOptions::
// bf16_emulated_for_tests): ErrorCode::kConfig where the avx512 table is not available.
const KernelTable& bf16_emulated_kernel_table();

}  // namespace attocore
