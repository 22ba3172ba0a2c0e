// Bounds a weight file may not exceed (docs/FORMAT.md); the Python reader uses the same.
#pragma once
#include <cstdint>

namespace attocore::limits {

// Version 2 adds int8 and int32 tensors with their quantization records (docs/FORMAT.md);
// a file without them is written as version 1, which every earlier reader still reads.
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kOldestFormatVersion = 1;
constexpr uint32_t kHeaderSize = 64;
constexpr uint32_t kAlign = 64;
constexpr uint32_t kCrcOffset = 56;
constexpr uint32_t kMaxString = 4096;
constexpr uint32_t kMaxTensors = 1u << 16;
constexpr uint32_t kMaxOps = 1u << 16;
constexpr uint32_t kMaxNdim = 6;
constexpr int64_t kMaxDim = int64_t(1) << 24;
constexpr int64_t kMaxElements = int64_t(1) << 31;
constexpr uint32_t kMaxLabels = 1u << 16;
constexpr uint32_t kMaxExtra = 256;
constexpr uint32_t kMaxOpArity = 16;
constexpr uint32_t kMaxGraphOutputs = 16;  // graph outputs (the graph input: exactly one)
constexpr uint32_t kMaxAttrs = 16;
constexpr uint32_t kMaxAttrValues = 16;
constexpr int64_t kMaxAttrValue = int64_t(1) << 20;

}  // namespace attocore::limits
