// Declares the kernels of the GEMM list GEMM_LIST names (gemm_list.h), in the including
// namespace; the includer has included gemm.h and <type_traits>. Included once per list, by
// the ISA's header: no include guard on purpose.

#define GEMM_KERNEL(fn, mr, nr, packing, parts) std::remove_pointer_t<GemmUkernel> fn; parts
#define ROWS_FOR(f) GemmUkernel f(int k);
#define SINGLE_ROW(f) std::remove_pointer_t<GemmUkernel> f;
#define INDIRECT(f) std::remove_pointer_t<GemmIndirectUkernel> f;
#define TAIL(k)
#define FEWER_ROWS(k)
#define NARROW_INDIRECT(k)
#define CONFIGURE(f) void f();
#define GEMM_TABLE(nr8, wide)
#include GEMM_LIST
#undef GEMM_KERNEL
#undef ROWS_FOR
#undef SINGLE_ROW
#undef INDIRECT
#undef TAIL
#undef FEWER_ROWS
#undef NARROW_INDIRECT
#undef CONFIGURE
#undef GEMM_TABLE
#undef GEMM_LIST
