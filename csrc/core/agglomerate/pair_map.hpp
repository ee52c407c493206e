// Agglomeration, part 1 of 4: the hash map of node pairs (region-graph edges, labels -> nodes).
//
// PairMap: open addressing with linear probing and backward-shift deletion, uint64 keys -> uint32
// values, on BigArrays (zeroed fresh tables, huge pages for large ones); pair_key(a, b) is the
// order-independent key of a node pair. Used by the region graph (region_graph.hpp) and by the
// merging (agglomerate.hpp). Not thread-safe: one map per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/big_array.hpp"

namespace pytc {
namespace agglo {

// Open-addressing hash map uint64 -> uint32 with linear probing and backward-shift deletion, for
// pair keys (a << 32 | b with a < b < 2^32 - 1: never 0, which marks a free slot, nor kEmpty,
// which callers use for "no pair"). The tables are BigArrays: fresh ones come zeroed (free), and
// large ones sit on huge pages (the look-ups are random).
class PairMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr uint32_t kNone = ~uint32_t{0};

  explicit PairMap(std::size_t expected = 16) { rehash(expected * 2 + 16); }

  uint32_t find(uint64_t key) const {
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kFree) return kNone;
    }
  }
  // Value of `key`, inserting `value` first if absent.
  uint32_t find_or_insert(uint64_t key, uint32_t value) { return *emplace(key, value).first; }
  void insert(uint64_t key, uint32_t value) { emplace(key, value); }
  // Slot of `key`'s value and true, after inserting `value` if absent; or of the present value
  // and false. The pointer is valid until the next insertion.
  std::pair<uint32_t*, bool> emplace(uint64_t key, uint32_t value) {
    if ((size_ + 1) * 4 > keys_.size() * 3) rehash(keys_.size() * 2);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return {&values_[i], false};
      if (keys_[i] == kFree) {
        keys_[i] = key;
        values_[i] = value;
        ++size_;
        return {&values_[i], true};
      }
    }
  }
  // Room for `count` keys without growing.
  void reserve(std::size_t count) {
    if (count * 4 > keys_.size() * 3) rehash(count * 4 / 3 + 1);
  }
  // Whether `more` insertions would make the table grow.
  bool would_grow(std::size_t more) const { return (size_ + more) * 4 > keys_.size() * 3; }
  // Hint that `key` will be looked up soon.
  void prefetch(uint64_t key) const {
#if defined(__GNUC__) || defined(__clang__)
    const std::size_t i = slot(key);
    __builtin_prefetch(keys_.data() + i);
    __builtin_prefetch(values_.data() + i);
#else
    (void)key;
#endif
  }
  void erase(uint64_t key) {
    std::size_t i = slot(key);
    for (;; i = (i + 1) & mask_) {
      if (keys_[i] == kFree) return;
      if (keys_[i] == key) break;
    }
    // backward-shift deletion keeps probe sequences intact without tombstones
    std::size_t j = i;
    for (;;) {
      j = (j + 1) & mask_;
      if (keys_[j] == kFree) break;
      const std::size_t home = slot(keys_[j]);
      // move j into the hole i unless its home lies cyclically in (i, j]
      const bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        keys_[i] = keys_[j];
        values_[i] = values_[j];
        i = j;
      }
    }
    keys_[i] = kFree;
    --size_;
  }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return keys_.size(); }

 private:
  static constexpr uint64_t kFree = 0;

  std::size_t slot(uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }
  void rehash(std::size_t capacity) {
    std::size_t cap = 16;
    int bits = 4;
    while (cap < capacity) {
      cap <<= 1;
      ++bits;
    }
    BigArray<uint64_t> old_keys(cap, true);
    BigArray<uint32_t> old_values(cap, false);
    old_keys.swap(keys_);
    old_values.swap(values_);
    mask_ = cap - 1;
    shift_ = 64 - bits;
    size_ = 0;
    for (std::size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kFree) emplace(old_keys[i], old_values[i]);
    }
  }
  BigArray<uint64_t> keys_;
  BigArray<uint32_t> values_;
  std::size_t mask_ = 0, size_ = 0;
  int shift_ = 60;
};

inline uint64_t pair_key(uint32_t a, uint32_t b) {
  return a < b ? (uint64_t{a} << 32 | b) : (uint64_t{b} << 32 | a);
}

}  // namespace agglo
}  // namespace pytc
