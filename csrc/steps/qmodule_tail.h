// An int8 AttoNet module after its compression, in one pass (the int8 form of dw_pwpw.h,
// built by plan/patterns/module_tail.cpp for a match whose ops are int8):
//
//   y   = dwconv(x1)                   a band of output rows at a time, in scratch
//   mid = first(y)                     1x1, a tile of pixels, in scratch
//   t2  = second(mid)                  1x1, in scratch (straight to `out` without an add)
//   sc  = x, or projection(x)          identity, or a strided 1x1 into scratch
//   out = add(t2, sc)                  written once
//   next_out = next(out)               the next module's compression, while the tile is hot
//
// Each intermediate is the int8 tensor the graph names, requantized by the same kernels an
// op run alone uses, so the step gives every op's bits exactly (fused or not, any thread
// count, any tiling); what it saves is the intermediates' trips through the arena (the 56x56
// modules' 0.1-0.8 MB tensors) and one step, one barrier, per op.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "exec/layer.h"
#include "graph/graph.h"
#include "kernels/dispatch/kernel_table.h"
#include "kernels/qadd/qadd.h"
#include "kernels/qdwconv/qdwconv.h"
#include "kernels/qgemm/qgemm.h"

namespace attocore {

// The step's ops by graph index, -1 where absent (first and second always present).
struct QModuleTailOps {
  int dw = -1, first = -1, second = -1, projection = -1, add = -1, next = -1;
};

std::unique_ptr<Layer> make_qmodule_tail_layer(const Graph& g, const QModuleTailOps& ops, Isa isa);

}  // namespace attocore
