// Layers for one op alone (and the GEMM convolution with its residual add, which the
// conv_residual pattern builds from the same class).
#pragma once
#include <memory>

#include "exec/layer.h"
#include "graph/graph.h"
#include "kernels/dispatch/kernel_table.h"

namespace attocore {

// The layer for op `op` of a validated graph, run alone.
std::unique_ptr<Layer> make_op_layer(const Graph& graph, int op, const KernelTable& table);

// A dense convolution on the GEMM kernels with the residual add that is its only reader:
// the add (and its activation) runs in the GEMM epilogue; the other addend is the step's
// shortcut.
// A convolution and the smooth activation that alone reads its output (conv_activation
// pattern): the activation runs on each piece of the output as the convolution writes it.
std::unique_ptr<Layer> make_conv_activation_layer(const Graph& graph, int conv, const KernelTable& table,
                                                  Activation smooth);

std::unique_ptr<Layer> make_conv_residual_layer(const Graph& graph, const OpInfo& conv, const KernelTable& table,
                                                Activation add_activation);

}  // namespace attocore
