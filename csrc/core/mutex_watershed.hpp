// Mutex watershed (Wolf et al. 2018, "The Mutex Watershed: Efficient, Parameter-Free Image
// Partitioning") on an affinity graph with attractive and repulsive offset channels.
//
// Graph: channel c links voxel v with v + offsets[c] (edges leaving the volume, edges touching a
// masked-out voxel and repulsive edges not selected by `keep` are skipped). The first
// `n_attractive` channels are attractive edges of weight aff[c, v]; the others are repulsive edges
// of weight 1 - aff[c, v] (computed in float32).
//
// Order: edges are processed by descending weight; equal weights by ascending edge index
// c * N + v (channel-major, then C-order voxel index). The Python reference uses the same order,
// so both give identical labels.
//
// Algorithm: union-find with path compression over the voxels. An attractive edge between two
// clusters merges them unless a mutex exists between their roots; a repulsive edge between two
// clusters adds a mutex. Mutexes live in one open-addressing hash set of root pairs, plus one
// contiguous list per root holding a member of each mutex partner (each entry's current root is
// a partner; two entries may name the same partner after partners merged). When root s merges
// into root r (r: the root with the longer list), s's entries are re-keyed to r and appended to
// r's list, except those naming a partner r already has; a stale pair (s, x) left in the set is
// never queried again because s is no longer a root. (Contiguous lists rather than linked
// lists: walking a list on a merge was the largest single cost, one cache miss per link.) The
// lists are power-of-two blocks of one pool with a free list per block size, addressed from the
// root's 16-byte record (list length, voxel count, block), so the pass never calls the heap.
//
// Sorting: each edge is one 64-bit key, the order-preserving (descending) bits of its float weight
// in the high half and its edge index in the low half. The keys are scattered straight from the
// weights, in index order, into up to 4096 buckets of the weight range (monotone in the weight;
// passes over the weights find the range and count the buckets first), then an in-cache stable
// radix sort of each bucket on the high half (buckets in parallel) gives the full order.
// When C * N >= 2^32 the index does not fit and a 16-byte key path (LSD radix sort) is used.
// The greedy pass is software-pipelined (parents, roots, root records, mutex-list blocks and hash
// slots of upcoming edges are prefetched), since its random accesses to arrays larger than the
// caches dominate; for the same reason the large arrays are mapped with transparent huge pages
// on Linux (4 KiB pages made a TLB miss of almost every access).
//
// Labels: clusters are numbered 1..K in C order of their first voxel; masked voxels get 0.
// Stages of mutex_watershed(): 1. count_row_edges (edges per row of each channel, Graph lists
// them); 2. sort_and_merge_keys64 (generate_sorted_keys) or sort_and_merge_keys128 (radix_sort),
// each ending in MutexClustering::greedy_pass; 3. MutexClustering::write_labels.
// Complexity: O(E) sort + O(E alpha(N)) union-find + the mutex moves (each move walks the shorter
// list). Memory: 8 bytes per edge (16 on the 16-byte key path, 32 while it sorts), 20 bytes per
// voxel, 4-8 bytes per mutex list entry (the pool starts with room for three entries per
// repulsive edge, but only what is used is touched) and 16-32 bytes per mutex set entry (the set is reserved
// for half the repulsive edges).
// Threading: key generation, the bucket scatter and the per-bucket sorts run with OpenMP over
// `threads` (<= 0: OpenMP's default); the greedy union-find pass is sequential.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/big_array.hpp"

namespace pytc {

namespace mws_detail {

// Order-preserving map of a float to uint32, inverted so that larger weights sort first.
inline uint32_t descending_key(float w) {
  w += 0.0f;  // -0 -> +0
  uint32_t bits;
  std::memcpy(&bits, &w, sizeof bits);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

// Hash set of nonzero uint64 keys (0 = empty slot), linear probing, grows at load 1/2.
class PairSet {
 public:
  PairSet() { rehash(1 << 12); }

  bool contains(uint64_t key) const {
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const uint64_t k = table_[i];
      if (k == key) return true;
      if (k == 0) return false;
    }
  }
  void prefetch(uint64_t key) const { __builtin_prefetch(&table_[slot(key)]); }
  void reserve(size_t n) {
    size_t capacity = table_.size();
    while (capacity < 2 * n) capacity *= 2;
    if (capacity > table_.size()) rehash(capacity);
  }
  // Returns true if the key was new.
  bool insert(uint64_t key) {
    if (2 * (size_ + 1) > table_.size()) rehash(table_.size() * 2);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const uint64_t k = table_[i];
      if (k == key) return false;
      if (k == 0) {
        table_[i] = key;
        ++size_;
        return true;
      }
    }
  }

 private:
  size_t slot(uint64_t key) const {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<size_t>(key) & mask_;
  }
  void rehash(size_t capacity) {
    BigArray<uint64_t> old(capacity, true);
    old.swap(table_);
    mask_ = capacity - 1;
    for (size_t j = 0; j < old.size(); ++j) {
      const uint64_t k = old[j];
      if (k == 0) continue;
      size_t i = slot(k);
      while (table_[i] != 0) i = (i + 1) & mask_;
      table_[i] = k;
    }
  }
  BigArray<uint64_t> table_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// The mutex lists of all roots in one pool of uint32 blocks. Block sizes are powers of two of at
// least 2 entries, and a list of n entries always lives in a block of capacity(n) entries, so a
// root needs only its list length and block offset. Freed blocks go onto one free list per size
// (the link, a 64-bit offset, is kept in the block's first two entries); the pool grows by
// doubling. No allocation from the heap per root.
class ListPool {
 public:
  static constexpr uint64_t kNone = ~uint64_t{0};
  static int size_class(uint64_t n) { return n <= 2 ? 1 : 64 - __builtin_clzll(n - 1); }
  static uint64_t capacity(uint64_t n) { return uint64_t{1} << size_class(n); }

  explicit ListPool(uint64_t reserve) : capacity_(std::max<uint64_t>(reserve, 64)), data_(capacity_, false) {
    std::fill(std::begin(free_), std::end(free_), kNone);
  }
  uint32_t* at(uint64_t block) { return data_.data() + block; }
  // A block of 2^k entries; invalidates pointers from at().
  uint64_t allocate(int k) {
    const uint64_t head = free_[k];
    if (head != kNone) {
      std::memcpy(&free_[k], data_.data() + head, sizeof(uint64_t));
      return head;
    }
    const uint64_t size = uint64_t{1} << k;
    if (top_ + size > capacity_) {
      const uint64_t grown = std::max(2 * capacity_, top_ + size);
      BigArray<uint32_t> data(grown, false);
      std::memcpy(data.data(), data_.data(), top_ * sizeof(uint32_t));
      data_.swap(data);
      capacity_ = grown;
    }
    const uint64_t block = top_;
    top_ += size;
    return block;
  }
  void release(uint64_t block, int k) {
    std::memcpy(data_.data() + block, &free_[k], sizeof(uint64_t));
    free_[k] = block;
  }

 private:
  uint64_t capacity_, top_ = 0;
  BigArray<uint32_t> data_;
  uint64_t free_[65];
};

inline uint64_t pair_key(uint32_t a, uint32_t b) {
  return a < b ? (uint64_t{a} << 32 | b) : (uint64_t{b} << 32 | a);
}

// Stable LSD radix sort of `keys` by the 32-bit sort key key_of(element) - min over keys:
// 2 passes of 15-bit digits when the keys span at most 2^30 values (any weights within [0, 1]),
// else 3 passes of 11 bits.
template <typename T, typename KeyOf>
void radix_sort(std::vector<T>& keys, KeyOf raw_key_of, int threads) {
  const size_t n = keys.size();
  if (n < 2) return;
  uint32_t lo = 0xffffffffu, hi = 0;
  for (const T& k : keys) {
    const uint32_t key = raw_key_of(k);
    lo = std::min(lo, key);
    hi = std::max(hi, key);
  }
  if (lo == hi) return;
  const int kBits = hi - lo < (uint32_t{1} << 30) ? 15 : 11;
  const int kBuckets = 1 << kBits;
  const int total_bits = hi - lo < (uint32_t{1} << 30) ? 30 : 32;
  auto key_of = [&](const T& k) { return raw_key_of(k) - lo; };
  std::vector<T> buffer(n);
  int n_threads = 1;
#if defined(_OPENMP)
  n_threads = threads > 0 ? threads : omp_get_max_threads();
  if (n < (size_t{1} << 16)) n_threads = 1;
#else
  (void)threads;
#endif
  std::vector<size_t> counts(static_cast<size_t>(n_threads) * kBuckets);
  for (int shift = 0; shift < total_bits; shift += kBits) {
    std::fill(counts.begin(), counts.end(), 0);
    const T* src = keys.data();
    T* dst = buffer.data();
    bool single_bucket = false;
#if defined(_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
      int t = 0;
#if defined(_OPENMP)
      t = omp_get_thread_num();
#endif
      const size_t begin = n * t / n_threads, end = n * (t + 1) / n_threads;
      size_t* count = counts.data() + static_cast<size_t>(t) * kBuckets;
      for (size_t i = begin; i < end; ++i) ++count[(key_of(src[i]) >> shift) & (kBuckets - 1)];
#if defined(_OPENMP)
#pragma omp barrier
#pragma omp single
#endif
      {
        // Exclusive prefix over (bucket, thread): thread t writes its share of a bucket after
        // the shares of threads < t, which keeps the sort stable.
        size_t total = 0;
        for (int b = 0; b < kBuckets; ++b) {
          for (int u = 0; u < n_threads; ++u) {
            size_t& c = counts[static_cast<size_t>(u) * kBuckets + b];
            if (c == n) single_bucket = true;
            const size_t here = c;
            c = total;
            total += here;
          }
        }
      }
      if (!single_bucket) {
        for (size_t i = begin; i < end; ++i) {
          const T value = src[i];
          dst[count[(key_of(value) >> shift) & (kBuckets - 1)]++] = value;
        }
      }
    }
    if (!single_bucket) keys.swap(buffer);
  }
}

// Inverse of descending_key.
inline float weight_of_key(uint32_t key) {
  const uint32_t ascending = ~key;
  const uint32_t bits = (ascending & 0x80000000u) ? (ascending & 0x7fffffffu) : ~ascending;
  float w;
  std::memcpy(&w, &bits, sizeof w);
  return w;
}

// Stable LSD radix sort, in place, of n 64-bit keys by their high 32 bits (tmp: scratch of n
// keys). Small inputs use insertion sort on the whole key, which gives the same order since the
// low halves (edge indices) are distinct and ascending among equal high halves.
inline void sort_run(uint64_t* data, uint64_t* tmp, size_t n) {
  if (n < 48) {
    for (size_t i = 1; i < n; ++i) {
      const uint64_t k = data[i];
      size_t j = i;
      while (j > 0 && data[j - 1] > k) {
        data[j] = data[j - 1];
        --j;
      }
      data[j] = k;
    }
    return;
  }
  uint32_t lo = 0xffffffffu, hi = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t k = static_cast<uint32_t>(data[i] >> 32);
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  int bits = 0;
  while (bits < 32 && ((hi - lo) >> bits) != 0) ++bits;
  if (bits == 0) return;
  const int passes = (bits + 9) / 10;
  const int digit = (bits + passes - 1) / passes;
  const uint32_t digit_mask = (uint32_t{1} << digit) - 1;
  uint32_t count[1 << 11];
  // Passes alternate between the two arrays; an odd count starts from a copy so the last one
  // writes `data`.
  uint64_t* from = data;
  uint64_t* to = tmp;
  if (passes % 2 == 1) {
    std::memcpy(tmp, data, n * sizeof(uint64_t));
    std::swap(from, to);
  }
  const uint64_t base = uint64_t{lo} << 32;
  for (int p = 0; p < passes; ++p) {
    const int shift = 32 + p * digit;
    std::memset(count, 0, sizeof(uint32_t) << digit);
    for (size_t i = 0; i < n; ++i) ++count[((from[i] - base) >> shift) & digit_mask];
    uint32_t total = 0;
    for (uint32_t b = 0; b <= digit_mask; ++b) {
      const uint32_t c = count[b];
      count[b] = total;
      total += c;
    }
    for (size_t i = 0; i < n; ++i) {
      const uint64_t k = from[i];
      to[count[((k - base) >> shift) & digit_mask]++] = k;
    }
    std::swap(from, to);
  }
}

// Fills `keys` (sized to the number of edges) with the sorted 64-bit keys (high half:
// descending_key of the weight; low half: distinct edge index). for_part(p, emit) calls
// emit(weight, key) for the edges of part p in ascending index order, parts in index order.
// Keys go straight from the weights into buckets of the weight range (bucket =
// floor((w_max - w) / (w_max - w_min) * B), monotone in the weight; a stable scatter, each thread
// over a contiguous range of parts), then each bucket is radix-sorted in cache; buckets in
// parallel. Three passes over the weights (range, bucket counts, scatter) cost less than
// writing and re-reading an array of keys.
template <typename ForPart>
void generate_sorted_keys(BigArray<uint64_t>& keys, int64_t n_parts, ForPart&& for_part, int n_threads) {
  const size_t n = keys.size();
  if (n == 0) return;
#if !defined(_OPENMP)
  (void)n_threads;
#endif
  uint32_t lo = 0xffffffffu, hi = 0;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(n_threads) reduction(min : lo) reduction(max : hi)
#endif
  for (int64_t p = 0; p < n_parts; ++p) {
    uint32_t part_lo = 0xffffffffu, part_hi = 0;
    for_part(p, [&](float weight, uint64_t) {
      const uint32_t k = descending_key(weight);
      part_lo = std::min(part_lo, k);
      part_hi = std::max(part_hi, k);
    });
    lo = std::min(lo, part_lo);
    hi = std::max(hi, part_hi);
  }
  const double w_max = weight_of_key(lo), w_min = weight_of_key(hi);
  size_t n_buckets = 1;
  while (n_buckets < 4096 && n_buckets * 2048 < n) n_buckets *= 2;
  const double span = w_max - w_min;
  // Equal or non-finite spans (infinite weights): one bucket, sorted by radix passes.
  const double scale = std::isfinite(span) && span > 0 ? static_cast<double>(n_buckets) / span : 0.0;
  if (scale == 0.0) n_buckets = 1;
  auto bucket_of = [&](float weight) -> size_t {
    const double b = (w_max - static_cast<double>(weight)) * scale;
    return b >= static_cast<double>(n_buckets) ? n_buckets - 1 : (b > 0 ? static_cast<size_t>(b) : 0);
  };
  std::vector<size_t> counts;
  std::vector<size_t> starts(n_buckets + 1, 0);
#if defined(_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
  {
    int t = 0, n_team = 1;
#if defined(_OPENMP)
    t = omp_get_thread_num();
    n_team = omp_get_num_threads();
#pragma omp single
#endif
    counts.assign(static_cast<size_t>(n_team) * n_buckets, 0);  // (implicit barrier after single)
    const int64_t begin = n_parts * t / n_team, end = n_parts * (t + 1) / n_team;
    size_t* count = counts.data() + static_cast<size_t>(t) * n_buckets;
    for (int64_t p = begin; p < end; ++p) {
      for_part(p, [&](float weight, uint64_t) { ++count[bucket_of(weight)]; });
    }
#if defined(_OPENMP)
#pragma omp barrier
#pragma omp single
#endif
    {
      // Exclusive prefix over (bucket, thread): thread t writes its share of a bucket after the
      // shares of threads < t, which keeps the scatter stable.
      size_t total = 0;
      for (size_t b = 0; b < n_buckets; ++b) {
        starts[b] = total;
        for (int u = 0; u < n_team; ++u) {
          size_t& c = counts[static_cast<size_t>(u) * n_buckets + b];
          const size_t here = c;
          c = total;
          total += here;
        }
      }
      starts[n_buckets] = total;
    }
    uint64_t* out = keys.data();
    for (int64_t p = begin; p < end; ++p) {
      for_part(p, [&](float weight, uint64_t key) { out[count[bucket_of(weight)]++] = key; });
    }
#if defined(_OPENMP)
#pragma omp barrier
#endif
    std::vector<uint64_t> tmp;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 8)
#endif
    for (size_t b = 0; b < n_buckets; ++b) {
      const size_t size = starts[b + 1] - starts[b];
      if (tmp.size() < size) tmp.resize(size);
      sort_run(out + starts[b], tmp.data(), size);
    }
  }
}

struct Key128 {
  uint32_t weight;
  uint64_t index;
};

}  // namespace mws_detail

struct MwsOffset3 {
  int64_t z, y, x;
};

namespace mws_detail {

// The edges of the affinity graph (see mutex_watershed()): row r = z * Y + y of channel c holds
// the edges from the voxels of that row to v + offsets[c].
struct Graph {
  const float* aff;
  int64_t Z, Y, X, N;
  const MwsOffset3* offsets;
  int64_t n_channels, n_attractive;
  const uint8_t* mask;
  const uint8_t* keep;
  const int64_t* stride;

  int64_t rows() const { return Z * Y; }

  // The x range [begin, end) of the edges of channel c in row r, false if empty (before the
  // mask, keep and x stride).
  bool row_range(int64_t c, int64_t r, int64_t& begin, int64_t& end) const {
    const int64_t z = r / Y, y = r % Y;
    const MwsOffset3 o = offsets[c];
    const int64_t nz = z + o.z, ny = y + o.y;
    if (nz < 0 || nz >= Z || ny < 0 || ny >= Y) return false;
    if (c >= n_attractive && (z % stride[0] != 0 || y % stride[1] != 0)) return false;
    begin = std::clamp<int64_t>(-o.x, 0, X);
    end = std::clamp<int64_t>(X - o.x, 0, X);
    return begin < end;
  }

  // Calls f(v, w, weight) for each edge of channel c in row r, in increasing v.
  template <typename F>
  void for_row(int64_t c, int64_t r, F&& f) const {
    int64_t begin, end;
    if (!row_range(c, r, begin, end)) return;
    const MwsOffset3 o = offsets[c];
    const int64_t base = r * X;
    const int64_t delta = (o.z * Y + o.y) * X + o.x;
    const float* a = aff + c * N + base;
    const bool attractive = c < n_attractive;
    const uint8_t* kept = keep != nullptr && !attractive ? keep + (c - n_attractive) * N + base : nullptr;
    const int64_t sx = attractive ? 1 : stride[2];
    if (sx > 1) begin = (begin + sx - 1) / sx * sx;
    for (int64_t x = begin; x < end; x += sx) {
      const int64_t v = base + x;
      if (mask != nullptr && (mask[v] == 0 || mask[v + delta] == 0)) continue;
      if (kept != nullptr && kept[x] == 0) continue;
      f(v, v + delta, attractive ? a[x] : 1.0f - a[x]);
    }
  }
};

// Stage 1: the number of edges before each row of each channel (row cr = c * rows + r; entry
// cr + 1 counts the rows up to cr; the last entry is the number of edges). Rows are counted in
// parallel, so that on the 16-byte key path they can be filled in parallel.
inline std::vector<uint64_t> count_row_edges(const Graph& g, int n_threads) {
  const int64_t rows = g.rows();
  const int64_t n_rows_total = g.n_channels * rows;
  std::vector<uint64_t> row_counts(static_cast<size_t>(n_rows_total) + 1, 0);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(n_threads) if (g.N * g.n_channels >= (1 << 16))
#else
  (void)n_threads;
#endif
  for (int64_t cr = 0; cr < n_rows_total; ++cr) {
    uint64_t count = 0;
    g.for_row(cr / rows, cr % rows, [&](int64_t, int64_t, float) { ++count; });
    row_counts[cr + 1] = count;
  }
  for (int64_t i = 0; i < n_rows_total; ++i) row_counts[i + 1] += row_counts[i];
  return row_counts;
}

// Stage 2's state: union-find over the voxels, the per-root records and the mutexes (a hash set
// of root pairs plus a list per root in one pool, see the header comment).
class MutexClustering {
 public:
  MutexClustering(int64_t n_voxels, uint64_t n_repulsive_edges)
      : parent_(static_cast<size_t>(n_voxels), false),
        state_(static_cast<size_t>(n_voxels), false),
        // Untouched pool memory costs no page faults, so the pool starts large enough not to
        // grow on typical inputs (a pool of 1.3 entries per repulsive edge was seen; growing
        // copies it).
        pool_(std::min<uint64_t>(3 * n_repulsive_edges, uint64_t{1} << 28)) {
    for (int64_t v = 0; v < n_voxels; ++v) parent_[v] = static_cast<uint32_t>(v);
    for (int64_t v = 0; v < n_voxels; ++v) state_[v] = RootState{0, 1, 0};
    // Repulsive edges bound the number of mutexes; reserving for half of them avoids most of the
    // rehashing (each of which rewrites an array larger than the caches).
    mutexes_.reserve(static_cast<size_t>(n_repulsive_edges / 2));
  }

  uint32_t find(uint32_t v) {
    uint32_t root = v;
    while (parent_[root] != root) root = parent_[root];
    while (parent_[v] != root) {
      const uint32_t next = parent_[v];
      parent_[v] = root;
      v = next;
    }
    return root;
  }

  // Stage 2, the greedy pass over n edges in order: index_of(i) gives the index c * N + v of the
  // i-th edge, delta[c] the voxel offset of channel c. Union-find and mutex lookups are random
  // accesses into arrays larger than the caches, so the loop is software-pipelined: kFar edges
  // ahead it decodes the edge and prefetches the parents of its ends; kNear edges ahead it finds
  // their (likely final) roots, keeps them in place of the ends and prefetches their root records
  // and hash slot; kMid edges ahead it prefetches the start and end of their mutex lists.
  template <typename IndexOf>
  void greedy_pass(size_t n, IndexOf&& index_of, const std::vector<int64_t>& delta, int64_t N,
                   int64_t n_attractive) {
    const int64_t n_channels = static_cast<int64_t>(delta.size());
    constexpr size_t kFar = 24, kNear = 10, kMid = 5, kRing = 32;
    uint32_t ring_u[kRing], ring_w[kRing];
    bool ring_attractive[kRing];
    auto decode = [&](size_t i) {
      const uint64_t index = index_of(i);
      uint64_t c = 0;  // channel: the number of later channel starts at or below index
      for (int64_t k = 1; k < n_channels; ++k) c += index >= static_cast<uint64_t>(k * N);
      const uint32_t v = static_cast<uint32_t>(index - c * static_cast<uint64_t>(N));
      const size_t slot = i % kRing;
      ring_u[slot] = v;
      ring_w[slot] = static_cast<uint32_t>(static_cast<int64_t>(v) + delta[c]);
      ring_attractive[slot] = static_cast<int64_t>(c) < n_attractive;
      __builtin_prefetch(&parent_[ring_u[slot]]);
      __builtin_prefetch(&parent_[ring_w[slot]]);
    };
    for (size_t i = 0; i < std::min(n, kFar); ++i) decode(i);
    for (size_t i = 0; i < n; ++i) {
      if (i + kFar < n) decode(i + kFar);
      if (i + kNear < n) {
        // The roots replace the voxels in the ring: find(root found now) = find(voxel) later.
        const size_t slot = (i + kNear) % kRing;
        const uint32_t ru = find(ring_u[slot]), rw = find(ring_w[slot]);
        ring_u[slot] = ru;
        ring_w[slot] = rw;
        if (ru != rw) {
          __builtin_prefetch(&state_[ru]);
          __builtin_prefetch(&state_[rw]);
          mutexes_.prefetch(pair_key(ru, rw));
        }
      }
      if (i + kMid < n) {
        const size_t slot = (i + kMid) % kRing;
        const uint32_t ru = ring_u[slot], rw = ring_w[slot];
        if (ru != rw) {
          const RootState& a = state_[ru];
          const RootState& b = state_[rw];
          if (a.list_len != 0) {
            __builtin_prefetch(pool_.at(a.block));
            __builtin_prefetch(pool_.at(a.block + a.list_len));
          }
          if (b.list_len != 0) {
            __builtin_prefetch(pool_.at(b.block));
            __builtin_prefetch(pool_.at(b.block + b.list_len));
          }
        }
      }
      const size_t slot = i % kRing;
      process(ring_u[slot], ring_w[slot], ring_attractive[slot]);
    }
  }

  // Stage 3: labels 1..K in order of each cluster's first voxel (0 for masked voxels); returns
  // K. The voxel counts of the root records become root -> label.
  uint64_t write_labels(int64_t N, const uint8_t* mask, uint64_t* labels) {
    for (int64_t v = 0; v < N; ++v) state_[v].size = 0;
    uint64_t next = 0;
    for (int64_t v = 0; v < N; ++v) {
      if (mask != nullptr && mask[v] == 0) {
        labels[v] = 0;
        continue;
      }
      const uint32_t r = find(static_cast<uint32_t>(v));
      if (state_[r].size == 0) state_[r].size = static_cast<uint32_t>(++next);
      labels[v] = state_[r].size;
    }
    return next;
  }

 private:
  // Per-root state in one 16-byte record, so that a root costs one cache line: mutex list
  // length, voxel count (the output label in stage 3) and the list's block in the pool.
  struct RootState {
    uint32_t list_len, size;
    uint64_t block;
  };

  // Appends member to root's mutex list.
  void push(uint32_t root, uint32_t member) {
    RootState& st = state_[root];
    const uint32_t n = st.list_len;
    if (n == 0) {
      st.block = pool_.allocate(1);
    } else if (n >= 2 && (n & (n - 1)) == 0) {
      const int k = ListPool::size_class(n);
      const uint64_t block = pool_.allocate(k + 1);
      std::memcpy(pool_.at(block), pool_.at(st.block), n * sizeof(uint32_t));
      pool_.release(st.block, k);
      st.block = block;
    }
    pool_.at(st.block)[n] = member;
    st.list_len = n + 1;
  }

  // One edge between voxels u and w (or their roots): an attractive edge merges the two clusters
  // unless they have a mutex, a repulsive edge adds one.
  void process(uint32_t u, uint32_t w, bool attractive) {
    uint32_t ru = find(u), rw = find(w);
    if (ru == rw) return;
    if (attractive) {
      if (state_[ru].list_len != 0 && state_[rw].list_len != 0 && mutexes_.contains(pair_key(ru, rw))) return;
      // r keeps the longer mutex list; s's entries are re-keyed and moved onto it.
      if (state_[ru].list_len < state_[rw].list_len || (state_[ru].list_len == state_[rw].list_len && state_[ru].size < state_[rw].size)) std::swap(ru, rw);
      const uint32_t r = ru, s = rw;
      RootState& sr = state_[r];
      RootState& ss = state_[s];
      parent_[s] = r;
      sr.size += ss.size;
      const uint32_t ls = ss.list_len;
      if (ls == 0) return;
      // Room on r's block for all of s's entries.
      uint32_t lr = sr.list_len;
      const int k_old = ListPool::size_class(lr), k_new = ListPool::size_class(uint64_t{lr} + ls);
      if (lr == 0) {
        sr.block = pool_.allocate(k_new);
      } else if (k_new != k_old) {
        const uint64_t block = pool_.allocate(k_new);
        std::memcpy(pool_.at(block), pool_.at(sr.block), lr * sizeof(uint32_t));
        pool_.release(sr.block, k_old);
        sr.block = block;
      }
      // Move s's entries whose partner is new to r onto r's list (the entry now names the
      // partner's root); drop the ones that repeat a partner r already has. In passes, so that
      // the random accesses of different entries overlap: prefetch the members' parents; find
      // the partners' roots and prefetch their hash slots; insert.
      uint32_t* from = pool_.at(ss.block);
      uint32_t* to = pool_.at(sr.block);
      for (uint32_t j = 0; j < ls; ++j) __builtin_prefetch(&parent_[from[j]]);
      for (uint32_t j = 0; j < ls; ++j) {
        from[j] = find(from[j]);
        mutexes_.prefetch(pair_key(r, from[j]));
      }
      for (uint32_t j = 0; j < ls; ++j) {
        if (mutexes_.insert(pair_key(r, from[j]))) to[lr++] = from[j];
      }
      pool_.release(ss.block, ListPool::size_class(ls));
      ss.list_len = 0;
      // Give back the unused halves of r's block (a list of n entries lives in capacity(n)).
      int k = k_new;
      const int k_final = ListPool::size_class(lr);
      while (k > k_final) {
        --k;
        pool_.release(sr.block + (uint64_t{1} << k), k);
      }
      sr.list_len = lr;
    } else if (mutexes_.insert(pair_key(ru, rw))) {
      push(ru, rw);
      push(rw, ru);
    }
  }

  BigArray<uint32_t> parent_;
  BigArray<RootState> state_;
  PairSet mutexes_;
  ListPool pool_;
};

// Stage 2 on the 8-byte key path (C * N < 2^32 and fewer than 2^32 edges): the sorted keys of
// all edges (generate_sorted_keys), then the greedy pass.
inline void sort_and_merge_keys64(const Graph& g, uint64_t n_edges, int key_threads, const std::vector<int64_t>& delta,
                                  MutexClustering& clusters) {
  const int64_t rows = g.rows(), N = g.N;
  BigArray<uint64_t> keys(n_edges, false);
  generate_sorted_keys(
      keys, g.n_channels * rows,
      [&](int64_t cr, auto&& emit) {
        const int64_t c = cr / rows;
        g.for_row(c, cr % rows, [&](int64_t v, int64_t, float weight) {
          emit(weight, uint64_t{descending_key(weight)} << 32 | static_cast<uint64_t>(c * N + v));
        });
      },
      key_threads);
  clusters.greedy_pass(keys.size(), [&](size_t i) { return keys[i] & 0xffffffffu; }, delta, N, g.n_attractive);
}

// Stage 2 on the 16-byte key path: the rows' keys written in parallel at their row_counts
// positions (freed here), an LSD radix sort, then the greedy pass.
inline void sort_and_merge_keys128(const Graph& g, std::vector<uint64_t>& row_counts, int n_threads, int threads,
                                   const std::vector<int64_t>& delta, MutexClustering& clusters) {
  const int64_t rows = g.rows(), N = g.N;
  const int64_t n_rows_total = g.n_channels * rows;
  std::vector<Key128> keys(row_counts[static_cast<size_t>(n_rows_total)]);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(n_threads)
#else
  (void)n_threads;
#endif
  for (int64_t cr = 0; cr < n_rows_total; ++cr) {
    const int64_t c = cr / rows;
    Key128* out = keys.data() + row_counts[cr];
    g.for_row(c, cr % rows, [&](int64_t v, int64_t, float weight) {
      *out++ = Key128{descending_key(weight), static_cast<uint64_t>(c * N + v)};
    });
  }
  std::vector<uint64_t>().swap(row_counts);
  radix_sort(keys, [](const Key128& k) { return k.weight; }, threads);
  clusters.greedy_pass(keys.size(), [&](size_t i) { return keys[i].index; }, delta, N, g.n_attractive);
}

}  // namespace mws_detail

// aff: C-contiguous float32 (C, Z, Y, X). mask: uint8 (Z, Y, X) or nullptr (all voxels in).
// keep: uint8 (C - n_attractive, Z, Y, X) or nullptr: repulsive edge of channel c at v is used
// only if keep[c - n_attractive, v] != 0. stride: 3 ints >= 1; a repulsive edge is used only if
// v lies on the stride grid (z % stride[0] == 0, ...). labels: uint64 (Z, Y, X) output.
// Returns the number of clusters.
inline uint64_t mutex_watershed(const float* aff, const int64_t shape[3], const MwsOffset3* offsets,
                                int64_t n_channels, int64_t n_attractive, const uint8_t* mask,
                                const uint8_t* keep, const int64_t stride[3], uint64_t* labels,
                                int threads) {
  using namespace mws_detail;
  for (int d = 0; d < 3; ++d) {
    if (shape[d] < 0) {
      throw std::invalid_argument("mutex_watershed: shape[" + std::to_string(d) + "] must be >= 0; got " +
                                  std::to_string(shape[d]));
    }
    if (stride[d] < 1) {
      throw std::invalid_argument("mutex_watershed: stride[" + std::to_string(d) + "] must be >= 1; got " +
                                  std::to_string(stride[d]));
    }
  }
  if (n_attractive < 0 || n_attractive > n_channels) {
    throw std::invalid_argument("mutex_watershed: n_attractive must be in [0, " + std::to_string(n_channels) +
                                "]; got " + std::to_string(n_attractive));
  }
  const int64_t Z = shape[0], Y = shape[1], X = shape[2];
  const int64_t N = Z * Y * X;
  if (N == 0) return 0;
  if (N >= (int64_t{1} << 32) - 1) {
    throw std::invalid_argument("mutex_watershed: volumes of 2^32 - 1 voxels or more are not supported; got " +
                                std::to_string(N));
  }
  int n_threads = 1;
#if defined(_OPENMP)
  n_threads = threads > 0 ? threads : omp_get_max_threads();
#endif
  const Graph g{aff, Z, Y, X, N, offsets, n_channels, n_attractive, mask, keep, stride};

  // 1. Edge counts per row (channel-major): the number of edges, and on the 16-byte key path the
  // position of each row's keys.
  std::vector<uint64_t> row_counts = count_row_edges(g, n_threads);
  const int64_t rows = g.rows();
  const uint64_t n_edges = row_counts[static_cast<size_t>(n_channels * rows)];
  uint64_t n_repulsive_edges = 0;
  for (int64_t c = n_attractive; c < n_channels; ++c) {
    n_repulsive_edges += row_counts[(c + 1) * rows] - row_counts[c * rows];
  }
  MutexClustering clusters(N, n_repulsive_edges);
  std::vector<int64_t> channel_delta(static_cast<size_t>(n_channels));
  for (int64_t c = 0; c < n_channels; ++c) {
    channel_delta[c] = (offsets[c].z * Y + offsets[c].y) * X + offsets[c].x;
  }

  // 2. The edges sorted (keys generated row by row in index order), then the greedy pass.
  if (n_edges < (uint64_t{1} << 32) && static_cast<uint64_t>(N) * n_channels < (uint64_t{1} << 32)) {
    std::vector<uint64_t>().swap(row_counts);
    sort_and_merge_keys64(g, n_edges, N * n_channels >= (1 << 16) ? n_threads : 1, channel_delta, clusters);
  } else {
    sort_and_merge_keys128(g, row_counts, n_threads, threads, channel_delta, clusters);
  }

  // 3. Labels 1..K in order of each cluster's first voxel.
  return clusters.write_labels(N, mask, labels);
}

}  // namespace pytc
