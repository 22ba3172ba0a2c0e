#include "kernels/dispatch/cpu_features.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace attocore {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// AMX needs the cpuid bits and the OS saving the tile state (XCR0); on Linux also a
// per-process permission, asked for by request_amx_tile_state only when bf16 is chosen.
bool amx_bf16_usable(const CpuFeatures& f, const char** why_not) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!f.avx512bf16) return *why_not = "the CPU lacks AVX512-BF16 (the AMX kernel converts with it)", false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 22) & 1) || !((d >> 24) & 1))
    return *why_not = "the CPU lacks AMX-BF16 (cpuid leaf 7 EDX bits 22, 24)", false;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x60000u) != 0x60000u) return *why_not = "the OS does not save the AMX tile state (XCR0 bits 17-18)", false;
  *why_not = "";
  return true;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");  // libgcc also checks XCR0 for the zmm state
  f.avx512bw = f.avx512f && __builtin_cpu_supports("avx512bw");
  f.avx512vnni = f.avx512bw && __builtin_cpu_supports("avx512vnni");
  // AVX-VNNI is leaf 7 sub-leaf 1, EAX bit 4 (GCC 12's __builtin_cpu_supports cannot name it);
  // it needs only the ymm state, which avx2 already implies.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (f.avx2 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avxvnni = (a >> 4) & 1;
  // AVX512_BF16 is the same sub-leaf's EAX bit 5 (asked for directly, as AVX-VNNI, rather than
  // through a compiler's name for it); its zmm operands need the state avx512f checked.
  if (f.avx512bw && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = (a >> 5) & 1;
  f.amx_bf16 = amx_bf16_usable(f, &f.amx_why_not);
#endif
#if defined(__aarch64__) && defined(__linux__)
  f.dotprod = (getauxval(AT_HWCAP) >> 20) & 1;  // HWCAP_ASIMDDP
  f.fp16 = (getauxval(AT_HWCAP) >> 10) & 1;     // HWCAP_ASIMDHP (vector fp16; HWCAP_FPHP, bit 9, is scalar)
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
  f.neon = true;
#endif
  return f;
}

}  // namespace

bool request_amx_tile_state(const char** why_not) {
  static const char* const refused = [] () -> const char* {
    if (!cpu_features().amx_bf16) return cpu_features().amx_why_not;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__linux__)
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
      return "Linux refused this process the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM; a small "
             "sigaltstack of the process's own refuses it)";
#endif
    return nullptr;
  }();
  if (refused != nullptr) *why_not = refused;
  return refused == nullptr;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace attocore
