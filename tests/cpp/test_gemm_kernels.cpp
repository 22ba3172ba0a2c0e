// GEMM microkernel tester: every kernel of the GEMM list (gemm/gemm_<isa>.inc) of every
// instruction set this CPU runs, as listed and taken apart, against a double-precision
// product, on edge shapes and on every 1x1 layer shape of the four nets (with residual and
// clamps as the fused kernels use them, and one no activation gives); and that the lists hold no kernel their table
// never takes.
#include <deque>
#include <set>
#include <vector>

#include "kernels/dispatch/kernel_table.h"
#include "test_harness.h"
#include "zoo_shapes.h"

using namespace attocore;

static int cases = 0;

static Epilogue epilogue(unsigned i) { return Epilogue{test::clamp_for(i).min, test::clamp_for(i).max}; }

static void check(const GemmKernel& kernel, const char* isa, int m, int k, int n, bool residual, Epilogue ep,
                  unsigned seed) {
  std::vector<float> a(size_t(m) * (k + 3)), w(size_t(k) * n), bias(n), res(size_t(m) * (n + 1)), c(size_t(m) * (n + 2));
  test::fill(a, seed), test::fill(w, seed + 1), test::fill(bias, seed + 2), test::fill(res, seed + 3);
  const size_t lda = k + 3, ldc = n + 2, ldr = n + 1;  // strides wider than the rows
  PackedGemmB b = pack_gemm_b(k, n, kernel, bias.data(), [&](int ki, int ni) { return w[size_t(ki) * n + ni]; });
  std::vector<float> sentinel(c.size(), 12345.f);
  c = sentinel;
  gemm(kernel, m, a.data(), lda, b, c.data(), ldc, residual ? res.data() : nullptr, ldr, ep);
  std::vector<float> want(size_t(m) * n), got(size_t(m) * n);
  bool untouched = true;
  for (int r = 0; r < m; ++r) {
    for (int j = 0; j < n; ++j) {
      double acc = bias[j];
      for (int ki = 0; ki < k; ++ki) acc += double(a[r * lda + ki]) * w[size_t(ki) * n + j];
      if (residual) acc += res[r * ldr + j];
      want[size_t(r) * n + j] = ep.apply(float(acc));
      got[size_t(r) * n + j] = c[r * ldc + j];
    }
    for (size_t j = n; j < ldc; ++j) untouched &= c[r * ldc + j] == 12345.f;  // nothing written past n
  }
  double worst;
  ++cases;
  CHECK_MSG(test::close(got.data(), want.data(), want.size(), 2e-5 * (1 + k / 64.0), &worst),
            "%s %s m=%d k=%d n=%d residual=%d clamp [%g, %g]: error %g", isa, kernel.name, m, k, n, residual, ep.min,
            ep.max, worst);
  CHECK_MSG(untouched, "%s %s m=%d k=%d n=%d wrote past the last column", isa, kernel.name, m, k, n);
  // Split by panels (as threads split a fully connected layer): the same bits.
  std::vector<float> split = sentinel;
  const int half = b.panels() / 2;
  gemm_panels(kernel, m, a.data(), lda, b, 0, half, split.data(), ldc, residual ? res.data() : nullptr, ldr, ep);
  gemm_panels(kernel, m, a.data(), lda, b, half, b.panels(), split.data(), ldc, residual ? res.data() : nullptr, ldr,
              ep);
  CHECK_MSG(split == c, "%s %s m=%d k=%d n=%d: split by panels differs", isa, kernel.name, m, k, n);
}

// Which kernels computed which rows (6-row and 5-row tiles mixed, row kernels, one kernel
// alone) never changes the bits: threads that split the rows differently must agree.
static void check_same_bits(const GemmKernel& x, const GemmKernel& y, const char* isa, int m, int k, int n,
                            unsigned seed) {
  std::vector<float> a(size_t(m) * k), w(size_t(k) * n), bias(n), res(size_t(m) * n), cx(res.size()), cy(res.size());
  test::fill(a, seed), test::fill(w, seed + 1), test::fill(bias, seed + 2), test::fill(res, seed + 3);
  auto weight = [&](int ki, int ni) { return w[size_t(ki) * n + ni]; };
  PackedGemmB bx = pack_gemm_b(k, n, x, bias.data(), weight), by = pack_gemm_b(k, n, y, bias.data(), weight);
  const Epilogue relu{0.f, INFINITY};
  gemm(x, m, a.data(), k, bx, cx.data(), n, res.data(), n, relu);
  gemm(y, m, a.data(), k, by, cy.data(), n, res.data(), n, relu);
  ++cases;
  CHECK_MSG(cx == cy, "%s m=%d k=%d n=%d: %s and %s give different bits", isa, m, k, n, x.name, y.name);
}

// The table's kernels and every kernel they lead to (tails, fewer-rows, narrow indirect).
static void reach(const GemmKernel* k, std::set<const GemmKernel*>& seen) {
  if (k == nullptr || !seen.insert(k).second) return;
  reach(k->tail, seen), reach(k->fewer_rows, seen), reach(k->narrow_indirect, seen);
}

int main() {
  for (Isa isa : available_isas()) {
    const KernelTable& table = kernel_table(isa);
    const std::vector<const GemmKernel*>& listed = kernel_list(isa).gemm;
    // Every listed kernel serves the table; none is compiled and left out.
    std::set<const GemmKernel*> in_table;
    reach(table.gemm_nr8, in_table), reach(table.gemm_wide, in_table);
    for (const GemmKernel* k : listed)
      CHECK_MSG(in_table.count(k) == 1, "%s: %s is listed but no table kernel leads to it", isa_name(isa), k->name);
    CHECK_MSG(in_table.size() == listed.size(), "%s: the table reaches kernels its list lacks", isa_name(isa));
    // Each listed kernel as the list composes it (row kernels for small k, a single-row
    // kernel, a narrow kernel for a short last panel, a fewer-rows kernel for some row
    // counts), without its row and single-row kernels, and alone (every panel, any k, any
    // rows by its tile kernel).
    std::deque<GemmKernel> variants;
    std::vector<const GemmKernel*> kernels;
    for (const GemmKernel* k : listed) {
      kernels.push_back(k);
      if (k->rows_for || k->single_row) {
        GemmKernel tiles_only = *k;
        tiles_only.rows_for = nullptr;
        tiles_only.single_row = nullptr;
        kernels.push_back(&variants.emplace_back(tiles_only));
      }
      if (k->tail || k->fewer_rows || k->single_row) {
        GemmKernel alone = *k;
        alone.rows_for = nullptr, alone.single_row = nullptr, alone.tail = nullptr, alone.fewer_rows = nullptr;
        kernels.push_back(&variants.emplace_back(alone));
      }
    }
    for (const GemmKernel* kernel : kernels) {
      unsigned seed = 1;
      // Rows that split into full and fewer-rows tiles (25, 49, 50, 94), that cannot (7, 8, 13).
      for (int m : {1, 2, 5, 6, 7, 8, 13, 25, 49, 50, 94})
        for (int k : {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 33})
          for (int n : {1, 3, 5, 7, 8, 9, 16, 17, 24, 33, 264})
            check(*kernel, isa_name(isa), m, k, n, (m + k + n) % 2 == 0, epilogue(m + n), seed++);
      // One row (a classifier at batch 1: the single-row kernel), long k, every panel
      // count modulo its 4-panel passes, partial last panels (emulated: the smaller ones).
      for (int k : {64, 255, 1280})
        for (int n : {10, 51, 63, 64, 65, 100, 129, 1000})
          if (!test::small_mode() || k * n < 40000)
            check(*kernel, isa_name(isa), 1, k, n, n % 2 == 1, epilogue(n), seed++);
      // Every 1x1 layer of the zoo (compress, mix, decompress + projection) at a few rows.
      for (const auto& z : test::kZooModules) {
        check(*kernel, isa_name(isa), 7, z.cin, z.c1, false, epilogue(1), seed++);
        check(*kernel, isa_name(isa), 7, z.c1 * z.k, z.c3, false, epilogue(1), seed++);
        check(*kernel, isa_name(isa), 7, z.c3 + z.cin, z.cout, true, epilogue(1), seed++);
      }
    }
    // The wide kernel's own tiles only, its narrow tail kept: the same bits as the table's
    // kernel with its row kernels and fewer-rows tiles.
    GemmKernel tiles_only = *table.gemm_wide;
    tiles_only.rows_for = nullptr, tiles_only.single_row = nullptr;
    GemmKernel full_tiles = tiles_only;
    full_tiles.fewer_rows = nullptr;
    for (int m : {25, 49, 50, 94, 196})
      for (int k : {8, 16, 72, 300})
        for (const GemmKernel* kernel : {table.gemm_wide, static_cast<const GemmKernel*>(&tiles_only)})
          check_same_bits(*kernel, full_tiles, isa_name(isa), m, k, 808, 7);
    std::printf("%s: gemm kernels checked (%zu listed)\n", isa_name(isa), listed.size());
  }
  std::printf("%d cases\n", cases);
  TEST_MAIN_END();
}
