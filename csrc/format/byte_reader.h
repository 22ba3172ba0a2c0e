// Bounds-checked little-endian reads from an untrusted buffer: every read names what it
// was reading so a malformed file yields a message that points at the field.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "format/validate.h"
#include "util/error.h"

namespace attocore {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  const uint8_t* take(size_t n, const char* what) {
    if (n > remaining())
      fail(ErrorCode::kFormat, std::string("graph section truncated while reading ") + what +
                                   " at byte " + std::to_string(pos_));
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T read(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));  // the format is little-endian, as are our targets
    return v;
  }

  uint32_t count(const char* what, uint32_t limit) {
    uint32_t n = read<uint32_t>(what);
    if (n > limit)
      fail(ErrorCode::kResource, std::string(what) + " count " + std::to_string(n) +
                                     " exceeds the limit " + std::to_string(limit));
    return n;
  }

  std::string string(const char* what, uint32_t limit) {
    uint32_t n = read<uint32_t>(what);
    if (n > limit)
      fail(ErrorCode::kResource, std::string(what) + ": string length " + std::to_string(n) +
                                     " exceeds the limit " + std::to_string(limit));
    const uint8_t* p = take(n, what);
    if (!is_utf8_text(p, n)) fail(ErrorCode::kFormat, std::string(what) + ": not valid UTF-8 (or holds a NUL byte)");
    return std::string(reinterpret_cast<const char*>(p), n);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace attocore
