// The roles of a dw_conv1x1 step (dw_conv1x1.cpp), which inverted_residual.cpp grows.
#pragma once

namespace attocore::dw_conv1x1_roles {

constexpr char kDw[] = "dw", kConv[] = "conv", kAdd[] = "add";

}  // namespace attocore::dw_conv1x1_roles
