// A graph activation as the kernels' epilogue clamp (kernels/epilogue.h).
#pragma once
#include "graph/graph.h"
#include "kernels/epilogue.h"
#include "util/error.h"

namespace attocore {

inline Epilogue epilogue_of(Activation act) {
  switch (act) {
    case Activation::kRelu: return Epilogue{0.f, __builtin_inff()};
    case Activation::kRelu6: return Epilogue{0.f, 6.f};
    case Activation::kNone: break;
    case Activation::kSigmoid:
    case Activation::kHardSigmoid:
    case Activation::kHardSwish:
    case Activation::kSilu:
    case Activation::kTanh:  // format/validate.cpp keeps them off every op with an epilogue
      fail(ErrorCode::kInternal, std::string("activation ") + activation_name(act) + " is no epilogue clamp");
  }
  return Epilogue{};
}

}  // namespace attocore
