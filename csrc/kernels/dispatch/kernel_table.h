// The table of microkernels for one instruction set, and the choice among them at run
// time: the best the CPU supports, unless ATTOCORE_FORCE_REFERENCE=1 (or the session
// option) asks for the portable reference kernels, or ATTOCORE_ISA names one of those
// available (ref, avx2, avx512, neon: to compare or debug a path on a CPU that has better).
#pragma once
#include <vector>

#include "kernels/dwconv/dwconv.h"
#include "kernels/gemm/gemm.h"
#include "kernels/pool/maxpool.h"
#include "kernels/stem/stem.h"

namespace attocore {

enum class Isa { kReference, kAvx2, kAvx512, kNeon };

const char* isa_name(Isa isa);

struct KernelTable {
  Isa isa;
  GemmKernel gemm_nr8;   // for outputs of at most 8 channels
  GemmKernel gemm_wide;  // the widest tile
  DwconvKernel dwconv;
  StemKernel stem;  // first convolution straight from NCHW
  MaxPoolKernel maxpool;

  // The GEMM kernel to use for n output columns.
  const GemmKernel& gemm_for(int n) const { return n <= gemm_nr8.nr ? gemm_nr8 : gemm_wide; }
};

// Instruction sets compiled into this build and supported by this CPU (reference first).
std::vector<Isa> available_isas();
// Also honours ATTOCORE_FORCE_REFERENCE and ATTOCORE_ISA (an unavailable name fails).
Isa best_isa(bool force_reference = false);
const KernelTable& kernel_table(Isa isa);

}  // namespace attocore
