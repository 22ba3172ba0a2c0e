// A graph activation as the kernels' epilogue clamp (kernels/epilogue.h).
#pragma once
#include "graph/graph.h"
#include "kernels/epilogue.h"

namespace attocore {

inline Epilogue epilogue_of(Activation act) {
  switch (act) {
    case Activation::kRelu: return Epilogue{0.f, __builtin_inff()};
    case Activation::kRelu6: return Epilogue{0.f, 6.f};
    case Activation::kNone: break;
  }
  return Epilogue{};
}

}  // namespace attocore
