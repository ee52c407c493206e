// Hierarchical agglomeration of fragments on an affinity graph, with waterz's semantics.
//
// Region graph: one pass over the fragments; for each nearest-neighbour pair (v, v - e_d),
// d in {z, y, x}, whose fragments a != b are both nonzero, the affinity aff[d, v] is added to
// the statistic of the fragment pair {a, b}. Pairs are found in an open-addressing hash map
// (a cache of the last pair per direction skips most look-ups along a boundary).
// Edge score = 1 - value(statistic), in float32 like waterz's ScoreValue. Statistics:
//   Mean       sum (double) and count; merged by addition             (waterz MeanAffinity)
//   Max, Min   one float; merged by max / min                         (MaxAffinity, MinAffinity)
//   Quantile   sorted value list; merged by std::merge; value = sorted[q*n/100] (clamped to
//              n-1)                                                   (QuantileAffinity)
//   Histogram  sparse 256-bin histogram; merged by addition; value = (bin + 0.5) / 256 of the
//              first bin whose cumulative count reaches q*n/100 + 1   (HistogramQuantileAffinity)
// For the quantiles, init_with_max (waterz's default InitWithMax=true) starts every initial edge
// with the single maximum affinity of its boundary instead of all of them.
// Merging: edges in ascending (score, edge id) order from a binary heap with lazy deletion
// (entries carry a version; dead or outdated entries are skipped when popped); the edge of
// smallest current score is merged while its score < threshold. The region with fewer live
// edges is merged into the other (small to large): its edges move over, or, where both
// regions border the same neighbour, the two edges' statistics merge and the merged edge is
// rescored. Thresholds are processed in ascending order in one pass: merge_until(t) continues
// from where the previous call stopped. A union-find over the fragments gives the partition.
// Complexity: O(N) for the region graph, O(E log E) merges (hash-map operations amortised by
// small-to-large), O(N) per extracted segmentation. Memory: O(fragments + edges) plus the
// value lists of the quantile statistics (O(boundary voxels), like waterz).
// Layout: fragments (Z, Y, X) C-contiguous integer labels, 0 = background; affinities
// (C >= 3, Z, Y, X) float32 C-contiguous, channel d linking v with v - e_d for d < 3.
// Threading: single-threaded merging; extracting a segmentation is split over OpenMP threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace pytc {
namespace agglo {

enum class Scoring { Mean = 0, Max = 1, Min = 2, Quantile = 3, Histogram = 4 };

constexpr int kHistogramBins = 256;

// Open-addressing hash map uint64 -> uint32 with linear probing and backward-shift deletion.
// The key ~0 is reserved as "empty" (pair keys are (a << 32 | b) with a < b < 2^32 - 1).
class PairMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr uint32_t kNone = ~uint32_t{0};

  explicit PairMap(std::size_t expected = 16) { rehash(expected * 2 + 16); }

  uint32_t find(uint64_t key) const {
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kEmpty) return kNone;
    }
  }
  // Value of `key`, inserting `value` first if absent.
  uint32_t find_or_insert(uint64_t key, uint32_t value) {
    if ((size_ + 1) * 4 > keys_.size() * 3) rehash(keys_.size() * 2);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = value;
        ++size_;
        return value;
      }
    }
  }
  void insert(uint64_t key, uint32_t value) { find_or_insert(key, value); }
  void erase(uint64_t key) {
    std::size_t i = slot(key);
    for (;; i = (i + 1) & mask_) {
      if (keys_[i] == kEmpty) return;
      if (keys_[i] == key) break;
    }
    // backward-shift deletion keeps probe sequences intact without tombstones
    std::size_t j = i;
    for (;;) {
      j = (j + 1) & mask_;
      if (keys_[j] == kEmpty) break;
      const std::size_t home = slot(keys_[j]);
      // move j into the hole i unless its home lies cyclically in (i, j]
      const bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        keys_[i] = keys_[j];
        values_[i] = values_[j];
        i = j;
      }
    }
    keys_[i] = kEmpty;
    --size_;
  }
  std::size_t size() const { return size_; }

 private:
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
    std::vector<uint64_t> old_keys(cap, kEmpty);
    std::vector<uint32_t> old_values(cap);
    old_keys.swap(keys_);
    old_values.swap(values_);
    mask_ = cap - 1;
    shift_ = 64 - bits;
    size_ = 0;
    for (std::size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) find_or_insert(old_keys[i], old_values[i]);
    }
  }
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> values_;
  std::size_t mask_ = 0, size_ = 0;
  int shift_ = 60;
};

inline uint64_t pair_key(uint32_t a, uint32_t b) {
  return a < b ? (uint64_t{a} << 32 | b) : (uint64_t{b} << 32 | a);
}

// waterz's discretize(value, 256) for the histogram bins.
inline int histogram_bin(float value) {
  if (!(value > 0)) return 0;
  if (value >= 1) return kHistogramBins - 1;
  return std::min(static_cast<int>(value * static_cast<float>(kHistogramBins)), kHistogramBins - 1);
}

// Per-edge statistics of one scoring function.
class EdgeStats {
 public:
  struct Bin {
    uint16_t bin;
    uint32_t count;
  };

  EdgeStats(Scoring scoring, int quantile, bool init_with_max)
      : scoring_(scoring), q_(quantile), init_with_max_(init_with_max) {}

  void add_edge() {
    switch (scoring_) {
      case Scoring::Mean: sum_.push_back(0.0); count_.push_back(0); break;
      case Scoring::Max: value_.push_back(-INFINITY); break;
      case Scoring::Min: value_.push_back(INFINITY); break;
      case Scoring::Quantile:
        if (init_with_max_) value_.push_back(-INFINITY); else values_.emplace_back();
        break;
      case Scoring::Histogram:
        if (init_with_max_) value_.push_back(-INFINITY); else raw_bins_.emplace_back();
        break;
    }
  }

  void add(uint32_t e, float a) {
    switch (scoring_) {
      case Scoring::Mean: sum_[e] += a; ++count_[e]; break;
      case Scoring::Min: value_[e] = std::min(value_[e], a); break;
      case Scoring::Max: value_[e] = std::max(value_[e], a); break;
      case Scoring::Quantile:
        if (init_with_max_) value_[e] = std::max(value_[e], a); else values_[e].push_back(a);
        break;
      case Scoring::Histogram:
        if (init_with_max_) value_[e] = std::max(value_[e], a);
        else raw_bins_[e].push_back(static_cast<uint8_t>(histogram_bin(a)));
        break;
    }
  }

  // After the region graph is built: sort value lists, build histograms.
  void finalize() {
    const std::size_t n = num_edges();
    if (scoring_ == Scoring::Quantile) {
      if (init_with_max_) {
        values_.assign(n, {});
        for (std::size_t e = 0; e < n; ++e) values_[e].assign(1, value_[e]);
        std::vector<float>().swap(value_);
      } else {
        for (auto& v : values_) std::sort(v.begin(), v.end());
      }
    } else if (scoring_ == Scoring::Histogram) {
      hist_.assign(n, {});
      if (init_with_max_) {
        for (std::size_t e = 0; e < n; ++e) {
          hist_[e].push_back({static_cast<uint16_t>(histogram_bin(value_[e])), 1});
        }
        std::vector<float>().swap(value_);
      } else {
        uint32_t counts[kHistogramBins];
        for (std::size_t e = 0; e < n; ++e) {
          std::fill(counts, counts + kHistogramBins, 0u);
          for (uint8_t b : raw_bins_[e]) ++counts[b];
          for (int b = 0; b < kHistogramBins; ++b) {
            if (counts[b]) hist_[e].push_back({static_cast<uint16_t>(b), counts[b]});
          }
          std::vector<uint8_t>().swap(raw_bins_[e]);
        }
        std::vector<std::vector<uint8_t>>().swap(raw_bins_);
      }
    }
  }

  std::size_t num_edges() const {
    switch (scoring_) {
      case Scoring::Mean: return sum_.size();
      case Scoring::Quantile: return init_with_max_ ? (values_.empty() ? value_.size() : values_.size()) : values_.size();
      case Scoring::Histogram: return !hist_.empty() ? hist_.size() : (init_with_max_ ? value_.size() : raw_bins_.size());
      default: return value_.size();
    }
  }

  // Statistic of `into` becomes that of the union of both edges' boundaries; `from` is freed.
  void merge(uint32_t from, uint32_t into) {
    switch (scoring_) {
      case Scoring::Mean:
        sum_[into] += sum_[from];
        count_[into] += count_[from];
        break;
      case Scoring::Max: value_[into] = std::max(value_[into], value_[from]); break;
      case Scoring::Min: value_[into] = std::min(value_[into], value_[from]); break;
      case Scoring::Quantile: {
        std::vector<float> merged(values_[into].size() + values_[from].size());
        std::merge(values_[into].begin(), values_[into].end(), values_[from].begin(), values_[from].end(),
                   merged.begin());
        values_[into].swap(merged);
        std::vector<float>().swap(values_[from]);
        break;
      }
      case Scoring::Histogram: {
        const auto& a = hist_[into];
        const auto& b = hist_[from];
        std::vector<Bin> merged;
        merged.reserve(a.size() + b.size());
        std::size_t i = 0, j = 0;
        while (i < a.size() || j < b.size()) {
          if (j == b.size() || (i < a.size() && a[i].bin < b[j].bin)) {
            merged.push_back(a[i++]);
          } else if (i == a.size() || b[j].bin < a[i].bin) {
            merged.push_back(b[j++]);
          } else {
            merged.push_back({a[i].bin, a[i].count + b[j].count});
            ++i;
            ++j;
          }
        }
        hist_[into].swap(merged);
        std::vector<Bin>().swap(hist_[from]);
        break;
      }
    }
  }

  // The affinity statistic (float, like waterz's ScoreValue).
  float value(uint32_t e) const {
    switch (scoring_) {
      case Scoring::Mean: return static_cast<float>(sum_[e] / static_cast<double>(count_[e]));
      case Scoring::Quantile: {
        const auto& v = values_[e];
        std::size_t pivot = static_cast<std::size_t>(q_) * v.size() / 100;
        if (pivot == v.size()) --pivot;
        return v[pivot];
      }
      case Scoring::Histogram: {
        uint64_t total = 0;
        for (const Bin& b : hist_[e]) total += b.count;
        const uint64_t pivot = static_cast<uint64_t>(q_) * total / 100 + 1;
        uint64_t sum = 0;
        int bin = kHistogramBins;
        for (const Bin& b : hist_[e]) {
          sum += b.count;
          bin = b.bin;
          if (sum >= pivot) break;
        }
        if (sum < pivot) bin = kHistogramBins;  // unreachable for a nonempty histogram
        return static_cast<float>((static_cast<double>(bin) + 0.5) / kHistogramBins);
      }
      default: return value_[e];
    }
  }

  // waterz's OneMinus<...> in float.
  float score(uint32_t e) const { return static_cast<float>(1.0 - static_cast<double>(value(e))); }

  // Whether merging can leave the score of `into` unchanged (then no rescoring is needed).
  bool merge_changes(uint32_t from, uint32_t into) const {
    if (scoring_ == Scoring::Max) return value_[from] > value_[into];
    if (scoring_ == Scoring::Min) return value_[from] < value_[into];
    return true;
  }

  // Size of the statistic, for choosing which edge survives a merge of lists.
  std::size_t weight(uint32_t e) const {
    if (scoring_ == Scoring::Quantile) return values_[e].size();
    if (scoring_ == Scoring::Histogram) return hist_[e].size();
    return 0;
  }

 private:
  Scoring scoring_;
  int q_;
  bool init_with_max_;
  std::vector<double> sum_;
  std::vector<uint64_t> count_;
  std::vector<float> value_;
  std::vector<std::vector<float>> values_;
  std::vector<std::vector<uint8_t>> raw_bins_;
  std::vector<std::vector<Bin>> hist_;
};

class Agglomeration {
 public:
  // Builds the region graph. `fragments` holds `n` labels (C order, shape Z, Y, X);
  // `aff` holds at least 3 channels of n float32 values each.
  template <typename Label>
  Agglomeration(const Label* fragments, const float* aff, const int64_t shape[3], Scoring scoring,
                int quantile, bool init_with_max)
      : stats_(scoring, quantile, init_with_max) {
    for (int d = 0; d < 3; ++d) {
      if (shape[d] < 0) {
        throw std::invalid_argument("agglomerate: shape[" + std::to_string(d) + "] must be >= 0; got " +
                                    std::to_string(shape[d]));
      }
    }
    if (quantile < 0 || quantile > 100) {
      throw std::invalid_argument("agglomerate: quantile must be in [0, 100]; got " + std::to_string(quantile));
    }
    const int64_t Z = shape[0], Y = shape[1], X = shape[2];
    const int64_t n = Z * Y * X;
    index_labels(fragments, n);

    // region graph
    PairMap& map = map_;
    map = PairMap(static_cast<std::size_t>(labels_.size()) * 4);  // about 4 edges per fragment
    // A small direct-mapped cache of recent label pairs in front of the hash map: a fragment
    // touches few others, so most faces hit it without touching the (larger) hash map.
    struct Cached {
      Label a, b;
      uint32_t edge;
    };
    // sized to the faces of one z plane (the pairs live at a time), 2^10 to 2^16 entries
    int cache_bits = 10;
    while (cache_bits < 16 && (int64_t{1} << cache_bits) < Y * X) ++cache_bits;
    std::vector<Cached> cache(std::size_t{1} << cache_bits, Cached{0, 0, 0});
    const int cache_shift = 64 - cache_bits;
    // Per direction, the last pair seen: along x, consecutive faces of one boundary usually
    // join the same pair, so most faces are resolved by one comparison.
    Label last_a[3] = {0, 0, 0}, last_b[3] = {0, 0, 0};
    uint32_t last_edge[3] = {0, 0, 0};
    auto add = [&](int d, Label a, Label b, float affinity) {
      if (a == last_a[d] && b == last_b[d]) {
        stats_.add(last_edge[d], affinity);
        return;
      }
      last_a[d] = a;
      last_b[d] = b;
      const uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
      Cached& slot = cache[static_cast<std::size_t>(((ua * 0x9E3779B97F4A7C15ull) ^ (ub * 0xC2B2AE3D27D4EB4Full)) >> cache_shift)];
      uint32_t e;
      if (slot.a == a && slot.b == b) {
        e = slot.edge;
      } else {
        const uint64_t key = pair_key(node_of(ua), node_of(ub));
        e = map.find_or_insert(key, static_cast<uint32_t>(eu_.size()));
        if (e == eu_.size()) {
          eu_.push_back(static_cast<uint32_t>(key >> 32));
          ev_.push_back(static_cast<uint32_t>(key));
          stats_.add_edge();
        }
        slot = Cached{a, b, e};
      }
      last_edge[d] = e;
      stats_.add(e, affinity);
    };
    for (int64_t z = 0; z < Z; ++z) {
      for (int64_t y = 0; y < Y; ++y) {
        const int64_t offset = (z * Y + y) * X;
        const Label* row = fragments + offset;
        const Label* above_z = z > 0 ? row - Y * X : nullptr;
        const Label* above_y = y > 0 ? row - X : nullptr;
        const float* aff_z = aff + offset;
        const float* aff_y = aff + n + offset;
        const float* aff_x = aff + 2 * n + offset;
        for (int64_t x = 0; x < X; ++x) {
          const Label a = row[x];
          if (a == 0) continue;
          if (above_z != nullptr) {
            const Label b = above_z[x];
            if (b != a && b != 0) add(0, a, b, aff_z[x]);
          }
          if (above_y != nullptr) {
            const Label b = above_y[x];
            if (b != a && b != 0) add(1, a, b, aff_y[x]);
          }
          if (x > 0) {
            const Label b = row[x - 1];
            if (b != a && b != 0) add(2, a, b, aff_x[x]);
          }
        }
      }
    }
    stats_.finalize();

    const std::size_t n_edges = eu_.size();
    const std::size_t n_nodes = labels_.size();
    alive_.assign(n_edges, 1);
    current_.resize(n_edges);
    adj_.assign(n_nodes, {});
    degree_.assign(n_nodes, 0);
    parent_.resize(n_nodes);
    for (std::size_t i = 0; i < n_nodes; ++i) parent_[i] = static_cast<uint32_t>(i);
    for (uint32_t e = 0; e < n_edges; ++e) {
      adj_[eu_[e]].push_back(e);
      adj_[ev_[e]].push_back(e);
      ++degree_[eu_[e]];
      ++degree_[ev_[e]];
    }
    std::vector<uint64_t> entries(n_edges);
    for (uint32_t e = 0; e < n_edges; ++e) {
      current_[e] = sortable(stats_.score(e));
      entries[e] = uint64_t{current_[e]} << 32 | e;
    }
    queue_ = Queue(std::greater<uint64_t>(), std::move(entries));
  }

  std::size_t num_nodes() const { return labels_.size(); }
  std::size_t num_edges() const { return eu_.size(); }

  // Merges while the cheapest edge scores < threshold; returns the number of merges.
  std::size_t merge_until(float threshold) {
    std::size_t merged = 0;
    while (!queue_.empty()) {
      const uint64_t top = queue_.top();
      const uint32_t edge = static_cast<uint32_t>(top), bits = static_cast<uint32_t>(top >> 32);
      if (!alive_[edge] || current_[edge] != bits) {
        queue_.pop();
        continue;
      }
      if (!(unsortable(bits) < threshold)) break;
      queue_.pop();
      merge_edge(edge);
      ++merged;
    }
    return merged;
  }

  // Label of the region of every fragment label (0 -> 0), written per voxel into `out`.
  template <typename Label>
  void extract(const Label* fragments, int64_t n, uint64_t* out, int threads) {
    std::vector<uint64_t> root_label(labels_.size());
    for (std::size_t i = 0; i < labels_.size(); ++i) root_label[i] = labels_[find(static_cast<uint32_t>(i))];
    if (dense_) {
      std::vector<uint64_t> lut(lut_.size(), 0);
      for (std::size_t l = 1; l < lut_.size(); ++l) {
        if (lut_[l] != PairMap::kNone) lut[l] = root_label[lut_[l]];
      }
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : omp_get_max_threads()) if (n >= (int64_t{1} << 22))
#else
      (void)threads;
#endif
      for (int64_t v = 0; v < n; ++v) out[v] = lut[static_cast<uint64_t>(fragments[v])];
    } else {
      (void)threads;
      Label last = 0;
      uint64_t last_out = 0;
      for (int64_t v = 0; v < n; ++v) {
        const Label a = fragments[v];
        if (a == 0) {
          out[v] = 0;
          continue;
        }
        if (a != last) {
          last = a;
          last_out = root_label[sparse_.find(static_cast<uint64_t>(a))->second];
        }
        out[v] = last_out;
      }
    }
  }

 private:
  // Queue entries are (sortable score bits << 32 | edge): ascending (score, edge id) order is
  // ascending integer order. An entry is current when its edge is alive and its score bits equal
  // current_[edge] (an outdated entry with the same score would pop at the same place anyway).
  using Queue = std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>>;
  static uint32_t sortable(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if (u == 0x80000000u) u = 0;  // -0 == +0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  }
  static float unsortable(uint32_t u) {
    u = (u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  template <typename Label>
  void index_labels(const Label* fragments, int64_t n) {
    uint64_t max_label = 0;
    for (int64_t v = 0; v < n; ++v) max_label = std::max<uint64_t>(max_label, static_cast<uint64_t>(fragments[v]));
    dense_ = max_label <= static_cast<uint64_t>(n) * 2 + 65536;
    if (dense_) {
      lut_.assign(static_cast<std::size_t>(max_label) + 1, PairMap::kNone);
      uint64_t last = 0;
      for (int64_t v = 0; v < n; ++v) {
        const uint64_t a = static_cast<uint64_t>(fragments[v]);
        if (a == last) continue;  // runs along x
        last = a;
        lut_[a] = 0;
      }
      lut_[0] = PairMap::kNone;
      for (std::size_t l = 1; l < lut_.size(); ++l) {
        if (lut_[l] != PairMap::kNone) {
          lut_[l] = static_cast<uint32_t>(labels_.size());
          labels_.push_back(l);
        }
      }
    } else {
      Label last = 0;
      for (int64_t v = 0; v < n; ++v) {
        const Label a = fragments[v];
        if (a == 0 || a == last) continue;
        last = a;
        if (sparse_.emplace(static_cast<uint64_t>(a), static_cast<uint32_t>(labels_.size())).second) {
          labels_.push_back(static_cast<uint64_t>(a));
        }
      }
    }
    if (labels_.size() >= PairMap::kNone - 1) {
      throw std::invalid_argument("agglomerate: too many fragments (" + std::to_string(labels_.size()) +
                                  "); at most 2^32 - 2 are supported");
    }
  }

  uint32_t node_of(uint64_t label) const { return dense_ ? lut_[label] : sparse_.find(label)->second; }

  uint32_t find(uint32_t i) {
    uint32_t root = i;
    while (parent_[root] != root) root = parent_[root];
    while (parent_[i] != root) {
      const uint32_t next = parent_[i];
      parent_[i] = root;
      i = next;
    }
    return root;
  }

  void push(uint32_t e) {
    current_[e] = sortable(stats_.score(e));
    queue_.push(uint64_t{current_[e]} << 32 | e);
  }

  void compact(uint32_t node) {
    auto& list = adj_[node];
    if (list.size() <= 2 * static_cast<std::size_t>(degree_[node]) + 16) return;
    list.erase(std::remove_if(list.begin(), list.end(), [&](uint32_t e) { return !alive_[e]; }), list.end());
  }

  void merge_edge(uint32_t e) {
    uint32_t from = eu_[e], into = ev_[e];
    if (degree_[from] > degree_[into]) std::swap(from, into);
    alive_[e] = 0;
    map_.erase(pair_key(from, into));
    --degree_[from];
    --degree_[into];
    parent_[from] = into;

    std::vector<uint32_t> edges;
    edges.swap(adj_[from]);
    for (uint32_t f : edges) {
      if (!alive_[f]) continue;
      const uint32_t other = eu_[f] == from ? ev_[f] : eu_[f];
      map_.erase(pair_key(from, other));
      const uint32_t g = map_.find(pair_key(into, other));
      if (g == PairMap::kNone) {
        // exclusive neighbour of `from`: the edge moves to `into` with its statistic unchanged
        if (eu_[f] == from) eu_[f] = into; else ev_[f] = into;
        map_.insert(pair_key(into, other), f);
        adj_[into].push_back(f);
        ++degree_[into];
      } else {
        // shared neighbour: merge the two edges' statistics into the larger one
        uint32_t keep = g, drop = f;
        if (stats_.weight(f) > stats_.weight(g)) {
          keep = f;
          drop = g;
          if (eu_[f] == from) eu_[f] = into; else ev_[f] = into;
        }
        const bool changed = stats_.merge_changes(drop, keep);
        stats_.merge(drop, keep);
        alive_[drop] = 0;
        if (keep == f) {
          // g was in adj_[into] and adj_[other]; f is in adj_[other] already
          map_.erase(pair_key(into, other));
          map_.insert(pair_key(into, other), f);
          adj_[into].push_back(f);
        }
        --degree_[other];
        compact(other);
        if (changed) push(keep);
      }
    }
    degree_[from] = 0;
    compact(into);
  }

  EdgeStats stats_;
  PairMap map_;
  bool dense_ = true;
  std::vector<uint32_t> lut_;                       // label -> node (dense labels)
  std::unordered_map<uint64_t, uint32_t> sparse_;  // label -> node (sparse labels)
  std::vector<uint64_t> labels_;                    // node -> label
  std::vector<uint32_t> eu_, ev_;                   // current endpoints (regions) of each edge
  std::vector<uint8_t> alive_;
  std::vector<uint32_t> current_;                   // sortable bits of each edge's current score
  std::vector<std::vector<uint32_t>> adj_;          // edges of each region (may hold dead ones)
  std::vector<uint32_t> degree_;                    // live edges of each region
  std::vector<uint32_t> parent_;                    // union-find over fragments
  Queue queue_;
};

}  // namespace agglo
}  // namespace pytc
