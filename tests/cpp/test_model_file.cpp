// The loader and executor on the tiny fixture (scripts/make_fixtures.py): it runs and
// matches the numba backend's logits, at 1 and 2 threads; every truncation and every
// single-byte corruption is refused with an attocore::Error, never a crash.
#include <cstring>

#include "exec/executor.h"
#include "format/limits.h"
#include "test_harness.h"
#include "util/crc32.h"
#include "util/error.h"

using namespace attocore;

static bool loads(const std::vector<char>& bytes, ErrorCode* code) {
  try {
    auto file = ModelFile::from_memory(bytes.data(), bytes.size());
    auto model = std::make_shared<CompiledModel>(file);
    Session session(model, 1);
    const auto in = model->input_shape(1);
    std::vector<float> x(size_t(in[1] * in[2] * in[3]), 0.5f);
    std::vector<float> y(size_t(model->graph().tensors[model->graph().output].elements));
    session.run(x.data(), 1, y.data());
    return true;
  } catch (const Error& e) {
    *code = e.code();
    return false;
  }
}

static void fix_crc(std::vector<char>& b) {
  std::memset(b.data() + limits::kCrcOffset, 0, 4);
  uint32_t crc = crc32_update(0, reinterpret_cast<const uint8_t*>(b.data()), b.size());
  std::memcpy(b.data() + limits::kCrcOffset, &crc, 4);
}

int main() {
  const std::vector<char> bytes = test::read_file(test::data_path("tiny.atto"));
  const std::vector<char> io = test::read_file(test::data_path("tiny_io.bin"));
  auto file = ModelFile::from_memory(bytes.data(), bytes.size());
  auto model = std::make_shared<CompiledModel>(file);
  const size_t in_n = 2 * 3 * 13 * 11, out_n = 2 * 7;
  CHECK(io.size() == (in_n + out_n) * sizeof(float));
  const float* x = reinterpret_cast<const float*>(io.data());
  const float* want = x + in_n;
  for (int threads : {1, 2, 3}) {
    Session session(model, threads);
    std::vector<float> y(out_n);
    session.run(x, 2, y.data());
    double err = test::max_abs_diff(y.data(), want, out_n);
    CHECK_MSG(err < 1e-5, "threads %d: max error %g vs numba", threads, err);
  }

  ErrorCode code = ErrorCode::kOk;
  CHECK(loads(bytes, &code));
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<char> cut(bytes.begin(), bytes.begin() + len);
    if (cut.empty()) cut.push_back(0);
    CHECK_MSG(!loads(cut, &code), "truncated to %zu bytes loaded", len);
  }
  // Corrupt each byte of the graph section with the checksum recomputed, so the checks
  // behind the checksum are exercised; anything may be refused, nothing may crash.
  size_t refused = 0, total = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int delta : {1, 0x80}) {
      std::vector<char> bad = bytes;
      bad[i] = char(uint8_t(bad[i]) ^ uint8_t(delta));
      std::vector<char> unfixed = bad;
      if (i < limits::kCrcOffset || i >= limits::kCrcOffset + 4) {
        CHECK_MSG(!loads(unfixed, &code), "byte %zu flipped, checksum not fixed, still loaded", i);
      }
      fix_crc(bad);
      ++total;
      if (!loads(bad, &code)) ++refused;
    }
  }
  std::printf("corruptions refused with a fixed checksum: %zu of %zu (the rest are weight values)\n", refused, total);
  CHECK(refused > 0);
  TEST_MAIN_END();
}
