// Int8 depthwise convolution with channel multiplier k (groups = input channels; input
// channel c feeds outputs c*k .. c*k+k-1), NHWC int8, any kernel size, stride and padding:
//   acc[o] = bias[o] + sum over the window's taps inside the image of (x - x_zp) * w[o][tap]
//   y[o]   = requantize(acc[o], multiplier[o], ep)
// Taps outside the image contribute nothing, which is padding with the input's zero point.
// Weights are per output channel symmetric int8 (the file's OIHW, [O][1][kh][kw]). Every
// variant gives the reference's bits; each packs the weights its own way (its pack).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/dwconv/dwconv.h"  // DwconvShape, for_each_window_tap
#include "kernels/qgemm/qgemm.h"    // CpuNeed, QuantEpilogue
#include "util/aligned_vector.h"

namespace attocore {

struct PackedQDwconv {
  int cw = 0;      // the variant's chunk of output channels
  int taps = 0;
  int chunks = 0;
  int32_t x_zero_point = 0;
  AlignedVector<int8_t> weights;    // the variant's layout
  AlignedVector<int32_t> bias;      // chunks x cw (zero point folded in where the variant can)
  AlignedVector<float> multiplier;  // chunks x cw (padding: 0)
  std::vector<int32_t> aux;         // whatever else the variant precomputes (lane maps, ...)
};

using QDwconvPackFunction = PackedQDwconv(const DwconvShape& s, const int8_t* w_oihw, const int32_t* bias,
                                          const float* multiplier, int32_t x_zero_point);

struct QDwconvArgs {
  const DwconvShape* shape = nullptr;
  const PackedQDwconv* weights = nullptr;
  const int8_t* input = nullptr;  // batch x in_h x in_w x in_c; no variant reads past its end
  int8_t* output = nullptr;       // batch x out_h x out_w x out_c, from row output_row0
  QuantEpilogue ep;
  int row_begin = 0, row_end = 0;  // rows index batch * out_h
  void* scratch = nullptr;         // qdwconv_scratch_bytes(shape) of the calling thread's own
  // The row of batch * out_h that `output` starts at: a fused step passes a band of rows
  // held in its scratch (steps/qmodule_tail.h) with output_row0 = the band's first row.
  int output_row0 = 0;
};

// Scratch a variant may use per calling thread (edge staging, an int32 row of sums), and the
// x86 variants' window of tap pointers, qdwconv_dp4.h's stage of 3x3 windows, a row of the input zero point and a staged copy of
// each tap's pixel (qdwconv_taps.h), or a row of the zero point (their 3x3 row kernels).
inline size_t qdwconv_scratch_bytes(const DwconvShape& s) {
  const size_t taps = size_t(s.window.kernel_h) * size_t(s.window.kernel_w);
  return 4 * (size_t(s.out_w) * size_t(s.out_c) + 3 * size_t(kDwconvEdgeMaxColumns) * size_t(s.in_c) + 64) +
         8 * taps + (taps + 1) * (size_t(s.in_c) + 32) + size_t(s.in_w) * size_t(s.in_c) + 128 +
         // qdwconv_dp4.h's stage: kQDp4Rows = 4 of qdwconv_dp4_stage_dwords, on a cache line.
         16 * (size_t(s.in_c) * size_t(s.in_w + s.window.pad_left + s.window.pad_right) + 80) + 64;
}

using QDwconvFunction = void(const QDwconvArgs&);

struct QDwconvKernel {
  QDwconvPackFunction* pack = nullptr;
  QDwconvFunction* fn = nullptr;
  const char* name = "";
  CpuNeed need = CpuNeed::kNone;
};

#define QDWCONV_KERNEL(table, fn, pack, need) QDwconvFunction fn; QDwconvPackFunction pack;
#include "kernels/qdwconv/qdwconv_kernels.inc"
#undef QDWCONV_KERNEL

}  // namespace attocore
