// libFuzzer target: the C++ loader, graph validation, planning, and for files that load
// with a small enough plan, a run on a deterministic input at batch 1 and 2, on the fastest
// kernel set and on the reference one. Any crash, sanitizer report or exception other than
// attocore::Error is a bug. Seeds: fuzz/make_corpus.py, including valid random graphs of
// every op and fusion pattern from fuzz/graph_gen.py (structure-aware starting points).
#include <cstddef>
#include <cstdint>
#include <vector>

#include <cstring>

#include "exec/executor.h"
#include "format/limits.h"
#include "util/crc32.h"
#include "util/error.h"

// Most mutations would only ever meet the checksum. For inputs whose last byte is odd the
// harness rewrites the checksum field so the parser and validator behind it get explored;
// the rest keep the checksum check itself covered.
static std::vector<uint8_t> with_valid_checksum(const uint8_t* data, size_t size) {
  std::vector<uint8_t> copy(data, data + size);
  const size_t at = attocore::limits::kCrcOffset;
  if (size >= attocore::limits::kHeaderSize && (data[size - 1] & 1)) {
    std::memset(copy.data() + at, 0, 4);
    const uint32_t crc = attocore::crc32_update(0, copy.data(), copy.size());
    std::memcpy(copy.data() + at, &crc, 4);
  }
  return copy;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t raw_size) {
  const std::vector<uint8_t> bytes = with_valid_checksum(raw, raw_size);
  const uint8_t* data = bytes.data();
  const size_t size = bytes.size();
  if (size == 0) return 0;
  try {
    auto file = attocore::ModelFile::from_memory(data, size);
    for (bool reference : {false, true}) {
      auto model = std::make_shared<attocore::CompiledModel>(file, attocore::CompileOptions{reference, true});
      attocore::Session session(model, 1);
      session.set_max_arena_bytes(size_t(64) << 20);  // a refusal above it is itself worth covering
      const auto in = model->input_shape(1);
      const auto out = model->output_shape(1);
      int64_t in_n = 1, out_n = 1;
      for (size_t i = 1; i < in.size(); ++i) in_n *= in[i];
      for (size_t i = 1; i < out.size(); ++i) out_n *= out[i];
      // Only run what is cheap: the fuzzer's budget goes to exploring, not to big convolutions.
      if (session.arena_bytes(2) > (size_t(16) << 20) || model->total_macs() > 20'000'000) return 0;
      for (int batch : {1, 2}) {
        std::vector<float> x(size_t(in_n) * batch), y(size_t(out_n) * batch);
        for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 17) - 8) * 0.125f;
        session.run(x.data(), batch, y.data());
      }
    }
  } catch (const attocore::Error&) {
    // A clear refusal is the expected outcome for malformed input.
  }
  return 0;
}
