// The portable int8 max pool: the definition (qmaxpool.h), one channel at a time.
#include <algorithm>

#include "kernels/pool/maxpool.h"
#include "kernels/qmaxpool/qmaxpool.h"

namespace attocore {

void qmaxpool_ref(const QMaxPoolArgs& a) {
  const int c = a.channels;
  maxpool_walk(a.in_h, a.in_w, c, a.out_h, a.out_w, *a.window, a.input, a.output, a.row_begin, a.row_end,
               [&](const int8_t* image, int y0, int y1, int x0, int x1, int8_t* out) {
                 std::fill(out, out + c, int8_t(-128));
                 for (int iy = y0; iy < y1; ++iy)
                   for (int ix = x0; ix < x1; ++ix) {
                     const int8_t* px = image + (size_t(iy) * a.in_w + ix) * c;
                     for (int ch = 0; ch < c; ++ch) out[ch] = std::max(out[ch], px[ch]);
                   }
                 for (int ch = 0; ch < c; ++ch) out[ch] = std::clamp(out[ch], a.lo, a.hi);
               });
}

}  // namespace attocore
