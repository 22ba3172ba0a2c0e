#include "exec/tvm_layer.h"

#include "plan/fusion.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "plan/fusion.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace attocore {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) parts.push_back(item);
  return parts;
}

// TVM's generated code assumes 64-byte aligned buffers (it uses aligned vector loads).
constexpr size_t kTvmAlignment = 64;

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

AlignedFloats aligned_floats(size_t n) {
  void* p = std::aligned_alloc(kTvmAlignment, (n * sizeof(float) + kTvmAlignment - 1) / kTvmAlignment * kTvmAlignment);
  if (p == nullptr) fail(ErrorCode::kResource, "cannot allocate a TVM kernel buffer");
  return AlignedFloats(static_cast<float*>(p));
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kTvmAlignment == 0; }

// NCHW graph shape (batch 1) -> the NHWC shape the kernels see.
std::vector<int64_t> nhwc(const std::vector<int64_t>& s) {
  return s.size() == 4 ? std::vector<int64_t>{1, s[2], s[3], s[1]} : s;
}

class TvmLayer final : public Layer {
 public:
  static constexpr size_t kMaxArgs = 5;  // input, weight, bias, residual, output (select_tvm_steps checks)

  TvmLayer(const Graph& g, const TvmStep& step) : kernel_(*step.kernel) {
    const OpInfo& conv = g.ops[step.ops[0]];
    const std::string roles = kernel_.roles;
    for (char role : roles) {
      Arg a;
      a.role = role;
      switch (role) {
        case 'i': a.shape = nhwc(g.tensors[step.input].shape); break;
        case 'r': a.shape = nhwc(g.tensors[step.residual].shape); break;
        case 'o': a.shape = nhwc(g.tensors[step.output].shape); break;
        case 'b': {
          const TensorInfo& b = g.tensors[conv.inputs.at(2)];
          a.shape = {b.elements};
          a.data = aligned_floats(size_t(b.elements));
          std::copy(b.data, b.data + b.elements, a.data.get());
          break;
        }
        case 'w': {  // OIHW in the file -> HWIO for the kernel
          const TensorInfo& w = g.tensors[conv.inputs.at(1)];
          const int64_t o = w.shape[0], i = w.shape[1], h = w.shape[2], k = w.shape[3];
          a.shape = {h, k, i, o};
          a.data = aligned_floats(size_t(w.elements));
          for (int64_t oo = 0; oo < o; ++oo)
            for (int64_t ii = 0; ii < i; ++ii)
              for (int64_t hh = 0; hh < h; ++hh)
                for (int64_t kk = 0; kk < k; ++kk)
                  a.data[size_t(((hh * k + kk) * i + ii) * o + oo)] = w.data[((oo * i + ii) * h + hh) * k + kk];
          break;
        }
        default: fail(ErrorCode::kGraph, std::string("TVM kernel ") + kernel_.symbol + ": unknown argument role '" + role + "'");
      }
      if (role == 'o') roles_output_ = args_.size();
      a.sample_floats = 1;
      for (size_t d = 1; d < a.shape.size(); ++d) a.sample_floats *= a.shape[d];
      args_.push_back(std::move(a));
    }
  }

  void run(const RunContext& ctx, const StepBuffers& io) const override {
    // Compiled for batch 1: one call per sample. The call's descriptors live on the stack
    // (at most kMaxArgs); shapes point at the layer's own (TVM only reads them).
    tvmffi::DLTensor tensors[kMaxArgs];
    tvmffi::Any packed[kMaxArgs];
    const size_t count_args = args_.size();
    for (size_t a = 0; a < count_args; ++a) {
      tensors[a] = tvmffi::DLTensor{nullptr, {1, 0}, int32_t(args_[a].shape.size()), {2, 32, 1},
                                    const_cast<int64_t*>(args_[a].shape.data()), nullptr, 0};
      packed[a].type_index = tvmffi::kDLTensorPtr;
      packed[a].zero_padding = 0;
      packed[a].v_ptr = &tensors[a];
    }
    ThreadPool*& current = tvm_current_pool();
    ThreadPool* previous = current;
    current = ctx.pool;
    AlignedFloats staging[kMaxArgs];  // allocated only for samples not on a 64-byte boundary
    for (int n = 0; n < ctx.batch; ++n) {
      float* unaligned_output = nullptr;
      for (size_t a = 0; a < count_args; ++a) {
        const Arg& arg = args_[a];
        const size_t count = size_t(arg.sample_floats), offset = size_t(n) * count;
        float* p = arg.role == 'o'   ? io.output + offset
                   : arg.role == 'i' ? const_cast<float*>(io.input) + offset
                   : arg.role == 'r' ? const_cast<float*>(io.shortcut) + offset
                                     : arg.data.get();
        if (!aligned(p)) {
          if (!staging[a]) staging[a] = aligned_floats(count);
          if (arg.role == 'o') unaligned_output = p;
          else std::copy(p, p + count, staging[a].get());
          p = staging[a].get();
        }
        tensors[a].data = p;
      }
      tvmffi::Any result{};
      if (kernel_.fn(nullptr, packed, int32_t(count_args), &result) != 0) {
        current = previous;
        fail(ErrorCode::kInternal, std::string("TVM kernel ") + kernel_.symbol + " failed: " + tvm_last_error());
      }
      if (unaligned_output) {
        const size_t o = roles_output_;
        std::copy(staging[o].get(), staging[o].get() + args_[o].sample_floats, unaligned_output);
      }
    }
    current = previous;
  }

  std::string kernel_name() const override { return std::string("tvm:") + kernel_.symbol; }

 private:
  struct Arg {
    char role = 0;
    std::vector<int64_t> shape;
    int64_t sample_floats = 1;
    AlignedFloats data;       // weights and bias, in the kernel's layout
  };
  const TvmKernelEntry& kernel_;
  std::vector<Arg> args_;
  size_t roles_output_ = 0;  // index of the output argument
};

}  // namespace

std::vector<TvmStep> select_tvm_steps(const Graph& g, const std::string& selection) {
  std::vector<TvmStep> steps;
  if (selection.empty() || selection == "none") return steps;
  const std::vector<std::string> wanted = split(selection);
  const bool all = selection == "all";
  if (tvm_kernels().empty())
    fail(ErrorCode::kUnsupported, "TVM layers '" + selection + "' requested, but this build links no TVM kernels "
                                  "(build with -DATTOCORE_TVM_KERNELS=DIR from `attocore export-tvm`)");
  if (!all)
    for (const std::string& w : wanted) {
      bool found = false;
      for (const TvmKernelEntry& k : tvm_kernels()) found = found || split(k.ops).at(0) == w;
      if (!found) fail(ErrorCode::kUnsupported, "no linked TVM kernel computes op '" + w + "'");
    }
  std::map<std::string, int> op_index;
  for (int i = 0; i < int(g.ops.size()); ++i) op_index[g.ops[i].name] = i;
  for (const TvmKernelEntry& k : tvm_kernels()) {
    const std::vector<std::string> names = split(k.ops);
    if (names.empty()) continue;
    if (!all && std::find(wanted.begin(), wanted.end(), names[0]) == wanted.end()) continue;
    TvmStep s;
    s.kernel = &k;
    for (const std::string& n : names) {
      auto it = op_index.find(n);
      if (it == op_index.end())
        fail(ErrorCode::kGraph, "TVM kernel " + std::string(k.symbol) + " computes op '" + n +
                                    "', which this model lacks: were the kernels exported from another model?");
      s.ops.push_back(it->second);
    }
    for (int op : s.ops)
      if (touches_int8(g, g.ops[op]))
        fail(ErrorCode::kUnsupported, "TVM kernel " + std::string(k.symbol) + " computes op '" + g.ops[op].name +
                                          "', which is int8 here: the linked TVM kernels are float32");
    const OpInfo& conv = g.ops[s.ops[0]];
    if (conv.type != OpType::kConv2d) fail(ErrorCode::kGraph, "TVM kernel " + std::string(k.symbol) + ": first op is not a convolution");
    s.input = conv.inputs[0];
    s.output = g.ops[s.ops.back()].outputs[0];
    if (s.ops.size() == 2) {
      const OpInfo& add = g.ops[s.ops[1]];
      if (add.type != OpType::kAdd || (add.inputs[0] != conv.outputs[0] && add.inputs[1] != conv.outputs[0]))
        fail(ErrorCode::kGraph, "TVM kernel " + std::string(k.symbol) + ": second op is not the add of the first's output");
      s.residual = add.inputs[0] == conv.outputs[0] ? add.inputs[1] : add.inputs[0];
      if (g.is_output(conv.outputs[0]))  // the fused kernel never writes it
        fail(ErrorCode::kUnsupported, "TVM kernel " + std::string(k.symbol) + ": op '" + conv.name +
                                          "' computes a graph output, which a kernel fusing its add would not keep");
    }
    // The kernel's argument count must match what the plan will hand it.
    const std::string roles = k.roles;
    const size_t want_args = 3 + (conv.inputs.size() == 3) + (s.residual >= 0);
    if (roles.size() != want_args || roles.find('i') == std::string::npos || roles.find('o') == std::string::npos ||
        (s.residual >= 0) != (roles.find('r') != std::string::npos))
      fail(ErrorCode::kGraph, "TVM kernel " + std::string(k.symbol) + ": arguments '" + roles + "' do not fit op '" + names[0] + "'");
    steps.push_back(s);
  }
  return steps;
}

std::unique_ptr<Layer> make_tvm_layer(const Graph& graph, const TvmStep& step) {
  return std::make_unique<TvmLayer>(graph, step);
}

}  // namespace attocore
