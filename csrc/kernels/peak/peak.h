// Measures one core's multiply-add throughput (G multiply-adds per second) with a loop of
// independent vector FMAs: the ceiling the benchmark reports achieved rates against.
#pragma once

namespace attocore {

double measure_fma_peak_gmacs(double seconds);
double fma_peak_avx2(long iterations);  // returns multiply-adds done (ATTOCORE_HAVE_AVX2 builds)
double fma_peak_avx512(long iterations);  // (ATTOCORE_HAVE_AVX512 builds)
double fma_peak_neon(long iterations);  // (ATTOCORE_HAVE_NEON builds)

}  // namespace attocore
