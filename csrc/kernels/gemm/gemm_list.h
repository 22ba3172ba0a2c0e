// How a GEMM kernel list (gemm_ref.inc, gemm_avx2.inc, gemm_avx512.inc, gemm_neon.inc, and the
// fp16 table's gemm_neonfp16.inc) is
// written and read. Each list is the one place an instruction set's GEMM kernels are named:
// its entries declare them (the ISA's header includes the list through gemm_declare.h),
// describe them as GemmKernel constants named after their tile function, with their display
// names from the same symbol, and give the kernel table its two choices (kernel_table.cpp);
// the testers run every kernel of every list (kernel_list(isa).gemm). A new kernel is an entry
// in its ISA's list and its code in that ISA's file (gemm_<isa>.cpp).
//
//   GEMM_KERNEL(fn, mr, nr, packing, parts)
//     a tile kernel void fn(const GemmTile&) of mr rows x nr columns on GemmPacking::packing,
//     with its optional parts (gemm.h's GemmKernel), space separated, any of
//       ROWS_FOR(f)         GemmUkernel f(int k): the row kernel for a small k, or null
//       SINGLE_ROW(f)       void f(const GemmTile&): a product of one row
//       INDIRECT(f)         void f(const GemmIndirectTile&): the indirect variant
//       TAIL(k)             kernel k (an entry above) for a narrow last panel
//       FEWER_ROWS(k)       kernel k (above), one row fewer on the same packing
//       NARROW_INDIRECT(k)  kernel k (above) for convolutions of at most k's nr outputs
//       CONFIGURE(f)        void f(): the unit's setup, run by the driver before fn's tiles
//   GEMM_TABLE(nr8, wide)
//     the table's kernels (KernelTable::gemm_for): nr8 for at most 8 output columns, wide
//     for more. Every other entry must be reachable from these two (the GEMM tester checks).
#pragma once
