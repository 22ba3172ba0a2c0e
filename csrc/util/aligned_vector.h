// std::vector storage aligned to a cache line. Packed weights are read with full-width vector
// loads: a 64-byte zmm load from a 16-byte aligned buffer (what malloc gives) straddles two
// cache lines every time, which cost the AVX-512 GEMM 5-15% (measured here on AttoNet-A's products).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace attocore {

constexpr size_t kCacheLine = 64;

template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + kCacheLine - 1) / kCacheLine * kCacheLine;
    void* p = std::aligned_alloc(kCacheLine, bytes > 0 ? bytes : kCacheLine);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const CacheAlignedAllocator<U>&) const { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

}  // namespace attocore
