// Contingency table of two label volumes: for every pair of labels (s, g), the number of voxels v
// with seg[v] == s and gt[v] == g. The segmentation metrics (adapted Rand error, variation of
// information) are computed from this table.
//
// Algorithm: one pass over the voxels. Labels are spatially coherent, so consecutive voxels
// usually carry the same (s, g) pair: the pass counts runs of equal pairs and only touches the
// table when the pair changes (the ignore lists are also only checked then). On contiguous rows
// the changes are found 32 voxels at a time as a bit mask (branch-free), and only its set bits
// are visited. Runs go to a 256-entry direct-mapped cache of recent pairs (in L1; neighbouring
// runs and rows repeat the same few pairs), which spills into an open-addressing hash table
// (linear probing, power-of-two capacity, load <= 1/2) keyed by the pair of 64-bit ids; a slot
// with count 0 is empty, so every pair of ids is a valid key. With thousands of segments on both
// sides that table outgrows L1/L2, and the cache saves most of its random accesses.
// Complexity: O(N) time for N voxels (plus O(P log P) for sorting the P distinct pairs at the end),
// O(P) memory per thread.
// Layout: seg and gt share an extent of any rank and each has its own element strides (any sign:
// C order, Fortran order, views). The visiting order is free (a table does not depend on it), so
// the axes are first normalized: extents of 1 dropped, axes with negative seg stride flipped
// (in both arrays), sorted by decreasing |stride| of the wider array and merged where both arrays
// are contiguous across them. Two C-contiguous (or two Fortran-contiguous) arrays become one run.
// Ids: a label is widened to uint64 by value modulo 2^64 (signed labels are sign-extended, so -1
// becomes 2^64 - 1 and `static_cast<int64_t>` gives it back). The ignore lists hold such ids.
// Output: the nonzero cells sorted by (seg id, gt id) as unsigned 64-bit numbers.
// Threading: the flat voxel range is split into equal chunks, one per OpenMP thread, each with
// its own table; the tables are concatenated and merged by the final sort (a pair seen by several
// threads appears once per thread before the merge). Without OpenMP the pragmas are ignored.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace pytc {

struct ContingencyTable {
  std::vector<uint64_t> seg_ids;
  std::vector<uint64_t> gt_ids;
  std::vector<int64_t> counts;
};

namespace detail {

struct PairCount {
  uint64_t seg;
  uint64_t gt;
  int64_t count;  // 0 marks an empty slot
};

// Open-addressing table from a pair of ids to a count.
class PairCountMap {
 public:
  PairCountMap() : slots_(kInitialCapacity), mask_(kInitialCapacity - 1) {}

  void add(uint64_t s, uint64_t g, int64_t count) {
    std::size_t i = hash(s, g) & mask_;
    while (true) {
      PairCount& slot = slots_[i];
      if (slot.count == 0) {
        slot = {s, g, count};
        if (++size_ * 2 > slots_.size()) grow();
        return;
      }
      if (slot.seg == s && slot.gt == g) {
        slot.count += count;
        return;
      }
      i = (i + 1) & mask_;
    }
  }

  template <typename Out>
  void append_to(Out& out) const {
    for (const PairCount& slot : slots_) {
      if (slot.count != 0) out.push_back(slot);
    }
  }

 private:
  static constexpr std::size_t kInitialCapacity = 1024;

  static std::size_t hash(uint64_t s, uint64_t g) {
    // Combine, then the splitmix64 finalizer: consecutive ids spread over the whole table.
    uint64_t x = s * 0x9E3779B97F4A7C15ULL ^ (g + 0x632BE59BD9B4E019ULL + (s << 6) + (s >> 2));
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return static_cast<std::size_t>(x);
  }

  void grow() {
    std::vector<PairCount> old(slots_.size() * 2);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    for (const PairCount& slot : old) {
      if (slot.count == 0) continue;
      std::size_t i = hash(slot.seg, slot.gt) & mask_;
      while (slots_[i].count != 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<PairCount> slots_;
  std::size_t mask_;
  std::size_t size_ = 0;
};

// A PairCountMap behind a small direct-mapped cache of recent pairs. Along a row the same few
// pairs alternate (a segment, its neighbour, the segment again; the next row repeats them), so
// most runs land in the cache, which stays in L1; the map (a few hundred KiB for thousands of
// pairs, hashed all over) is only touched when a cache entry is evicted, and at the end.
class PairCounter {
 public:
  void add(uint64_t s, uint64_t g, int64_t count) {
    PairCount& e = cache_[slot(s, g)];
    if (e.seg == s && e.gt == g) {  // an empty entry has count 0, so adding to it is harmless
      e.count += count;
      return;
    }
    if (e.count != 0) map_.add(e.seg, e.gt, e.count);
    e = {s, g, count};
  }

  // Empties the cache into the map and returns the map.
  const PairCountMap& map() {
    for (PairCount& e : cache_) {
      if (e.count != 0) map_.add(e.seg, e.gt, e.count);
      e = {};
    }
    return map_;
  }

 private:
  static constexpr int kBits = 8;

  static std::size_t slot(uint64_t s, uint64_t g) {
    return static_cast<std::size_t>((s * 0x9E3779B97F4A7C15ULL + g * 0xC2B2AE3D27D4EB4FULL) >> (64 - kBits));
  }

  PairCount cache_[std::size_t{1} << kBits] = {};
  PairCountMap map_;
};

// Index of the lowest set bit of a nonzero mask.
inline int lowest_bit(uint32_t mask) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctz(mask);
#else
  int i = 0;
  while (!(mask & 1u)) {
    mask >>= 1;
    ++i;
  }
  return i;
#endif
}

// A label as a 64-bit id: its value modulo 2^64 (sign extension for signed labels). The kernels
// read labels through the unsigned type of the same width; `is_signed` restores the sign.
template <typename U>
inline uint64_t label_id(U raw, bool is_signed) {
  static_assert(std::is_unsigned<U>::value, "labels are read as unsigned integers");
  if (is_signed) return static_cast<uint64_t>(static_cast<int64_t>(static_cast<std::make_signed_t<U>>(raw)));
  return static_cast<uint64_t>(raw);
}

inline bool contains(const std::vector<uint64_t>& sorted, uint64_t id) {
  if (sorted.size() <= 8) return std::find(sorted.begin(), sorted.end(), id) != sorted.end();
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

// The shared extent after normalization (see the header comment); pointers are adjusted for flips.
struct Layout {
  std::vector<int64_t> shape, seg_strides, gt_strides;
  int64_t seg_origin = 0, gt_origin = 0;  // element offsets of the first visited voxel
};

inline Layout normalize_layout(int ndim, const int64_t* shape, const int64_t* seg_strides, const int64_t* gt_strides,
                               bool order_by_gt) {
  struct Axis {
    int64_t n, s, g;
  };
  Layout layout;
  std::vector<Axis> axes;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    Axis a{shape[d], seg_strides[d], gt_strides[d]};
    const int64_t key = order_by_gt ? a.g : a.s;
    if (key < 0) {  // visit this axis backwards in both arrays
      layout.seg_origin += (a.n - 1) * a.s;
      layout.gt_origin += (a.n - 1) * a.g;
      a.s = -a.s;
      a.g = -a.g;
    }
    axes.push_back(a);
  }
  auto key = [order_by_gt](const Axis& a) {
    return order_by_gt ? std::make_pair(std::llabs(a.g), std::llabs(a.s)) : std::make_pair(std::llabs(a.s), std::llabs(a.g));
  };
  std::stable_sort(axes.begin(), axes.end(), [&](const Axis& a, const Axis& b) { return key(a) > key(b); });
  for (const Axis& a : axes) {
    if (!layout.shape.empty()) {
      const std::size_t last = layout.shape.size() - 1;
      if (layout.seg_strides[last] == a.n * a.s && layout.gt_strides[last] == a.n * a.g) {
        layout.shape[last] *= a.n;  // the outer axis continues the inner one in both arrays
        layout.seg_strides[last] = a.s;
        layout.gt_strides[last] = a.g;
        continue;
      }
    }
    layout.shape.push_back(a.n);
    layout.seg_strides.push_back(a.s);
    layout.gt_strides.push_back(a.g);
  }
  if (layout.shape.empty()) {  // a single voxel
    layout.shape = {1};
    layout.seg_strides = {1};
    layout.gt_strides = {1};
  }
  return layout;
}

// Counts the voxels [begin, end) of the flat (normalized) range into `map`.
template <typename S, typename G>
void count_range(const S* seg, const G* gt, const Layout& layout, int64_t begin, int64_t end, bool seg_signed,
                 bool gt_signed, const std::vector<uint64_t>& ignore_seg, const std::vector<uint64_t>& ignore_gt,
                 PairCounter& map) {
  const std::size_t nd = layout.shape.size();
  const int64_t X = layout.shape[nd - 1];
  const int64_t ss = layout.seg_strides[nd - 1], gs = layout.gt_strides[nd - 1];
  std::vector<int64_t> index(nd, 0);
  int64_t rest = begin;
  for (std::size_t d = nd; d-- > 0;) {
    index[d] = rest % layout.shape[d];
    rest /= layout.shape[d];
  }

  S cur_s = 0;
  G cur_g = 0;
  int64_t run = 0;  // voxels of the current pair not yet in the map
  bool cur_ignored = false;
  auto flush = [&]() {
    if (run > 0 && !cur_ignored) map.add(label_id(cur_s, seg_signed), label_id(cur_g, gt_signed), run);
  };
  auto start = [&](S s, G g) {
    flush();
    cur_s = s;
    cur_g = g;
    run = 1;
    cur_ignored = (!ignore_seg.empty() && contains(ignore_seg, label_id(s, seg_signed))) ||
                  (!ignore_gt.empty() && contains(ignore_gt, label_id(g, gt_signed)));
  };

  constexpr int kBlock = 32;
  int64_t remaining = end - begin;
  while (remaining > 0) {
    int64_t so = layout.seg_origin, go = layout.gt_origin;
    for (std::size_t d = 0; d < nd; ++d) {
      so += index[d] * layout.seg_strides[d];
      go += index[d] * layout.gt_strides[d];
    }
    const int64_t n = std::min(X - index[nd - 1], remaining);
    const S* ps = seg + so;
    const G* pg = gt + go;
    if (run == 0) {  // first voxel of the range: it becomes the current pair
      start(ps[0], pg[0]);
      run = 0;  // and the loop below counts it
    }
    if (ss == 1 && gs == 1) {
      // Blocks of 32 voxels: a branch-free pass sets bit k where voxel k's pair differs from the
      // voxel before it, then the loop visits only the set bits (one mispredicted branch per
      // block instead of one per change of pair).
      int64_t i = 0;
      int64_t run_start = -run;  // voxel of this row where the current run began (negative: earlier)
      for (; i + kBlock <= n; i += kBlock) {
        uint32_t mask = static_cast<uint32_t>((ps[i] != cur_s) | (pg[i] != cur_g));
        for (int k = 1; k < kBlock; ++k) {
          mask |= static_cast<uint32_t>((ps[i + k] != ps[i + k - 1]) | (pg[i + k] != pg[i + k - 1])) << k;
        }
        while (mask != 0) {
          const int64_t q = i + lowest_bit(mask);
          mask &= mask - 1;
          run = q - run_start;
          start(ps[q], pg[q]);
          run_start = q;
        }
      }
      run = i - run_start;
      for (; i < n; ++i) {
        const S s = ps[i];
        const G g = pg[i];
        if (s == cur_s && g == cur_g) {
          ++run;
        } else {
          start(s, g);
        }
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const S s = ps[i * ss];
        const G g = pg[i * gs];
        if (s == cur_s && g == cur_g) {
          ++run;
        } else {
          start(s, g);
        }
      }
    }
    remaining -= n;
    // Next row: the last axis restarts at 0 and the carry moves outwards.
    index[nd - 1] = 0;
    for (std::size_t d = nd - 1; d-- > 0;) {
      if (++index[d] < layout.shape[d]) break;
      index[d] = 0;
    }
  }
  flush();
}

}  // namespace detail

// Contingency table of `seg` and `gt` (see the header comment). S and G are the unsigned integer
// types of the labels' widths; `seg_signed` / `gt_signed` say whether the labels are signed.
// Strides are in elements. Voxels whose seg id is in `ignore_seg` or whose gt id is in `ignore_gt`
// are skipped. threads <= 0: the OpenMP default.
template <typename S, typename G>
ContingencyTable contingency_table(const S* seg, const G* gt, int ndim, const int64_t* shape,
                                   const int64_t* seg_strides, const int64_t* gt_strides, bool seg_signed,
                                   bool gt_signed, std::vector<uint64_t> ignore_seg, std::vector<uint64_t> ignore_gt,
                                   int threads) {
  int64_t n_voxels = 1;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] < 0) {
      throw std::invalid_argument("contingency_table: shape[" + std::to_string(d) + "] must be >= 0; got " +
                                  std::to_string(shape[d]));
    }
    n_voxels *= shape[d];
  }
  ContingencyTable table;
  if (n_voxels == 0) return table;
  std::sort(ignore_seg.begin(), ignore_seg.end());
  std::sort(ignore_gt.begin(), ignore_gt.end());
  const detail::Layout layout =
      detail::normalize_layout(ndim, shape, seg_strides, gt_strides, /*order_by_gt=*/sizeof(G) > sizeof(S));

  int n_threads = 1;
#if defined(_OPENMP)
  n_threads = threads > 0 ? threads : omp_get_max_threads();
  if (n_voxels < (int64_t{1} << 16)) n_threads = 1;
#else
  (void)threads;
#endif
  std::vector<detail::PairCounter> maps(static_cast<std::size_t>(n_threads));
#if defined(_OPENMP)
#pragma omp parallel for schedule(static, 1) num_threads(n_threads) if (n_threads > 1)
#endif
  for (int t = 0; t < n_threads; ++t) {
    const int64_t begin = n_voxels * t / n_threads, end = n_voxels * (t + 1) / n_threads;
    if (begin < end) {
      detail::count_range(seg, gt, layout, begin, end, seg_signed, gt_signed, ignore_seg, ignore_gt, maps[t]);
    }
  }

  std::vector<detail::PairCount> cells;
  for (auto& map : maps) map.map().append_to(cells);
  std::sort(cells.begin(), cells.end(), [](const detail::PairCount& a, const detail::PairCount& b) {
    return a.seg < b.seg || (a.seg == b.seg && a.gt < b.gt);
  });
  for (const auto& c : cells) {
    if (!table.counts.empty() && table.seg_ids.back() == c.seg && table.gt_ids.back() == c.gt) {
      table.counts.back() += c.count;  // the same pair from another thread
    } else {
      table.seg_ids.push_back(c.seg);
      table.gt_ids.push_back(c.gt);
      table.counts.push_back(c.count);
    }
  }
  return table;
}

}  // namespace pytc
