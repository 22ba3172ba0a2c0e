// Image input for the standalone runner: binary PPM (P6) decoding and the same
// preprocessing attocore/preprocess.py applies (antialiased bilinear resize of the shorter
// side, centre crop, scale to [0, 1], per-channel mean/std), giving NCHW float32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attocore_tools {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // HxWx3
};

// Throws std::runtime_error with a message naming the problem.
// A file the user named, opened without blocking (O_NONBLOCK: opening a FIFO for reading
// would wait for a writer) and refused unless the opened descriptor is a regular file (the
// model loader refuses the rest alike). `what` names its role: "image", "tensor", ...
class RegularFile {
 public:
  RegularFile(const std::string& path, const char* what);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  uint64_t size() const { return size_; }
  std::string read_all() const;  // throws if a read fails or the file shrank meanwhile

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};
RgbImage read_ppm(const std::string& path);
std::vector<float> read_raw_f32(const std::string& path, size_t expected_floats);

std::vector<float> preprocess(const RgbImage& image, int out_h, int out_w, uint32_t resize, const float* mean,
                              const float* std);

}  // namespace attocore_tools
