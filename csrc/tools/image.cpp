#include "tools/image.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attocore_tools {
namespace {

int read_header_int(std::istream& in, const std::string& path) {
  int c = in.peek();
  while (c == '#' || std::isspace(c)) {  // whitespace and comment lines
    if (c == '#') {
      std::string line;
      std::getline(in, line);
    } else {
      in.get();
    }
    c = in.peek();
  }
  int v = -1;
  if (!(in >> v) || v < 0) throw std::runtime_error(path + ": malformed PPM header");
  return v;
}

// (out x in) weights of a triangle filter widened by the scale when shrinking: what PIL,
// torchvision's antialias and attocore/preprocess.py compute.
std::vector<float> resample_matrix(int in_size, int out_size) {
  std::vector<float> m(size_t(out_size) * in_size, 0.f);
  const double scale = double(in_size) / out_size, support = std::max(scale, 1.0);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    double sum = 0;
    for (int i = 0; i < in_size; ++i) {
      const double w = std::max(0.0, 1.0 - std::fabs(i + 0.5 - center) / support);
      m[size_t(o) * in_size + i] = float(w);
      sum += w;
    }
    for (int i = 0; i < in_size; ++i) m[size_t(o) * in_size + i] = float(m[size_t(o) * in_size + i] / sum);
  }
  return m;
}

// HxWx3 float -> oh x ow x 3
std::vector<float> resize(const std::vector<float>& img, int h, int w, int oh, int ow) {
  const std::vector<float> rows = resample_matrix(h, oh), cols = resample_matrix(w, ow);
  std::vector<float> tmp(size_t(h) * ow * 3, 0.f), out(size_t(oh) * ow * 3, 0.f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < ow; ++x)
      for (int i = 0; i < w; ++i) {
        const float wt = cols[size_t(x) * w + i];
        if (wt == 0.f) continue;
        for (int c = 0; c < 3; ++c) tmp[(size_t(y) * ow + x) * 3 + c] += wt * img[(size_t(y) * w + i) * 3 + c];
      }
  for (int y = 0; y < oh; ++y)
    for (int i = 0; i < h; ++i) {
      const float wt = rows[size_t(y) * h + i];
      if (wt == 0.f) continue;
      for (int x = 0; x < ow * 3; ++x) out[size_t(y) * ow * 3 + x] += wt * tmp[size_t(i) * ow * 3 + x];
    }
  return out;
}

}  // namespace

RegularFile::RegularFile(const std::string& path, const char* what) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(std::string("cannot open ") + what + " '" + path + "'");
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error("'" + path + "' is not a regular file (a FIFO, socket, device or directory cannot be read as the " +
                             what + ")");
  }
  size_ = uint64_t(st.st_size);
}

RegularFile::~RegularFile() { ::close(fd_); }

std::string RegularFile::read_all() const {
  std::string bytes(size_, '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd_, &bytes[done], bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("'" + path_ + "': read failed or the file shrank while it was read");
    done += size_t(n);
  }
  return bytes;
}

RgbImage read_ppm(const std::string& path) {
  std::istringstream in(RegularFile(path, "image").read_all());
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (magic[0] != 'P' || magic[1] != '6') throw std::runtime_error(path + ": not a binary PPM (P6) image");
  RgbImage img;
  img.width = read_header_int(in, path);
  img.height = read_header_int(in, path);
  const int maxval = read_header_int(in, path);
  in.get();  // the single whitespace byte before the pixels
  if (img.width < 1 || img.height < 1 || img.width > 16384 || img.height > 16384 || maxval != 255)
    throw std::runtime_error(path + ": unsupported PPM (need 8-bit, 1..16384 pixels a side)");
  img.pixels.resize(size_t(img.width) * img.height * 3);
  in.read(reinterpret_cast<char*>(img.pixels.data()), std::streamsize(img.pixels.size()));
  if (in.gcount() != std::streamsize(img.pixels.size())) throw std::runtime_error(path + ": truncated PPM");
  return img;
}

std::vector<float> read_raw_f32(const std::string& path, size_t expected_floats) {
  RegularFile file(path, "tensor");
  const uint64_t size = file.size();
  if (size != uint64_t(expected_floats) * sizeof(float))
    throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, expected " +
                             std::to_string(expected_floats * sizeof(float)) + " (float32 NCHW of the model's input)");
  const std::string bytes = file.read_all();
  std::vector<float> data(expected_floats);
  std::memcpy(data.data(), bytes.data(), bytes.size());
  return data;
}

std::vector<float> preprocess(const RgbImage& image, int out_h, int out_w, uint32_t resize_to, const float* mean,
                              const float* std) {
  std::vector<float> rgb(image.pixels.size());
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = image.pixels[i] / 255.0f;
  int h = image.height, w = image.width;
  int top = 0, left = 0;
  if (resize_to > 0) {
    int nh, nw;
    if (h <= w) {
      nh = int(resize_to), nw = std::max(1, int(double(resize_to) * w / h));
    } else {
      nh = std::max(1, int(double(resize_to) * h / w)), nw = int(resize_to);
    }
    if (nh < out_h || nw < out_w) throw std::runtime_error("model's resize is smaller than its input size");
    rgb = resize(rgb, h, w, nh, nw);
    h = nh, w = nw;
    // Round half to even, as Python's round() in torchvision's CenterCrop and attocore/preprocess.py.
    top = int(std::nearbyint((h - out_h) / 2.0)), left = int(std::nearbyint((w - out_w) / 2.0));
  } else {
    rgb = resize(rgb, h, w, out_h, out_w);
    h = out_h, w = out_w;
  }
  std::vector<float> nchw(size_t(3) * out_h * out_w);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < out_h; ++y)
      for (int x = 0; x < out_w; ++x)
        nchw[(size_t(c) * out_h + y) * out_w + x] = (rgb[((size_t(top) + y) * w + left + x) * 3 + c] - mean[c]) / std[c];
  return nchw;
}

}  // namespace attocore_tools
