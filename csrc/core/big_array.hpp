// BigArray: a fixed-size array for large, randomly accessed data, on huge pages where the OS
// offers them. Shared by the kernels in core/ (std only; Linux: mmap and madvise).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace pytc {

// Uninitialized (or zeroed) array of trivially copyable T for the large, randomly accessed arrays.
// On Linux, arrays of 4 MiB or more are mapped directly, aligned to 2 MiB and marked for
// transparent huge pages: random accesses otherwise miss the TLB almost every time (a third of
// the mutex watershed's greedy pass), and fresh mappings come zeroed, so zeroing is free.
template <typename T>
class BigArray {
 public:
  BigArray() = default;
  BigArray(size_t n, bool zeroed) : size_(n) {
    const size_t bytes = std::max<size_t>(n, 1) * sizeof(T);
#if defined(__linux__)
    if (bytes >= (size_t{4} << 20)) {
      constexpr size_t kHuge = size_t{2} << 20;
      mapped_ = (bytes + kHuge - 1) / kHuge * kHuge;
      void* p = mmap(nullptr, mapped_ + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      // Keep the 2 MiB-aligned part and unmap the rest.
      char* base = static_cast<char*>(p);
      char* aligned = base + (kHuge - reinterpret_cast<uintptr_t>(base) % kHuge) % kHuge;
      if (aligned != base) munmap(base, aligned - base);
      const size_t tail = (base + mapped_ + kHuge) - (aligned + mapped_);
      if (tail != 0) munmap(aligned + mapped_, tail);
#if defined(MADV_HUGEPAGE)
      madvise(aligned, mapped_, MADV_HUGEPAGE);
#endif
      data_ = reinterpret_cast<T*>(aligned);
      return;
    }
#endif
    data_ = static_cast<T*>(::operator new(bytes));
    if (zeroed) std::memset(static_cast<void*>(data_), 0, bytes);
  }
  BigArray(const BigArray&) = delete;
  BigArray& operator=(const BigArray&) = delete;
  BigArray(BigArray&& other) noexcept { swap(other); }
  BigArray& operator=(BigArray&& other) noexcept {
    BigArray(std::move(other)).swap(*this);
    return *this;
  }
  ~BigArray() {
    if (data_ == nullptr) return;
#if defined(__linux__)
    if (mapped_ != 0) {
      munmap(static_cast<void*>(data_), mapped_);
      return;
    }
#endif
    ::operator delete(static_cast<void*>(data_));
  }
  void swap(BigArray& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(mapped_, other.mapped_);
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
};

}  // namespace pytc
