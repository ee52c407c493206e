// Agglomeration, part 2 of 4: the scoring functions, as per-edge statistics.
//
// Scoring names the statistic (waterz's MeanAffinity, MaxAffinity, MinAffinity,
// QuantileAffinity, HistogramQuantileAffinity); EdgeStats holds one statistic per edge: it adds
// boundary affinities (one at a time or as partial sums), absorbs another EdgeStats' edge (the
// join of the region-graph slabs), merges two edges' statistics (when their regions merge) and
// gives an edge's score, 1 - value, in float32 like waterz's ScoreValue. The statistics and their
// values are listed in agglomerate.hpp's header comment.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pytc {
namespace agglo {

enum class Scoring { Mean = 0, Max = 1, Min = 2, Quantile = 3, Histogram = 4 };

constexpr int kHistogramBins = 256;

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

  // How the boundary values of an edge combine while the region graph is built: summed (mean),
  // reduced to one value (max, min, and the quantiles with init_with_max) or kept (the other
  // quantiles).
  enum class Fold { Sum, Max, Min, Keep };
  Fold fold() const {
    switch (scoring_) {
      case Scoring::Mean: return Fold::Sum;
      case Scoring::Min: return Fold::Min;
      case Scoring::Max: return Fold::Max;
      default: return init_with_max_ ? Fold::Max : Fold::Keep;
    }
  }
  // Room for `count` edges.
  void reserve(std::size_t count) {
    switch (scoring_) {
      case Scoring::Mean:
        sum_.reserve(count);
        count_.reserve(count);
        break;
      case Scoring::Max:
      case Scoring::Min: value_.reserve(count); break;
      default: break;
    }
  }
  // Fold::Sum: `count` values summing to `sum` join edge e's boundary.
  void add_sum(uint32_t e, double sum, uint64_t count) {
    sum_[e] += sum;
    count_[e] += count;
  }
  // Fold::Max and Fold::Min: values whose maximum (minimum) is `value` join edge e's boundary.
  void add_max(uint32_t e, float value) { value_[e] = std::max(value_[e], value); }
  void add_min(uint32_t e, float value) { value_[e] = std::min(value_[e], value); }

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

  // Before finalize(): the boundary values of edge `from` of `other` (same scoring) join those
  // of edge `into`; other's statistic of `from` is left empty.
  void absorb(uint32_t into, EdgeStats& other, uint32_t from) {
    switch (scoring_) {
      case Scoring::Mean: add_sum(into, other.sum_[from], other.count_[from]); break;
      case Scoring::Min: add_min(into, other.value_[from]); break;
      default:
        if (scoring_ == Scoring::Max || init_with_max_) {
          add_max(into, other.value_[from]);
        } else if (scoring_ == Scoring::Quantile) {
          append(values_[into], other.values_[from]);
        } else {
          append(raw_bins_[into], other.raw_bins_[from]);
        }
    }
  }

  // Before finalize(), the raw statistic of an edge, as blockwise agglomeration exchanges it
  // (block_graph.hpp): how the raw statistics of two blocks combine, and its parts.
  //   Sum     mean: sum(e) and count(e), added
  //   Max     max, and the quantiles with init_with_max: single(e), the larger kept
  //   Min     min: single(e), the smaller kept
  //   Counts  histogram quantile without init_with_max: bin_counts(e), added
  // (the exact quantile without init_with_max keeps every value and has no raw form: None).
  enum class Raw { Sum, Max, Min, Counts, None };
  Raw raw() const {
    switch (fold()) {
      case Fold::Sum: return Raw::Sum;
      case Fold::Max: return Raw::Max;
      case Fold::Min: return Raw::Min;
      default: return scoring_ == Scoring::Histogram ? Raw::Counts : Raw::None;
    }
  }
  double sum(uint32_t e) const { return sum_[e]; }
  uint64_t count(uint32_t e) const { return count_[e]; }
  float single(uint32_t e) const { return value_[e]; }
  // The nonzero bins of edge e's histogram (ascending) with their counts.
  std::vector<Bin> bin_counts(uint32_t e) const {
    uint32_t counts[kHistogramBins] = {};
    for (uint8_t b : raw_bins_[e]) ++counts[b];
    std::vector<Bin> bins;
    for (int b = 0; b < kHistogramBins; ++b) {
      if (counts[b]) bins.push_back({static_cast<uint16_t>(b), counts[b]});
    }
    return bins;
  }
  // After finalize(), for Raw::Counts: `count` more values in `bin` (bins given in ascending
  // order per edge, each once).
  void add_bin_count(uint32_t e, int bin, uint32_t count) {
    hist_[e].push_back({static_cast<uint16_t>(bin), count});
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
        // the (q * total / 100 + 1)-th value, as waterz counts it, but at most the last: q = 100 gives the
        // maximum's bin (waterz runs past the histogram there and scores every edge below 0)
        const uint64_t pivot = std::min<uint64_t>(static_cast<uint64_t>(q_) * total / 100 + 1, total);
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
  template <typename T>
  static void append(std::vector<T>& to, std::vector<T>& from) {
    if (to.empty()) {
      to.swap(from);
    } else {
      to.insert(to.end(), from.begin(), from.end());
      std::vector<T>().swap(from);
    }
  }

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

}  // namespace agglo
}  // namespace pytc
