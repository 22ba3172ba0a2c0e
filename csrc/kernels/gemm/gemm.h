// GEMM microkernels for 1x1 convolutions in NHWC: C[m, n] = clamp(A[m, k] x B[k, n] + bias[n]
// (+ residual[m, n])), the clamp the tile's Epilogue. B is packed once at load time into panels of NR columns, each panel
// [NR bias][k x NR weights], zero-padded past n. A microkernel computes one tile of at most
// MR rows by NR columns; a driver (gemm_driver.cpp) walks the tiles.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/epilogue.h"
#include "util/aligned_vector.h"
#include "util/error.h"

namespace attocore {

struct GemmTile {
  int rows;            // <= MR
  int cols;            // <= NR (the last panel may be narrower)
  int nr;              // the panel's packed width NR
  int k;
  const float* a;      // rows x k, row stride a_stride
  size_t a_stride;
  const float* panel;  // packed panel: NR bias, then k x NR weights
  float* c;            // rows x cols, row stride c_stride
  size_t c_stride;
  const float* residual;  // optional rows x cols added before the clamp, row stride r_stride
  size_t r_stride;
  Epilogue ep;
  size_t panel_stride;  // floats from one packed panel to the next (row kernels walk several)
};

using GemmUkernel = void (*)(const GemmTile& t);

// A tile of an indirect GEMM: a convolution without an im2col copy. For tap t and tile row
// r, the A values are the cin floats at a[t * MR + r] (an input pixel, or zeros where the
// window hangs over the padding); B is packed with k = taps * cin, tap-major.
//
// A call computes the k-steps [k_begin, k_end) of the taps * cin (a block of k, so a slice of
// a large panel stays in L1 while many row groups use it): from the bias when k_begin is 0,
// else resuming from the partial sums in C; the residual and clamp only when k_end is the
// whole k, else the partial sums are stored as they are. Per output the same operations in
// the same order as one call over the whole k, so the blocking never changes the bits.
struct GemmIndirectTile {
  int rows;  // <= MR
  int cols;  // <= NR
  int taps, cin;
  int k_begin, k_end;  // 0 <= k_begin < k_end <= taps * cin
  const float* const* a;  // taps x MR pointers
  const float* panel;     // packed panel: NR bias, then k x NR weights (plain packing)
  float* c;
  size_t c_stride;
  const float* residual;  // optional, like c
  size_t r_stride;
  Epilogue ep;
};

using GemmIndirectUkernel = void (*)(const GemmIndirectTile& t);

// How a kernel wants B laid out inside a panel after the NR biases:
//  kPlain: k rows of NR weights;
//  kPairs: ceil(k/2) blocks of 2*NR floats, where each group of 4 outputs stores its
//          weights for k = 2q and 2q+1 interleaved ([w(2q,j) w(2q+1,j)] for j in the group).
//          With A read as (a[2q], a[2q+1]) pairs, one broadcast then feeds 2 k-steps, which
//          doubles the work per broadcast for narrow (NR = 8) outputs.
//  kQuads: ceil(k/4) blocks of 4*NR floats, output j's weights for k = 4q .. 4q+3 adjacent
//          ([w(4q,j) .. w(4q+3,j)] for j in order): a 16-byte broadcast of a[4q .. 4q+3]
//          into each 128-bit lane feeds 4 k-steps (NR = 8 on 16-lane vectors). Its bias block
//          is 16 floats (NR used), so the weights start on a cache line as in the others.
//  kHalf:  as kPlain (NR fp32 biases, then k rows of NR weights), but the weights are IEEE
//          binary16, rounded to nearest even at packing: the fp16 kernels
//          (gemm_neonfp16.cpp, precision "fp16") read them with half the bytes. A panel still
//          counts in floats: ceil(k x NR / 2) of them after the biases.
//  kBf16Pairs: NR fp32 biases, then ceil(k/2) blocks of NR 32-bit words, word j of block q
//          holding output j's weights for k = 2q (low 16 bits) and 2q+1 (high 16 bits) as
//          bfloat16 (float_to_bf16_bits; zero past k): the layout AVX512-BF16's vdpbf16ps
//          multiplies against a broadcast pair of A (gemm_avx512bf16.cpp, precision "bf16").
//          One word a float: NR x ceil(k/2) floats after the biases.
//  kBf16Quads: NR fp32 biases, then ceil(k/8) blocks of 4 NR words: per block four k-pairs
//          (words as kBf16Pairs') of each output adjacent, outputs 4g .. 4g+3 in the g-th
//          group of 16 words ([pair 4b .. 4b+3 of output 4g], [.. of 4g+1], ...): a 16-byte
//          broadcast of A's four pairs into each 128-bit lane feeds 8 k-steps of 4 outputs per
//          vdpbf16ps (the bf16 6x8 kernel, as kQuads for fp32).
//  kBf16Tiles: as kBf16Pairs, the k-pairs zero-padded to a multiple of 16: an AMX tile of B
//          is 16 k-pairs of 16 outputs (gemm_amxbf16.cpp), so the last one is loaded in place,
//          never past the panel. NR x 16 ceil(ceil(k/2) / 16) floats after the biases.
enum class GemmPacking { kPlain, kPairs, kQuads, kHalf, kBf16Pairs, kBf16Quads, kBf16Tiles };

// IEEE binary16 bits of x, rounded to nearest even (overflow to infinity, NaN kept NaN):
// portable, so packing needs no fp16 hardware.
inline uint16_t float_to_half_bits(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: infinity
  if (abs < 0x38800000u) {  // below 2^-14: a subnormal half (or zero)
    if (abs < 0x33000000u) return uint16_t(sign);  // below half the smallest subnormal
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - int(abs >> 23);  // 14..24: bits dropped below the half's 2^-24 unit
    const uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    return uint16_t(sign | (q + (rem > halfway || (rem == halfway && (q & 1)))));
  }
  const uint32_t q = (abs >> 13) - (112u << 10), rem = abs & 0x1fffu;  // rebias the exponent 127 -> 15
  return uint16_t(sign | (q + (rem > 0x1000u || (rem == 0x1000u && (q & 1)))));
}

// A weight's binary16 bits for precision "fp16"'s packing, refused (ErrorCode::kConfig) when
// a finite weight rounds to infinity: an infinite weight times a zero input (a padding
// column, a ReLU's zeros) is NaN, which no clamp removes. Batch norm folded into a channel of
// near-zero variance makes such weights.
inline uint16_t fp16_weight_bits(float w) {
  const uint16_t h = float_to_half_bits(w);
  if ((h & 0x7fffu) == 0x7c00u && std::isfinite(w))  // finite, yet infinite in binary16
    fail(ErrorCode::kConfig, "precision \"fp16\": a weight of " + std::to_string(w) +
                                 " is beyond binary16's largest value (65504) and would be infinite; load this "
                                 "model with precision \"fp32\"");
  return h;
}

// bfloat16 bits of x as AVX512-BF16's vcvtne2ps2bf16 gives them (Intel's
// convert_fp32_to_bfloat16): round to nearest even; zero and subnormal inputs to a zero of
// their sign (the instruction treats them as zero); infinities kept; NaN kept NaN, made quiet.
// Portable, so packing needs no bf16 hardware, and the same rounding as the kernels' A side.
inline uint16_t float_to_bf16_bits(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  if ((f & 0x7f800000u) == 0) return uint16_t((f >> 16) & 0x8000u);
  if ((f & 0x7fffffffu) > 0x7f800000u) return uint16_t((f >> 16) | 0x40u);
  return uint16_t((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);  // past the largest finite: infinity
}

struct GemmKernel {
  GemmUkernel fn = nullptr;
  int mr = 0;
  int nr = 0;
  const char* name = "";
  GemmPacking packing = GemmPacking::kPlain;
  // Optional row kernels for a small k (a module's decompression, k = c3, or its mix): one
  // call computes MR rows across every column (k unrolled at compile time for the
  // smallest), where a call per MR x NR tile would spend more on entry, bias loads and
  // epilogue than on its k FMAs. Returns null when k has none. Same packing and MR as fn.
  GemmUkernel (*rows_for)(int k) = nullptr;
  // Optional narrower kernel for the last panel when at most tail->nr columns are left
  // (n = 40 with NR = 16: 16 + 16 + 8 instead of 48 lanes of which 8 idle). Tails chain:
  // the narrowest one that fits is taken (NR = 32: 16 columns left take a 16-wide kernel,
  // 8 or fewer its own 8-wide tail).
  const GemmKernel* tail = nullptr;
  // Optional kernel with the same packing and fewer rows per tile (one fewer: the driver
  // then cuts 49 rows into 4 tiles of 6 and 5 of 5, none padded, where tiles of 6 padded the
  // ninth to one row), or taken for a whole row block it pads less. Its rows_for, if any,
  // serves the same split on the row-kernel path.
  const GemmKernel* fewer_rows = nullptr;
  // Optional kernel for a product of one row (a fully connected layer at batch 1, a 1x1
  // convolution of a 1x1 image): one call computes the row across every column of the
  // wide panels (t.cols columns from t.panel, panels t.panel_stride floats apart), several
  // panels at a time so their accumulators hide the FMA latency. A tile kernel computed MR
  // rows for that one (their A pointers clamped to it), and at batch 1 a classifier's
  // weights (1280 x 1000 for MobileNet-V2: 5 MB) are read once either way, so the row is
  // bound by their loads, not by MR times its FMAs. Same packing, and per column the same
  // operations in the same order as fn (bias, k in order, residual, clamp): which
  // kernel ran never changes the bits.
  GemmUkernel single_row = nullptr;
  // Optional indirect kernel (same MR, NR and plain packing): a KxK convolution reads its
  // input pixels in place through per-tap row pointers instead of gathering an im2col tile,
  // whose copy cost as much as the products on 16-channel 3x3 layers.
  GemmIndirectUkernel indirect = nullptr;
  // Optional plain-packed kernel of fewer columns with its own indirect variant, for KxK
  // convolutions of at most narrow_indirect->nr outputs: the indirect path packs every panel
  // at the kernel's width (no narrow tail), so a 16-channel 3x3 convolution on 32-wide panels
  // left half of each vector idle.
  const GemmKernel* narrow_indirect = nullptr;
  // Optional: called by the driver (gemm_panels) on its thread before it calls fn, for a
  // kernel whose unit has state to set up that would cost more per tile than the tile
  // itself (the AMX kernel's tile configuration: ~90 ns, against ~300 ns for a 16 x 32 tile
  // at k = 24). Nothing else runs on the thread between it and the driver's tile calls.
  void (*configure)() = nullptr;

  // The optional parts, as a kernel list (gemm_<isa>.inc) attaches them to a constant.
  constexpr GemmKernel with_rows_for(GemmUkernel (*f)(int)) const { GemmKernel g = *this; g.rows_for = f; return g; }
  constexpr GemmKernel with_single_row(GemmUkernel f) const { GemmKernel g = *this; g.single_row = f; return g; }
  constexpr GemmKernel with_indirect(GemmIndirectUkernel f) const { GemmKernel g = *this; g.indirect = f; return g; }
  constexpr GemmKernel with_tail(const GemmKernel* k) const { GemmKernel g = *this; g.tail = k; return g; }
  constexpr GemmKernel with_fewer_rows(const GemmKernel* k) const { GemmKernel g = *this; g.fewer_rows = k; return g; }
  constexpr GemmKernel with_configure(void (*f)()) const { GemmKernel g = *this; g.configure = f; return g; }
  constexpr GemmKernel with_narrow_indirect(const GemmKernel* k) const {
    GemmKernel g = *this;
    g.narrow_indirect = k;
    return g;
  }
};

// The cache sizes the GEMM blocking is set for: one core's L1d and L2 of AMD Zen 3 (32 KiB,
// 512 KiB), where the bounds were measured. On the AVX-512 Xeon (48 KiB, 2 MiB) raising the
// L2 bounds measured no gain (DESIGN.md), so the values stay; a core with a much smaller L2
// (boards without an L3) is where they would want measuring again.
struct GemmCacheBudget {
  // A rows per row block of the plain path: half of L1d, beside the B panel they meet.
  size_t a_block_bytes;
  // Packed B larger than this does not stay in L2 beside its A rows: the driver (and a fused
  // module tail) then take row blocks of ~large_b_row_bytes of A instead, so each panel,
  // fetched from L3, serves many row tiles.
  size_t large_b_bytes;
  size_t large_b_row_bytes;
  // A row kernel (GemmKernel::rows_for) sweeps all of B for every MR rows, from L2: taken up
  // to half of L2. Measured on AttoNet-A's 14x14 modules, whose decompressions (k = 56-72,
  // n = 808: 181-233 KiB) sat just above large_b_bytes: their whole steps ran 3-5% faster
  // with the row kernel; at 335 KiB (k = 88, n = 952) it made no difference.
  size_t row_kernel_max_b_bytes;
  // A fused step's tile of A rows, produced by the step itself, kept in L1/L2 beside B.
  size_t fused_rows_bytes;
};
constexpr GemmCacheBudget kGemmCache{16 * 1024, 160 * 1024, 192 * 1024, 256 * 1024, 48 * 1024};
constexpr size_t kLargeBBytes = kGemmCache.large_b_bytes;
constexpr size_t kLargeBRowBytes = kGemmCache.large_b_row_bytes;
constexpr size_t kRowKernelMaxBBytes = kGemmCache.row_kernel_max_b_bytes;
// An indirect convolution's block of k (steps/conv2d_gemm): the panel slice kept in L1.
constexpr size_t kIgemmBlockBytes = kGemmCache.a_block_bytes;

// Rows are split into equal parts of at most split_cap(nominal) rows, each a multiple of
// `granule`: every part re-reads all of B, so 100 rows are one part, not 96 and a costly 4,
// and 49 rows are one block, not 48 and 1. Returns the rows per part (the last may be less).
inline int split_cap(int nominal) { return nominal + nominal / 4; }
inline int equal_split_step(int rows, int nominal, int granule) {
  const int parts = rows > split_cap(nominal) ? (rows + split_cap(nominal) - 1) / split_cap(nominal) : 1;
  return ((rows + parts - 1) / parts + granule - 1) / granule * granule;
}

// Packed B: wide_panels panels of NR columns (the last may be partial), each NR biases
// then the weights in the kernel's packing; then, when the kernel has a tail kernel and at
// most tail->nr columns are left, one narrower panel packed for the narrowest such tail.
struct PackedGemmB {
  int k = 0, n = 0, nr = 0;
  GemmPacking packing = GemmPacking::kPlain;
  GemmUkernel rows_fn = nullptr;  // the kernel's row kernel for this k, if it has one
  GemmUkernel fewer_rows_fn = nullptr;  // its fewer-rows kernel's row kernel (with rows_fn only)
  int wide_panels = 0;
  const GemmKernel* tail = nullptr;  // kernel of the last, narrow panel (or none)
  // On a cache line: so is every panel of 16 or more columns (NR x (k + 1) floats); 8-wide
  // panels (ARMv7's wide kernel, narrow tails) start at least 32-byte aligned.
  AlignedVector<float> data;
  int panels() const { return wide_panels + (tail ? 1 : 0); }
  size_t bytes() const { return data.size() * sizeof(float); }
  bool large() const { return bytes() > kLargeBBytes; }
  size_t panel_floats() const { return packed_panel_floats(k, nr, packing); }
  // Panel p's data; the narrow panel follows the wide ones, so the same formula holds.
  const float* panel(int p) const { return data.data() + size_t(p) * panel_floats(); }
  static size_t packed_panel_floats(int k, int nr, GemmPacking packing) {
    if (packing == GemmPacking::kHalf) return bias_floats(nr, packing) + (size_t(nr) * k + 1) / 2;
    if (packing == GemmPacking::kBf16Pairs) return bias_floats(nr, packing) + size_t(nr) * ((k + 1) / 2);
    if (packing == GemmPacking::kBf16Tiles) return bias_floats(nr, packing) + size_t(nr) * ((k + 31) / 32 * 16);
    if (packing == GemmPacking::kBf16Quads) return bias_floats(nr, packing) + size_t(nr) * 4 * ((k + 7) / 8);
    const int rows = packing == GemmPacking::kPairs ? (k + 1) / 2 * 2 : packing == GemmPacking::kQuads ? (k + 3) / 4 * 4 : k;
    return bias_floats(nr, packing) + size_t(nr) * rows;
  }
  static size_t bias_floats(int nr, GemmPacking packing) { return packing == GemmPacking::kQuads ? 16 : size_t(nr); }
};

// Packs columns [col0, col0 + cols) of B into one panel of nr columns at dst (zeroed).
template <typename WeightAt>
void pack_gemm_panel(float* dst, int k, int nr, GemmPacking packing, int col0, int cols, const float* bias,
                     WeightAt w_kn) {
  float* const weights = dst + PackedGemmB::bias_floats(nr, packing);
  for (int j = 0; j < nr && j < cols; ++j) {
    dst[j] = bias ? bias[col0 + j] : 0.f;
    if (packing == GemmPacking::kHalf) {  // binary16 bits, k rows of nr (memcpy: no aliasing of the float storage)
      unsigned char* const halves = reinterpret_cast<unsigned char*>(weights);
      for (int ki = 0; ki < k; ++ki) {
        const uint16_t h = fp16_weight_bits(w_kn(ki, col0 + j));
        std::memcpy(halves + 2 * (size_t(ki) * nr + j), &h, 2);
      }
      continue;
    }
    if (packing == GemmPacking::kBf16Pairs || packing == GemmPacking::kBf16Quads || packing == GemmPacking::kBf16Tiles) {  // a 32-bit word per k-pair (memcpy, as above)
      unsigned char* const words = reinterpret_cast<unsigned char*>(weights);
      for (int q = 0; 2 * q < k; ++q) {
        const uint32_t lo = float_to_bf16_bits(w_kn(2 * q, col0 + j));
        const uint32_t hi = 2 * q + 1 < k ? float_to_bf16_bits(w_kn(2 * q + 1, col0 + j)) : 0u;
        const uint32_t word = lo | hi << 16;
        const size_t at = packing != GemmPacking::kBf16Quads  // pairs, and tiles (their padding stays zero)
                              ? size_t(q) * nr + j
                              : size_t(q / 4) * 4 * nr + size_t(j / 4) * 16 + size_t(j % 4) * 4 + q % 4;
        std::memcpy(words + 4 * at, &word, 4);
      }
      continue;
    }
    for (int ki = 0; ki < k; ++ki) {
      size_t at;
      if (packing == GemmPacking::kPlain) {
        at = size_t(ki) * nr + j;
      } else if (packing == GemmPacking::kPairs) {  // block q = ki / 2; group of 4 outputs j / 4; within it (j % 4, ki % 2)
        at = size_t(ki / 2) * 2 * nr + size_t(j / 4) * 8 + size_t(j % 4) * 2 + ki % 2;
      } else {  // block q = ki / 4; output j; within it ki % 4
        at = size_t(ki / 4) * 4 * nr + size_t(j) * 4 + ki % 4;
      }
      weights[at] = w_kn(ki, col0 + j);
    }
  }
}

// w_kn(ki, ni) gives B[ki][ni]; bias may be null (zeros).
template <typename WeightAt>
PackedGemmB pack_gemm_b(int k, int n, const GemmKernel& kernel, const float* bias, WeightAt w_kn) {
  PackedGemmB b;
  const int nr = kernel.nr;
  b.k = k, b.n = n, b.nr = nr, b.packing = kernel.packing;
  const int left = n % nr;
  const GemmKernel* tail_kernel = nullptr;
  for (const GemmKernel* t = left > 0 ? kernel.tail : nullptr; t != nullptr && left <= t->nr; t = t->tail) tail_kernel = t;
  const bool narrow = tail_kernel != nullptr;
  b.wide_panels = narrow ? n / nr : (n + nr - 1) / nr;
  b.tail = tail_kernel;
  const size_t wide = b.panel_floats();
  const size_t tail = narrow ? PackedGemmB::packed_panel_floats(k, tail_kernel->nr, tail_kernel->packing) : 0;
  b.data.assign(size_t(b.wide_panels) * wide + tail, 0.f);
  // A row kernel sweeps all of B for every MR rows: only while B stays in L2.
  b.rows_fn = kernel.rows_for && b.bytes() <= kRowKernelMaxBBytes ? kernel.rows_for(k) : nullptr;
  const GemmKernel* fewer = kernel.fewer_rows;
  if (b.rows_fn && fewer && fewer->rows_for) b.fewer_rows_fn = fewer->rows_for(k);  // same packing: see fewer_rows
  for (int p = 0; p < b.wide_panels; ++p)
    pack_gemm_panel(b.data.data() + size_t(p) * wide, k, nr, b.packing, p * nr, n - p * nr, bias, w_kn);
  if (narrow)
    pack_gemm_panel(b.data.data() + size_t(b.wide_panels) * wide, k, tail_kernel->nr, tail_kernel->packing,
                    b.wide_panels * nr, left, bias, w_kn);
  return b;
}

// Rows per tile of a fused step whose A rows (k floats each, produced by the step itself)
// should stay in L1/L2 beside B: ~kGemmCache.fused_rows_bytes of them, at most 96;
// ~kLargeBRowBytes when B is large, so each panel, fetched from L3, serves many rows. A
// multiple of mr.
inline int fused_tile_rows(const PackedGemmB& b, int k, int mr) {
  const size_t budget = b.large() ? kLargeBRowBytes : kGemmCache.fused_rows_bytes;
  const int cap = b.large() ? 1 << 20 : 96;
  const int rows = int(budget / (4 * size_t(k > 1 ? k : 1))) / mr * mr;
  return rows < mr ? mr : rows < cap ? rows : cap;
}

// Runs the whole m x n product with `kernel` (b must be packed for kernel).
void gemm(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b, float* c,
          size_t c_stride, const float* residual, size_t r_stride, Epilogue ep);

// The same for the output columns of panels [panel_begin, panel_end) only (of
// b.panels(); c, residual: the whole matrices): lets threads split a product with few
// rows by columns.
void gemm_panels(const GemmKernel& kernel, int m, const float* a, size_t a_stride, const PackedGemmB& b,
                 int panel_begin, int panel_end, float* c, size_t c_stride, const float* residual, size_t r_stride,
                 Epilogue ep);

// Portable reference microkernel, any MR x NR (the oracle for the ISA variants): the tile
// kernel of gemm_ref.inc's kernels.
void gemm_ukernel_ref(const GemmTile& t);

}  // namespace attocore
