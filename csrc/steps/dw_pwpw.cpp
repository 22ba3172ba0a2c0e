#include "steps/dw_pwpw.h"

#include <utility>

#include "graph/activation_epilogue.h"

namespace attocore {

DwPwpw::DwPwpw(Pwpw t) : tail(std::move(t)) {}

DwPwpw::DwPwpw(const DwconvKernel& kernel, const DwconvShape& s, const float* oihw, const float* bias, Activation act,
               Pwpw t)
    : dw(kernel, s, oihw, bias, act, t.tile), tail(std::move(t)) {}

size_t DwPwpw::scratch_floats() const { return dw.scratch_floats() + tail.scratch_floats(); }

void DwPwpw::run(int batch, const float* x1, const float* x, float* out, float* scratch, int pixel_begin,
                 int pixel_end, float* next_out) const {
  if (!dw) {
    tail.run(x1, x, out, scratch, pixel_begin, pixel_end, next_out);
    return;
  }
  float* tail_scratch = scratch + dw.scratch_floats();
  dw.run(batch, x1, scratch, pixel_begin, pixel_end, [&](const float* band, int b0, int b1, int first) {
    tail.run(band, x, out, tail_scratch, b0, b1, next_out, first);
  });
}

}  // namespace attocore
