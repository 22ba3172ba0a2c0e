#include "kernels/dispatch/kernel_table.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/dispatch/cpu_features.h"
#include "kernels/pool/pool_ref.h"
#include "util/error.h"
#ifdef ATTOCORE_HAVE_AVX2
#include "kernels/dwconv/dwconv_avx2.h"
#include "kernels/gemm/gemm_avx2.h"
#include "kernels/pool/maxpool_avx2.h"
#include "kernels/stem/stem_avx2.h"
#endif
#ifdef ATTOCORE_HAVE_AVX512
#include "kernels/dwconv/dwconv_avx512.h"
#include "kernels/gemm/gemm_avx512.h"
#include "kernels/stem/stem_avx512.h"
#endif
#ifdef ATTOCORE_HAVE_NEON
#include "kernels/dwconv/dwconv_neon.h"
#include "kernels/gemm/gemm_neon.h"
#include "kernels/pool/maxpool_neon.h"
#include "kernels/stem/stem_neon.h"
#endif

namespace attocore {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kReference: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
  }
  return "?";
}

namespace {

const KernelTable kReferenceTable{
    Isa::kReference,
    {gemm_ukernel_ref, 4, 8, "gemm_4x8_ref"},
    {gemm_ukernel_ref, 4, 16, "gemm_4x16_ref", GemmPacking::kPlain, nullptr, &kReferenceTable.gemm_nr8},
    {dwconv_ref, 4, "dwconv_ref"},
    {stem_ref, "stem_ref"},
    {maxpool2d_ref, "maxpool2d_ref"},
};

#ifdef ATTOCORE_HAVE_AVX2
const GemmKernel kAvx2Gemm5x16{gemm_5x16_avx2, 5, 16, "gemm_5x16_avx2", GemmPacking::kPlain, gemm_rows_5x16_avx2, nullptr,
                               nullptr, gemm_row_16_avx2};
const KernelTable kAvx2Table{
    Isa::kAvx2,
    {gemm_6x8_pairs_avx2, 6, 8, "gemm_6x8p_avx2", GemmPacking::kPairs},
    {gemm_6x16_avx2, 6, 16, "gemm_6x16_avx2", GemmPacking::kPlain, gemm_rows_6x16_avx2, &kAvx2Table.gemm_nr8,
     &kAvx2Gemm5x16, gemm_row_16_avx2, igemm_6x16_avx2},
    {dwconv_avx2, 8, "dwconv_avx2"},
    {stem_avx2, "stem_avx2"},
    {maxpool2d_avx2, "maxpool2d_avx2"},
};
#endif

#ifdef ATTOCORE_HAVE_AVX512
// 6 rows x 32 columns (12 zmm accumulators); a last panel of at most 16 columns takes the
// 16-wide k-pair kernel, of at most 8 the 8-wide k-quad kernel (which also serves products
// of at most 8 outputs). The max pool is AVX2's (0.4% of an AttoNet).
extern const KernelTable kAvx512Table;
const GemmKernel kAvx512Gemm6x16{gemm_6x16_pairs_avx512, 6, 16, "gemm_6x16p_avx512", GemmPacking::kPairs, nullptr,
                                 &kAvx512Table.gemm_nr8};
const GemmKernel kAvx512Gemm6x16Plain{gemm_6x16_avx512, 6, 16, "gemm_6x16_avx512", GemmPacking::kPlain, nullptr,
                                      nullptr, nullptr, nullptr, igemm_6x16_avx512};
const GemmKernel kAvx512Gemm5x32{gemm_5x32_avx512, 5, 32, "gemm_5x32_avx512", GemmPacking::kPlain,
                                 gemm_rows_5x32_avx512, nullptr, nullptr, gemm_row_32_avx512};
const KernelTable kAvx512Table{
    Isa::kAvx512,
    {gemm_6x8_quads_avx512, 6, 8, "gemm_6x8q_avx512", GemmPacking::kQuads},
    {gemm_6x32_avx512, 6, 32, "gemm_6x32_avx512", GemmPacking::kPlain, gemm_rows_6x32_avx512, &kAvx512Gemm6x16,
     &kAvx512Gemm5x32, gemm_row_32_avx512, igemm_6x32_avx512, &kAvx512Gemm6x16Plain},
    {dwconv_avx512, 16, "dwconv_avx512"},
    {stem_avx512, "stem_avx512"},
    {maxpool2d_avx2, "maxpool2d_avx2"},  // spelled out, not copied from kAvx2Table: constant-initialised
};
#endif

#ifdef ATTOCORE_HAVE_NEON
const KernelTable kNeonTable{
    Isa::kNeon,
    {gemm_6x8_neon, 6, 8, "gemm_6x8_neon"},
#if defined(__aarch64__)
    {gemm_4x16_neon, 4, 16, "gemm_4x16_neon", GemmPacking::kPlain, gemm_rows_4x16_neon, &kNeonTable.gemm_nr8,
     nullptr, gemm_row_16_neon, igemm_4x16_neon},
#else
    // ARMv7 has 16 q registers: stay at 12 accumulators
    {gemm_6x8_neon, 6, 8, "gemm_6x8_neon", GemmPacking::kPlain, nullptr, nullptr, nullptr, gemm_row_8_neon,
     igemm_6x8_neon},
#endif
    {dwconv_neon, 4, "dwconv_neon"},
    {stem_neon, "stem_neon"},
    {maxpool2d_neon, "maxpool2d_neon"},
};
#endif

bool env_forces_reference() {
  const char* v = std::getenv("ATTOCORE_FORCE_REFERENCE");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace

std::vector<Isa> available_isas() {
  std::vector<Isa> isas{Isa::kReference};
  const CpuFeatures& f = cpu_features();
#ifdef ATTOCORE_HAVE_AVX2
  if (f.avx2 && f.fma) isas.push_back(Isa::kAvx2);
#endif
#ifdef ATTOCORE_HAVE_AVX512
  if (f.avx2 && f.fma && f.avx512f) isas.push_back(Isa::kAvx512);
#endif
#ifdef ATTOCORE_HAVE_NEON
  if (f.neon) isas.push_back(Isa::kNeon);
#endif
  (void)f;
  return isas;
}

Isa best_isa(bool force_reference) {
  if (force_reference || env_forces_reference()) return Isa::kReference;
  const std::vector<Isa> isas = available_isas();
  const char* want = std::getenv("ATTOCORE_ISA");
  if (want == nullptr || *want == '\0') return isas.back();
  std::string names;
  for (Isa isa : isas) {
    if (std::strcmp(isa_name(isa), want) == 0) return isa;
    names += names.empty() ? isa_name(isa) : std::string(", ") + isa_name(isa);
  }
  fail(ErrorCode::kConfig,
       std::string("ATTOCORE_ISA=") + want + ": not available in this build on this CPU (available: " + names + ")");
}

const KernelTable& kernel_table(Isa isa) {
  switch (isa) {
    case Isa::kReference: return kReferenceTable;
#ifdef ATTOCORE_HAVE_AVX2
    case Isa::kAvx2: return kAvx2Table;
#endif
#ifdef ATTOCORE_HAVE_AVX512
    case Isa::kAvx512: return kAvx512Table;
#endif
#ifdef ATTOCORE_HAVE_NEON
    case Isa::kNeon: return kNeonTable;
#endif
    default: break;
  }
  fail(ErrorCode::kUnsupported, std::string("kernels for ") + isa_name(isa) + " are not in this build");
}

}  // namespace attocore
