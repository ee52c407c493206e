// Agglomeration, part 3 of 4: the priority queue of the merging.
//
// EdgeQueue: a min-queue of distinct uint64 entries (score bits << 32 | edge id). The initial
// entries are radix-sorted once and read in order; entries pushed later (rescored edges) go to a
// 4-ary heap; top() is the smaller of the two heads. Stale entries are skipped by the caller
// (lazy deletion, agglomerate.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace pytc {
namespace agglo {

// Min-priority queue of distinct uint64 entries: the initial entries, sorted once, are read in
// order, and later pushes go to a 4-ary heap (half the depth of a binary heap, the four
// children side by side); top() is the smaller of the two heads.
class EdgeQueue {
 public:
  EdgeQueue() = default;
  // `entries` ordered by their low 32 bits (the edge id); sorted here by the high 32 bits with a
  // stable radix sort, which gives ascending order.
  explicit EdgeQueue(std::vector<uint64_t> entries) : sorted_(std::move(entries)) {
    std::vector<uint64_t> buffer(sorted_.size());
    std::vector<std::size_t> count(std::size_t{1} << 16);
    for (int shift = 32; shift < 64; shift += 16) {
      std::fill(count.begin(), count.end(), 0);
      for (uint64_t x : sorted_) ++count[(x >> shift) & 0xFFFF];
      if (count[(sorted_.empty() ? 0 : sorted_[0] >> shift) & 0xFFFF] == sorted_.size()) continue;  // one digit
      std::size_t sum = 0;
      for (std::size_t& c : count) {
        const std::size_t next = sum + c;
        c = sum;
        sum = next;
      }
      for (uint64_t x : sorted_) buffer[count[(x >> shift) & 0xFFFF]++] = x;
      sorted_.swap(buffer);
    }
  }
  bool empty() const { return head_ == sorted_.size() && heap_.empty(); }
  // The initial entry `ahead` places after the next one (or ~0), for prefetching.
  uint64_t sorted_ahead(std::size_t ahead) const {
    return head_ + ahead < sorted_.size() ? sorted_[head_ + ahead] : ~uint64_t{0};
  }
  uint64_t top() const {
    if (head_ == sorted_.size()) return heap_[0];
    if (heap_.empty()) return sorted_[head_];
    return std::min(sorted_[head_], heap_[0]);
  }
  void pop() {
    if (head_ < sorted_.size() && (heap_.empty() || sorted_[head_] < heap_[0])) {
      ++head_;
      return;
    }
    const uint64_t last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return;
    std::size_t i = 0;
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = std::min(first + 4, n);
      for (std::size_t c = first + 1; c < end; ++c) {
        if (heap_[c] < heap_[best]) best = c;
      }
      if (!(heap_[best] < last)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
  }
  void push(uint64_t x) {
    std::size_t i = heap_.size();
    heap_.push_back(x);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!(x < heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = x;
  }

 private:
  std::vector<uint64_t> sorted_;
  std::size_t head_ = 0;
  std::vector<uint64_t> heap_;
};

}  // namespace agglo
}  // namespace pytc
