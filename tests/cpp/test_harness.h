// A minimal test harness: CHECK macros count failures; main returns non-zero on any.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace test {

inline int& failures() {
  static int n = 0;
  return n;
}

inline std::string data_path(const std::string& name) {
  const char* dir = std::getenv("ATTOCORE_TEST_DATA");
  return std::string(dir ? dir : ATTOCORE_TEST_DATA_DIR) + "/" + name;
}

inline std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Max |a-b| relative to max |b|, with an if-form (GCC 12 aarch64 ICEs on fmax reductions).
inline double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs(double(a[i]) - double(b[i]));
    if (d > m || std::isnan(d)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

// Emulated runs (qemu) set ATTOCORE_TEST_SMALL=1: spatial sizes are capped to keep them fast.
inline bool small_mode() {
  const char* v = std::getenv("ATTOCORE_TEST_SMALL");
  return v != nullptr && *v != '\0' && *v != '0';
}

inline int spatial(int hw) { return small_mode() && hw > 9 ? 9 : hw; }

// Deterministic pseudo-random floats in [-1, 1) (a tiny LCG: same values on every platform).
inline void fill(std::vector<float>& v, unsigned seed) {
  unsigned x = seed * 2654435761u + 1;
  for (float& f : v) {
    x = x * 1664525u + 1013904223u;
    f = float(int(x >> 8) - (1 << 23)) / float(1 << 23);
  }
}

// Epilogue bounds the kernel testers cycle through: the graph's activations (none, ReLU,
// ReLU6) and a clamp no activation gives, which crosses zero on both sides of the inputs.
struct Clamp {
  float min, max;
};
inline const Clamp kClamps[] = {{-INFINITY, INFINITY}, {0.f, INFINITY}, {0.f, 6.f}, {-0.5f, 0.25f}};
inline const Clamp& clamp_for(unsigned i) { return kClamps[i % 4]; }

// |got - want| <= tol * (1 + |want|) everywhere; reports the worst element.
inline bool close(const float* got, const float* want, size_t n, double tol, double* worst) {
  double w = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs(double(got[i]) - double(want[i])) / (1.0 + std::fabs(double(want[i])));
    if (!(d <= w)) w = d;  // also catches NaN
  }
  *worst = w;
  return w <= tol;
}

}  // namespace test

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++test::failures();                                                      \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fprintf(stderr, "\n");                                              \
      ++test::failures();                                                      \
    }                                                                          \
  } while (0)

#define TEST_MAIN_END()                                                        \
  do {                                                                         \
    if (test::failures()) {                                                    \
      std::fprintf(stderr, "%d check(s) failed\n", test::failures());          \
      return 1;                                                                \
    }                                                                          \
    std::printf("all checks passed\n");                                        \
    return 0;                                                                  \
  } while (0)
