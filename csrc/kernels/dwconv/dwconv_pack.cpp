#include "kernels/dwconv/dwconv.h"
#include "kernels/dwconv/dwconv_half_rows.h"
#include "kernels/gemm/gemm.h"  // fp16_weight_bits

namespace attocore {

PackedDwconv pack_dwconv(const DwconvShape& s, int cw, const float* oihw, const float* bias, DwconvWeights format) {
  PackedDwconv p;
  p.cw = cw;
  p.format = format;
  p.taps = s.window.kernel_h * s.window.kernel_w;
  p.chunks = (s.out_c + cw - 1) / cw;
  p.data.assign(size_t(p.chunks) * p.chunk_floats(), 0.f);
  p.first_input.resize(p.chunks);
  p.lane_input.resize(size_t(p.chunks) * cw);
  for (int c = 0; c < p.chunks; ++c) {
    p.first_input[c] = c * cw / s.multiplier;
    for (int j = 0; j < cw; ++j) p.lane_input[size_t(c) * cw + j] = (c * cw + j) / s.multiplier - p.first_input[c];
  }
  for (int c = 0; c < p.chunks; ++c) {
    float* dst = p.data.data() + size_t(c) * p.chunk_floats();
    for (int j = 0; j < cw && c * cw + j < s.out_c; ++j) {
      const int oc = c * cw + j;
      dst[j] = bias ? bias[oc] : 0.f;
      for (int tap = 0; tap < p.taps; ++tap) dst[cw + size_t(tap) * cw + j] = oihw[size_t(oc) * p.taps + tap];
    }
  }
  if (format == DwconvWeights::kHalf) {  // the same layout, each value rounded to binary16
    p.half.resize(p.data.size());
    for (size_t i = 0; i < p.data.size(); ++i) p.half[i] = fp16_weight_bits(p.data[i]);
    p.data = AlignedVector<float>();
  }
  return p;
}

size_t dwconv_scratch_floats(const DwconvShape& s, const DwconvKernel& kernel) {
  if (kernel.weights == DwconvWeights::kHalf) return DwconvHalfRows(s).scratch_floats();
  return 3 * size_t(kDwconvEdgeMaxColumns) * size_t(s.in_c) + kDwconvInputSlack;
}

}  // namespace attocore
