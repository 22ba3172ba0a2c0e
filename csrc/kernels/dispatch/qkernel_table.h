// The int8 kernels for a session's instruction set: the first entry of the int8 lists
// (qgemm/qgemm_kernels.inc, qdwconv/qdwconv_kernels.inc, qadd/qadd_kernels.inc,
// qmaxpool/qmaxpool_kernels.inc, quantize/quantize_kernels.inc) that belongs to that table or one
// below it (avx512 -> avx2 -> ref, neon -> ref) and whose CPU need (VNNI, AVX-VNNI, sdot) this
// CPU meets. ATTOCORE_LOG=dispatch says which entry was taken and why each one before it
// was declined ("qgemm_avx512vnni: cpu lacks avx512_vnni").
#pragma once
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "kernels/qadd/qadd.h"
#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/qmaxpool/qmaxpool.h"
#include "kernels/quantize/quantize.h"

namespace attocore {

const QGemmKernel& qgemm_kernel(Isa isa);
const QDwconvKernel& qdwconv_kernel(Isa isa);
const QAddKernel& qadd_kernel(Isa isa);
const QMaxPoolKernel& qmaxpool_kernel(Isa isa);
const QuantizeKernel& quantize_kernel(Isa isa);

// Every listed variant compiled into this build whose needs this CPU meets, in list order:
// what the int8 testers run. `skipped` (if given) gets a line per variant left out and why.
std::vector<const QGemmKernel*> runnable_qgemm_kernels(std::vector<std::string>* skipped = nullptr);
std::vector<const QDwconvKernel*> runnable_qdwconv_kernels(std::vector<std::string>* skipped = nullptr);
std::vector<const QAddKernel*> runnable_qadd_kernels(std::vector<std::string>* skipped = nullptr);
std::vector<const QMaxPoolKernel*> runnable_qmaxpool_kernels(std::vector<std::string>* skipped = nullptr);
std::vector<const QuantizeKernel*> runnable_quantize_kernels(std::vector<std::string>* skipped = nullptr);

}  // namespace attocore
