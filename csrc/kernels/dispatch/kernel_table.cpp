#include "kernels/dispatch/kernel_table.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>

#include "kernels/dispatch/cpu_features.h"
#include "kernels/gemm/gemm_ref.h"
#include "util/error.h"
#ifdef ATTOCORE_HAVE_AVX2
#include "kernels/gemm/gemm_avx2.h"
#endif
#ifdef ATTOCORE_HAVE_AVX512
#include "kernels/gemm/gemm_avx512.h"
#endif
#ifdef ATTOCORE_HAVE_AVX512BF16
#include "kernels/gemm/gemm_avx512bf16.h"
#endif
#ifdef ATTOCORE_HAVE_AMXBF16
#include "kernels/gemm/gemm_amxbf16.h"
#endif
#ifdef ATTOCORE_HAVE_AVX512
#include "kernels/gemm/gemm_bf16emu_avx512.h"
#endif
#ifdef ATTOCORE_HAVE_NEON
#include "kernels/gemm/gemm_neon.h"
#endif
#ifdef ATTOCORE_HAVE_NEONFP16
#include "kernels/gemm/gemm_neonfp16.h"
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

// The kernel lists name their tables ref, avx2, avx512, neon: ATTOCORE_IN_<table>(x) is x when
// that table's instruction set is compiled in, nothing otherwise.
#define ATTOCORE_IN_ref(...) __VA_ARGS__
#ifdef ATTOCORE_HAVE_AVX2
#define ATTOCORE_IN_avx2(...) __VA_ARGS__
#else
#define ATTOCORE_IN_avx2(...)
#endif
#ifdef ATTOCORE_HAVE_AVX512
#define ATTOCORE_IN_avx512(...) __VA_ARGS__
#else
#define ATTOCORE_IN_avx512(...)
#endif
#ifdef ATTOCORE_HAVE_NEON
#define ATTOCORE_IN_neon(...) __VA_ARGS__
#else
#define ATTOCORE_IN_neon(...)
#endif
// The fp16 table's kernels (precision "fp16", NEON with FEAT_FP16): never in an Isa's list.
#ifdef ATTOCORE_HAVE_NEONFP16
#define ATTOCORE_IN_neonfp16(...) __VA_ARGS__
#else
#define ATTOCORE_IN_neonfp16(...)
#endif
#define ATTOCORE_ISA_ref Isa::kReference
#define ATTOCORE_ISA_avx2 Isa::kAvx2
#define ATTOCORE_ISA_avx512 Isa::kAvx512
#define ATTOCORE_ISA_neon Isa::kNeon
#define ATTOCORE_ISA_neonfp16 Isa::kNeon

// Every table's depthwise, stem and max pool kernel (kDwconv_avx2, ...), from their lists.
#define DWCONV_KERNEL(table, fn, cw, weights) \
  ATTOCORE_IN_##table(constexpr DwconvKernel kDwconv_##table{fn, cw, #fn, DwconvWeights::weights};)
#include "kernels/dwconv/dwconv_kernels.inc"
#undef DWCONV_KERNEL
#define STEM_KERNEL(table, fn) ATTOCORE_IN_##table(constexpr StemKernel kStem_##table{fn, #fn};)
#include "kernels/stem/stem_kernels.inc"
#undef STEM_KERNEL
#define MAXPOOL_KERNEL(table, fn) ATTOCORE_IN_##table(constexpr MaxPoolKernel kMaxPool_##table{fn, #fn};)
#include "kernels/pool/maxpool_kernels.inc"
#undef MAXPOOL_KERNEL
#define ACTIVATION_KERNEL(table, fn) ATTOCORE_IN_##table(constexpr ActivationKernel kActivation_##table{fn, #fn};)
#include "kernels/activation/activation_kernels.inc"
#undef ACTIVATION_KERNEL

// Each instruction set's GEMM kernels, from its list (gemm/gemm_<isa>.inc).
namespace list_ref {
#define GEMM_LIST "kernels/gemm/gemm_ref.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_ref
constexpr KernelTable kReferenceTable{Isa::kReference, list_ref::kNr8, list_ref::kWide, kDwconv_ref, kStem_ref,
                                      kMaxPool_ref, kActivation_ref};

#ifdef ATTOCORE_HAVE_AVX2
namespace list_avx2 {
#define GEMM_LIST "kernels/gemm/gemm_avx2.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_avx2
constexpr KernelTable kAvx2Table{Isa::kAvx2, list_avx2::kNr8, list_avx2::kWide, kDwconv_avx2, kStem_avx2,
                                 kMaxPool_avx2, kActivation_avx2};
#endif

#ifdef ATTOCORE_HAVE_AVX512
namespace list_avx512 {
#define GEMM_LIST "kernels/gemm/gemm_avx512.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_avx512
constexpr KernelTable kAvx512Table{Isa::kAvx512, list_avx512::kNr8, list_avx512::kWide, kDwconv_avx512,
                                   kStem_avx512, kMaxPool_avx512, kActivation_avx512};
#endif

#ifdef ATTOCORE_HAVE_AVX512BF16
namespace list_avx512bf16 {
#define GEMM_LIST "kernels/gemm/gemm_avx512bf16.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_avx512bf16
constexpr KernelTable kAvx512Bf16Table{Isa::kAvx512, list_avx512bf16::kNr8, list_avx512bf16::kWide, kDwconv_avx512,
                                       kStem_avx512, kMaxPool_avx512, kActivation_avx512};
#endif

#ifdef ATTOCORE_HAVE_AMXBF16
namespace list_amxbf16 {
#define GEMM_LIST "kernels/gemm/gemm_amxbf16.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_amxbf16
constexpr KernelTable kAmxBf16Table{Isa::kAvx512, list_amxbf16::kNr8, list_amxbf16::kWide, kDwconv_avx512,
                                    kStem_avx512, kMaxPool_avx512, kActivation_avx512};
#endif

#ifdef ATTOCORE_HAVE_AVX512
namespace list_bf16emu_avx512 {  // the testers' only: no precision selects it
#define GEMM_LIST "kernels/gemm/gemm_bf16emu_avx512.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_bf16emu_avx512
constexpr KernelTable kAvx512Bf16EmulatedTable{Isa::kAvx512, list_bf16emu_avx512::kNr8, list_bf16emu_avx512::kWide,
                                               kDwconv_avx512, kStem_avx512, kMaxPool_avx512, kActivation_avx512};
#endif

#ifdef ATTOCORE_HAVE_NEON
namespace list_neon {
#define GEMM_LIST "kernels/gemm/gemm_neon.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_neon
constexpr KernelTable kNeonTable{Isa::kNeon, list_neon::kNr8, list_neon::kWide, kDwconv_neon, kStem_neon,
                                 kMaxPool_neon, kActivation_neon};
#endif

#ifdef ATTOCORE_HAVE_NEONFP16
namespace list_neonfp16 {
#define GEMM_LIST "kernels/gemm/gemm_neonfp16.inc"
#include "kernels/dispatch/gemm_describe.h"
}  // namespace list_neonfp16
constexpr KernelTable kNeonFp16Table{Isa::kNeon, list_neonfp16::kNr8, list_neonfp16::kWide, kDwconv_neonfp16,
                                     kStem_neon, kMaxPool_neon, kActivation_neon};
#endif

template <size_t N>
std::vector<const GemmKernel*> all_of(const GemmKernel* const (&kernels)[N]) {
  return std::vector<const GemmKernel*>(kernels, kernels + N);
}

// A kernel list of GEMM kernels and optionally a depthwise one (the half-precision lists:
// what their testers run).
[[maybe_unused]] static KernelList gemm_only(std::vector<const GemmKernel*> gemm,
                                             const DwconvKernel* dwconv = nullptr) {  // unused where no list is built
  KernelList l;
  l.gemm = std::move(gemm);
  if (dwconv) l.dwconv.push_back(dwconv);
  return l;
}

KernelList make_list(Isa isa) {
  KernelList l;
  switch (isa) {
    case Isa::kReference: l.gemm = all_of(list_ref::kAll); break;
#ifdef ATTOCORE_HAVE_AVX2
    case Isa::kAvx2: l.gemm = all_of(list_avx2::kAll); break;
#endif
#ifdef ATTOCORE_HAVE_AVX512
    case Isa::kAvx512: l.gemm = all_of(list_avx512::kAll); break;
#endif
#ifdef ATTOCORE_HAVE_NEON
    case Isa::kNeon: l.gemm = all_of(list_neon::kAll); break;
#endif
    default: break;
  }
  // fp32 kernels only: the fp16 one is fp16_kernel_list()'s (its own tester and bound).
#define DWCONV_KERNEL(table, fn, cw, weights)                                                            \
  ATTOCORE_IN_##table(if (isa == ATTOCORE_ISA_##table && DwconvWeights::weights == DwconvWeights::kFloat) \
                          l.dwconv.push_back(&kDwconv_##table);)
#include "kernels/dwconv/dwconv_kernels.inc"
#undef DWCONV_KERNEL
#define STEM_KERNEL(table, fn) ATTOCORE_IN_##table(if (isa == ATTOCORE_ISA_##table) l.stem.push_back(&kStem_##table);)
#include "kernels/stem/stem_kernels.inc"
#undef STEM_KERNEL
#define MAXPOOL_KERNEL(table, fn) \
  ATTOCORE_IN_##table(if (isa == ATTOCORE_ISA_##table) l.maxpool.push_back(&kMaxPool_##table);)
#include "kernels/pool/maxpool_kernels.inc"
#undef MAXPOOL_KERNEL
#define ACTIVATION_KERNEL(table, fn) \
  ATTOCORE_IN_##table(if (isa == ATTOCORE_ISA_##table) l.activation.push_back(&kActivation_##table);)
#include "kernels/activation/activation_kernels.inc"
#undef ACTIVATION_KERNEL
  return l;
}

bool env_forces_reference() {
  const char* v = std::getenv("ATTOCORE_FORCE_REFERENCE");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

// ATTOCORE_LOG names what to log, comma separated: here "dispatch" (or "all").
bool logs_dispatch() {
  const char* v = std::getenv("ATTOCORE_LOG");
  if (v == nullptr) return false;
  const std::string s = std::string(",") + v + ",";
  return s.find(",dispatch,") != std::string::npos || s.find(",all,") != std::string::npos;
}

void log_dispatch(const std::string& line) { std::fprintf(stderr, "attocore dispatch: %s\n", line.c_str()); }

// What a CPU lacks of `needed` (names and flags), as "cpu lacks avx512f": empty if nothing.
std::string lacking(std::initializer_list<std::pair<const char*, bool>> needed) {
  std::string missing;
  for (const auto& [name, has] : needed)
    if (!has) missing += (missing.empty() ? "cpu lacks " : " and ") + std::string(name);
  return missing;
}

[[maybe_unused]] constexpr bool kX86Build =
#if defined(__x86_64__) || defined(__i386__)
    true;
#else
    false;
#endif

}  // namespace

std::vector<IsaSupport> isa_support() {
  const CpuFeatures& f = cpu_features();
  std::vector<IsaSupport> s;
  s.push_back({Isa::kReference, true, "the portable reference"});
  auto add = [&](Isa isa, bool compiled, const char* not_compiled, std::string missing, const char* has) {
    if (!compiled) {
      s.push_back({isa, false, std::string("not compiled (") + not_compiled + ")"});
    } else {
      s.push_back({isa, missing.empty(), missing.empty() ? std::string(has) : missing});
    }
  };
#ifdef ATTOCORE_HAVE_AVX2
  constexpr bool avx2 = true;
#else
  constexpr bool avx2 = false;
#endif
#ifdef ATTOCORE_HAVE_AVX512
  constexpr bool avx512 = true;
#else
  constexpr bool avx512 = false;
#endif
#ifdef ATTOCORE_HAVE_NEON
  constexpr bool neon = true;
#else
  constexpr bool neon = false;
#endif
  add(Isa::kAvx2, avx2, kX86Build ? "ATTOCORE_ENABLE_AVX2=OFF" : "not an x86 build",
      lacking({{"avx2", f.avx2}, {"fma", f.fma}}), "cpu has avx2 and fma");
  // libgcc's avx512f check includes the OS saving the zmm and mask registers (XCR0).
  add(Isa::kAvx512, avx512, kX86Build ? "ATTOCORE_ENABLE_AVX512=OFF" : "not an x86 build",
      lacking({{"avx512f (or the OS does not save the zmm state)", f.avx512f}, {"avx2", f.avx2}, {"fma", f.fma}}),
      "cpu has avx512f, avx2 and fma");
  add(Isa::kNeon, neon, kX86Build ? "not an ARM build" : "ATTOCORE_ENABLE_NEON=OFF", lacking({{"neon", f.neon}}),
      "an ARM build with NEON");
  return s;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> isas;
  for (const IsaSupport& s : isa_support())
    if (s.available) isas.push_back(s.isa);
  return isas;
}

Isa best_isa(bool force_reference) {
  const bool log = logs_dispatch();
  if (log)
    for (const IsaSupport& s : isa_support())
      log_dispatch((s.available ? std::string(isa_name(s.isa)) + ": " : std::string("declined ") + isa_name(s.isa) + ": ") +
                   s.reason);
  auto chosen = [&](Isa isa, const char* why) {
    if (log) log_dispatch(std::string("using ") + isa_name(isa) + " (" + why + ")");
    return isa;
  };
  if (force_reference) return chosen(Isa::kReference, "force_reference");
  if (env_forces_reference()) return chosen(Isa::kReference, "ATTOCORE_FORCE_REFERENCE");
  const std::vector<Isa> isas = available_isas();
  const char* want = std::getenv("ATTOCORE_ISA");
  if (want == nullptr || *want == '\0') return chosen(isas.back(), "the best available");
  std::string names;
  for (Isa isa : isas) {
    if (std::strcmp(isa_name(isa), want) == 0) return chosen(isa, "ATTOCORE_ISA");
    names += names.empty() ? isa_name(isa) : std::string(", ") + isa_name(isa);
  }
  fail(ErrorCode::kConfig,
       std::string("ATTOCORE_ISA=") + want + ": not available in this build on this CPU (available: " + names + ")");
}

const GemmKernel& KernelTable::gemm_for(int n) const {
  const bool narrow = n <= gemm_nr8->nr;
  const GemmKernel& k = narrow ? *gemm_nr8 : *gemm_wide;
  if (logs_dispatch())
    log_dispatch(std::string(isa_name(isa)) + " gemm for " + std::to_string(n) + " outputs: " + k.name + " (" +
                 (narrow ? "at most " + std::to_string(gemm_nr8->nr) + ": the narrow kernel" : "the wide kernel") + ")");
  return k;
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

const KernelList& kernel_list(Isa isa) {
  static const KernelList lists[] = {make_list(Isa::kReference), make_list(Isa::kAvx2), make_list(Isa::kAvx512),
                                     make_list(Isa::kNeon)};
  kernel_table(isa);  // fails for an instruction set not in this build
  return lists[int(isa)];
}

Fp16Support fp16_support() {
  constexpr const char* kUse = ": use precision \"fp32\"";
#if defined(ATTOCORE_HAVE_NEONFP16)
  if (!cpu_features().fp16)
    return {false, std::string("precision \"fp16\" needs a CPU with ARMv8.2 half-precision arithmetic (FEAT_FP16, "
                               "HWCAP_ASIMDHP: Cortex-A55/A75/A76 and later); this one lacks it") + kUse};
  return {true, "cpu has FEAT_FP16 (HWCAP_ASIMDHP)"};
#elif defined(__aarch64__)
  return {false, std::string("precision \"fp16\" kernels are not compiled in this build (ATTOCORE_ENABLE_NEON=OFF)") + kUse};
#elif defined(__x86_64__) || defined(__i386__)
  return {false, std::string("precision \"fp16\" runs on ARMv8.2 cores with FEAT_FP16 only, not on x86 (no fp16 "
                             "arithmetic kernels here; x86's half precision is \"bf16\", on CPUs with AVX512-BF16)") + kUse};
#else
  return {false, std::string("precision \"fp16\" needs an aarch64 build on a core with ARMv8.2 FEAT_FP16 "
                             "(32-bit ARM builds have no fp16 kernels)") + kUse};
#endif
}

const KernelTable& fp16_kernel_table() {
  const Fp16Support s = fp16_support();
  if (!s.available) fail(ErrorCode::kConfig, s.reason);
#ifdef ATTOCORE_HAVE_NEONFP16
  if (logs_dispatch()) log_dispatch("precision fp16: " + s.reason + ", using " + list_neonfp16::kWide->name);
  return kNeonFp16Table;
#else
  fail(ErrorCode::kInternal, "fp16 table missing");
#endif
}

const KernelList& fp16_kernel_list() {
#ifdef ATTOCORE_HAVE_NEONFP16
  static const KernelList list = gemm_only(all_of(list_neonfp16::kAll), &kDwconv_neonfp16);
#else
  static const KernelList list;
#endif
  return list;
}


Bf16Support bf16_support() {
  constexpr const char* kUse = ": use precision \"fp32\"";
#if defined(ATTOCORE_HAVE_AVX512BF16)
  if (!cpu_features().avx512bf16)
    return {false, std::string("precision \"bf16\" needs a CPU with AVX512-BF16 (Intel Cooper Lake, Sapphire Rapids "
                               "and later Xeons, AMD Zen 4 and later); this one lacks it") + kUse};
  return {true, "cpu has AVX512-BF16 (cpuid leaf 7 sub-leaf 1, EAX bit 5)"};
#elif defined(__x86_64__) || defined(__i386__)
  return {false, std::string("precision \"bf16\" kernels (AVX512-BF16) are not compiled in this build "
                             "(ATTOCORE_ENABLE_AVX512=OFF, or a compiler without -mavx512bf16)") + kUse};
#else
  return {false, std::string("precision \"bf16\" runs on x86 CPUs with AVX512-BF16 only (no bf16 kernels on ARM; "
                             "ARMv8.2 cores with FEAT_FP16 have precision \"fp16\")") + kUse};
#endif
}

Bf16Support amx_bf16_support() {
#ifdef ATTOCORE_HAVE_AMXBF16
  const char* why_not = "";
  if (request_amx_tile_state(&why_not)) return {true, "cpu has AMX-BF16 and the OS grants the tile state"};
  return {false, std::string("no AMX: ") + why_not};
#else
  return {false, "no AMX: the AMX-BF16 kernels are not compiled in this build (not x86, or a compiler without -mamx-bf16)"};
#endif
}

const KernelTable& bf16_kernel_table([[maybe_unused]] bool allow_amx) {  // unused without bf16 kernels
  const Bf16Support s = bf16_support();
  if (!s.available) fail(ErrorCode::kConfig, s.reason);
#ifdef ATTOCORE_HAVE_AMXBF16
  if (allow_amx && amx_bf16_support().available) {
    if (logs_dispatch()) log_dispatch("precision bf16: " + amx_bf16_support().reason + ", using " + list_amxbf16::kWide->name);
    return kAmxBf16Table;
  }
#endif
#ifdef ATTOCORE_HAVE_AVX512BF16
  if (logs_dispatch())
    log_dispatch("precision bf16: " + s.reason + ", using " + list_avx512bf16::kWide->name + " (" +
                 (allow_amx ? amx_bf16_support().reason : std::string("AMX not allowed by the caller")) + ")");
  return kAvx512Bf16Table;
#else
  fail(ErrorCode::kInternal, "bf16 table missing");
#endif
}

const KernelList& bf16_kernel_list() {
#ifdef ATTOCORE_HAVE_AVX512BF16
  static const KernelList list = gemm_only(all_of(list_avx512bf16::kAll));
#else
  static const KernelList list;
#endif
  return list;
}

const KernelList& amx_bf16_kernel_list() {
#ifdef ATTOCORE_HAVE_AMXBF16
  static const KernelList list = gemm_only(all_of(list_amxbf16::kAll));
#else
  static const KernelList list;
#endif
  return list;
}

const KernelTable& bf16_emulated_kernel_table() {
  for (const IsaSupport& s : isa_support())
    if (s.isa == Isa::kAvx512 && !s.available) fail(ErrorCode::kConfig, "emulated bf16 kernels: " + s.reason);
#ifdef ATTOCORE_HAVE_AVX512
  return kAvx512Bf16EmulatedTable;
#else
  fail(ErrorCode::kInternal, "emulated bf16 table missing");
#endif
}

const KernelList& bf16_emulated_kernel_list() {
#ifdef ATTOCORE_HAVE_AVX512
  static const KernelList list = gemm_only(all_of(list_bf16emu_avx512::kAll));
#else
  static const KernelList list;
#endif
  return list;
}

}  // namespace attocore
