// Builds, in the including namespace, the GemmKernel constants of the GEMM list GEMM_LIST names
// (gemm/gemm_list.h): one per entry, named after its tile function and displayed under that
// symbol's name; kNr8 and kWide, the table's two; kAll, every entry in list order. Included by
// kernel_table.cpp once per list, each in its own namespace: no include guard on purpose.
#define ROWS_FOR(f) .with_rows_for(::attocore::f)
#define SINGLE_ROW(f) .with_single_row(::attocore::f)
#define INDIRECT(f) .with_indirect(::attocore::f)
#define TAIL(k) .with_tail(&k)
#define FEWER_ROWS(k) .with_fewer_rows(&k)
#define NARROW_INDIRECT(k) .with_narrow_indirect(&k)
#define CONFIGURE(f) .with_configure(::attocore::f)
#define GEMM_KERNEL(fn, mr, nr, packing, parts) \
  constexpr GemmKernel fn = GemmKernel{::attocore::fn, mr, nr, #fn, GemmPacking::packing} parts;
#define GEMM_TABLE(nr8, wide)                \
  constexpr const GemmKernel* kNr8 = &nr8; \
  constexpr const GemmKernel* kWide = &wide;
#include GEMM_LIST
#undef GEMM_KERNEL
#undef GEMM_TABLE
#define GEMM_KERNEL(fn, mr, nr, packing, parts) &fn,
#define GEMM_TABLE(nr8, wide)
constexpr const GemmKernel* kAll[] = {
#include GEMM_LIST
};
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
