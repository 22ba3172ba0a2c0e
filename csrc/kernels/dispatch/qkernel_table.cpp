#include "kernels/dispatch/qkernel_table.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "kernels/dispatch/cpu_features.h"
#include "util/log.h"

namespace attocore {
namespace {

// An entry of the int8 lists as the dispatch sees it: its table and what it needs.
template <typename Kernel>
struct Entry {
  Isa table;
  bool compiled;
  Kernel kernel;
};

#define ATTOCORE_QISA_ref Isa::kReference
#define ATTOCORE_QISA_avx2 Isa::kAvx2
#define ATTOCORE_QISA_avx512 Isa::kAvx512
#define ATTOCORE_QISA_neon Isa::kNeon
#define ATTOCORE_QNEED_none CpuNeed::kNone
#define ATTOCORE_QNEED_avx512vnni CpuNeed::kAvx512Vnni
#define ATTOCORE_QNEED_avxvnni CpuNeed::kAvxVnni
#define ATTOCORE_QNEED_dotprod CpuNeed::kDotProd

// Whether a list entry's object is in this build (1 or 0): its table's family and, for the
// dot-product variants, their own sources (CMakeLists.txt: *_avx512vnni.cpp, *_avxvnni.cpp,
// *_neondot.cpp). An entry not built is listed with no functions, so the log can say so.
#define ATTOCORE_QTABLE_ref 1
#define ATTOCORE_QBUILT_none 1
#ifdef ATTOCORE_HAVE_AVX2
#define ATTOCORE_QTABLE_avx2 1
#else
#define ATTOCORE_QTABLE_avx2 0
#endif
#ifdef ATTOCORE_HAVE_AVX512
#define ATTOCORE_QTABLE_avx512 1
#else
#define ATTOCORE_QTABLE_avx512 0
#endif
#ifdef ATTOCORE_HAVE_NEON
#define ATTOCORE_QTABLE_neon 1
#else
#define ATTOCORE_QTABLE_neon 0
#endif
#ifdef ATTOCORE_HAVE_AVX512VNNI
#define ATTOCORE_QBUILT_avx512vnni 1
#else
#define ATTOCORE_QBUILT_avx512vnni 0
#endif
#ifdef ATTOCORE_HAVE_AVXVNNI
#define ATTOCORE_QBUILT_avxvnni 1
#else
#define ATTOCORE_QBUILT_avxvnni 0
#endif
#ifdef ATTOCORE_HAVE_NEONDOT
#define ATTOCORE_QBUILT_dotprod 1
#else
#define ATTOCORE_QBUILT_dotprod 0
#endif
#define ATTOCORE_QCAT_(a, b) a##b
#define ATTOCORE_QCAT(a, b) ATTOCORE_QCAT_(a, b)
#define ATTOCORE_QAND_11 1
#define ATTOCORE_QAND_10 0
#define ATTOCORE_QAND_01 0
#define ATTOCORE_QAND_00 0
#define ATTOCORE_QIF_1(yes, no) yes
#define ATTOCORE_QIF_0(yes, no) no
#define ATTOCORE_QBUILT(table, need) \
  ATTOCORE_QCAT(ATTOCORE_QAND_, ATTOCORE_QCAT(ATTOCORE_QTABLE_##table, ATTOCORE_QBUILT_##need))
#define ATTOCORE_QIF_BUILT(table, need, yes, no) ATTOCORE_QCAT(ATTOCORE_QIF_, ATTOCORE_QBUILT(table, need))(yes, no)

// An entry of a family without a packing step (QKernelOf).
#define ATTOCORE_QKERNEL_OF_ENTRY(table, fn, need)           \
  {ATTOCORE_QISA_##table, bool(ATTOCORE_QBUILT(table, need)), \
   {ATTOCORE_QIF_BUILT(table, need, &fn, nullptr), #fn, ATTOCORE_QNEED_##need}},

const std::vector<Entry<QGemmKernel>>& qgemm_entries() {
  static const std::vector<Entry<QGemmKernel>> entries = {
#define QGEMM_KERNEL(table, fn, pack, need)                                                              \
  {ATTOCORE_QISA_##table, bool(ATTOCORE_QBUILT(table, need)),                                             \
   QGemmKernel{ATTOCORE_QIF_BUILT(table, need, &pack, nullptr), ATTOCORE_QIF_BUILT(table, need, &fn, nullptr), #fn, \
               ATTOCORE_QNEED_##need}},
#include "kernels/qgemm/qgemm_kernels.inc"
#undef QGEMM_KERNEL
  };
  return entries;
}

const std::vector<Entry<QDwconvKernel>>& qdwconv_entries() {
  static const std::vector<Entry<QDwconvKernel>> entries = {
#define QDWCONV_KERNEL(table, fn, pack, need)                                                            \
  {ATTOCORE_QISA_##table, bool(ATTOCORE_QBUILT(table, need)),                                             \
   QDwconvKernel{ATTOCORE_QIF_BUILT(table, need, &pack, nullptr), ATTOCORE_QIF_BUILT(table, need, &fn, nullptr), #fn, \
                 ATTOCORE_QNEED_##need}},
#include "kernels/qdwconv/qdwconv_kernels.inc"
#undef QDWCONV_KERNEL
  };
  return entries;
}

const std::vector<Entry<QAddKernel>>& qadd_entries() {
  static const std::vector<Entry<QAddKernel>> entries = {
#define QADD_KERNEL ATTOCORE_QKERNEL_OF_ENTRY
#include "kernels/qadd/qadd_kernels.inc"
#undef QADD_KERNEL
  };
  return entries;
}

const std::vector<Entry<QMaxPoolKernel>>& qmaxpool_entries() {
  static const std::vector<Entry<QMaxPoolKernel>> entries = {
#define QMAXPOOL_KERNEL ATTOCORE_QKERNEL_OF_ENTRY
#include "kernels/qmaxpool/qmaxpool_kernels.inc"
#undef QMAXPOOL_KERNEL
  };
  return entries;
}

const std::vector<Entry<QuantizeKernel>>& quantize_entries() {
  static const std::vector<Entry<QuantizeKernel>> entries = {
#define QUANTIZE_KERNEL ATTOCORE_QKERNEL_OF_ENTRY
#include "kernels/quantize/quantize_kernels.inc"
#undef QUANTIZE_KERNEL
  };
  return entries;
}

// What stops a compiled entry running here: empty when nothing does.
std::string cpu_lacks(CpuNeed need) {
  const CpuFeatures& f = cpu_features();
  switch (need) {
    case CpuNeed::kNone: return "";
    case CpuNeed::kAvx512Vnni: return f.avx512vnni ? "" : "cpu lacks avx512_vnni (or avx512bw)";
    case CpuNeed::kAvxVnni: return f.avxvnni ? "" : "cpu lacks avx_vnni";
    case CpuNeed::kDotProd: return f.dotprod ? "" : "cpu lacks the dot-product instructions (asimddp)";
  }
  return "unknown need";
}

bool table_available(Isa table) {
  for (Isa isa : available_isas())
    if (isa == table) return true;
  return false;
}

// Tables whose kernels a session of `isa` may run, best first.
std::vector<Isa> fallback_chain(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return {Isa::kAvx512, Isa::kAvx2, Isa::kReference};
    case Isa::kAvx2: return {Isa::kAvx2, Isa::kReference};
    case Isa::kNeon: return {Isa::kNeon, Isa::kReference};
    case Isa::kReference: break;
  }
  return {Isa::kReference};
}

template <typename Kernel>
const Kernel& choose(const std::vector<Entry<Kernel>>& entries, Isa isa, const char* family) {
  const bool log = log_enabled("dispatch");
  for (Isa table : fallback_chain(isa))
    for (const Entry<Kernel>& e : entries) {
      if (e.table != table) continue;
      std::string why = !e.compiled ? "not compiled into this build" : cpu_lacks(e.kernel.need);
      if (why.empty()) {
        if (log) std::fprintf(stderr, "attocore dispatch: %s %s: using %s\n", isa_name(isa), family, e.kernel.name);
        return e.kernel;
      }
      if (log) std::fprintf(stderr, "attocore dispatch: %s %s: declined %s: %s\n", isa_name(isa), family, e.kernel.name,
                            why.c_str());
    }
  std::abort();  // unreachable: the reference entry is always compiled and needs nothing
}

template <typename Kernel>
std::vector<const Kernel*> runnable(const std::vector<Entry<Kernel>>& entries, std::vector<std::string>* skipped) {
  std::vector<const Kernel*> out;
  for (const Entry<Kernel>& e : entries) {
    std::string why = !e.compiled             ? "not compiled into this build"
                      : !table_available(e.table) ? std::string("its table ") + isa_name(e.table) + " does not run here"
                                              : cpu_lacks(e.kernel.need);
    if (why.empty())
      out.push_back(&e.kernel);
    else if (skipped)
      skipped->push_back(std::string(e.kernel.name) + ": " + why);
  }
  return out;
}

// Chosen once per instruction set (and logged once): every layer of a family gets the same.
template <typename Kernel>
const Kernel& choose_once(const std::vector<Entry<Kernel>>& entries, Isa isa, const char* family) {
  static std::mutex lock;
  static const Kernel* chosen[4] = {};
  std::lock_guard<std::mutex> hold(lock);
  if (chosen[int(isa)] == nullptr) chosen[int(isa)] = &choose(entries, isa, family);
  return *chosen[int(isa)];
}

}  // namespace

const QGemmKernel& qgemm_kernel(Isa isa) { return choose_once(qgemm_entries(), isa, "int8 gemm"); }
const QDwconvKernel& qdwconv_kernel(Isa isa) { return choose_once(qdwconv_entries(), isa, "int8 depthwise"); }
const QAddKernel& qadd_kernel(Isa isa) { return choose_once(qadd_entries(), isa, "int8 add"); }
const QMaxPoolKernel& qmaxpool_kernel(Isa isa) { return choose_once(qmaxpool_entries(), isa, "int8 max pool"); }
const QuantizeKernel& quantize_kernel(Isa isa) { return choose_once(quantize_entries(), isa, "quantize"); }

std::vector<const QGemmKernel*> runnable_qgemm_kernels(std::vector<std::string>* skipped) {
  return runnable(qgemm_entries(), skipped);
}
std::vector<const QDwconvKernel*> runnable_qdwconv_kernels(std::vector<std::string>* skipped) {
  return runnable(qdwconv_entries(), skipped);
}
std::vector<const QAddKernel*> runnable_qadd_kernels(std::vector<std::string>* skipped) {
  return runnable(qadd_entries(), skipped);
}
std::vector<const QMaxPoolKernel*> runnable_qmaxpool_kernels(std::vector<std::string>* skipped) {
  return runnable(qmaxpool_entries(), skipped);
}
std::vector<const QuantizeKernel*> runnable_quantize_kernels(std::vector<std::string>* skipped) {
  return runnable(quantize_entries(), skipped);
}

}  // namespace attocore
