// The slice of Apache TVM's C ABI that a TVM-generated kernel object uses (tvm/ffi/c_api.h,
// dlpack/dlpack.h, tvm/runtime/c_backend_api.h of TVM 0.27 / tvm-ffi 0.1.x), restated so
// attocore can call such kernels with no TVM headers or runtime on the board.
#pragma once
#include <cstdint>

namespace attocore {
namespace tvmffi {

struct DLDevice {
  int32_t device_type;  // 1 = CPU
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;  // 2 = float
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // null: compact row-major
  uint64_t byte_offset;
};

enum TypeIndex : int32_t { kNone = 0, kInt = 1, kDLTensorPtr = 7 };

struct Any {
  int32_t type_index;
  uint32_t zero_padding;
  union {
    int64_t v_int64;
    double v_float64;
    void* v_ptr;
  };
};
static_assert(sizeof(Any) == 16, "TVMFFIAny is 16 bytes");

// __tvm_ffi_<name>(handle, args, num_args, result): 0 on success, else an error was raised
// through TVMFFIErrorSetRaisedFromCStrParts.
using SafeCall = int (*)(void* handle, const Any* args, int32_t num_args, Any* result);

struct ParallelGroupEnv {
  void* sync_handle;
  int32_t num_task;
};
using ParallelLambda = int (*)(int task_id, ParallelGroupEnv* env, void* cdata);

}  // namespace tvmffi
}  // namespace attocore
