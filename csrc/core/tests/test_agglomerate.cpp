// Standalone check of the agglomeration core, no Python needed:
//   g++ -std=c++17 -O2 -Wall -Wextra -Werror [-fopenmp] -I csrc csrc/core/tests/test_agglomerate.cpp && ./a.out
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/agglomerate.hpp"
#include "core/tests/check.hpp"

using pytc_test::check;

int main() {
  // 1 x 1 x 5 volume of fragments [1 2 3 0 4]; x-affinities (channel 2) link x with x - 1.
  const std::vector<uint32_t> fragments = {1, 2, 3, 0, 4};
  const int64_t shape[3] = {1, 1, 5};
  std::vector<float> aff(3 * 5, 0.0f);
  aff[2 * 5 + 1] = 0.9f;  // 1-2: score 0.1
  aff[2 * 5 + 2] = 0.4f;  // 2-3: score 0.6
  aff[2 * 5 + 4] = 1.0f;  // 0-4: background, no edge
  const std::vector<float> aff_copy = aff;

  for (int scoring = 0; scoring <= 4; ++scoring) {
    pytc::agglo::Agglomeration a(fragments.data(), aff.data(), shape, static_cast<pytc::agglo::Scoring>(scoring),
                                 50, true);
    check(a.num_nodes() == 4, "four fragments");
    check(a.num_edges() == 2, "two edges (background has none)");
    std::vector<uint64_t> out(5);
    a.merge_until(0.05f);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out == std::vector<uint64_t>({1, 2, 3, 0, 4}), "nothing below 0.05");
    a.merge_until(0.5f);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out[0] == out[1] && out[1] != out[2] && out[3] == 0 && out[4] == 4, "1-2 merged at 0.5");
    a.merge_until(0.7f);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out[0] == out[1] && out[1] == out[2] && out[3] == 0 && out[4] == 4, "1-2-3 merged at 0.7");
  }
  check(aff == aff_copy, "input not modified");

  // history: the merges in order, with the root fragments' labels and the scores
  {
    pytc::agglo::Agglomeration a(fragments.data(), aff.data(), shape, pytc::agglo::Scoring::Mean, 50, true);
    std::vector<pytc::agglo::Merge> history;
    a.merge_until(0.05f);
    a.record_history(&history);
    check(history.empty(), "nothing recorded before");
    a.merge_until(0.7f);
    check(history.size() == 2, "two merges recorded");
    const auto& first = history[0];
    const auto& second = history[1];
    check(std::min(first.into, first.from) == 1 && std::max(first.into, first.from) == 2, "1-2 first");
    check(std::abs(first.score - 0.1f) < 1e-6f && std::abs(second.score - 0.6f) < 1e-6f, "merge scores");
    check((second.into == first.into && second.from == 3) || (second.into == 3 && second.from == first.into),
          "then 3 with the region of 1-2, named by its label");
    std::vector<uint64_t> out(5);
    a.extract(fragments.data(), 5, out.data(), 1);
    check(out[0] == second.into, "the joined region keeps the label `into`");
  }

  // hash map: insert, erase with backward shift, find
  pytc::agglo::PairMap map(4);
  for (uint32_t i = 0; i < 1000; ++i) map.insert(pytc::agglo::pair_key(i, i + 1), i);
  for (uint32_t i = 0; i < 1000; i += 2) map.erase(pytc::agglo::pair_key(i + 1, i));
  bool ok = map.size() == 500;
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint32_t found = map.find(pytc::agglo::pair_key(i, i + 1));
    ok = ok && (i % 2 == 0 ? found == pytc::agglo::PairMap::kNone : found == i);
  }
  check(ok, "pair map insert/erase/find");

  // emplace: inserts once, then returns the stored value's slot
  {
    pytc::agglo::PairMap m(2);
    const auto first = m.emplace(42, 7);
    const auto again = m.emplace(42, 9);
    check(first.second && !again.second && *again.first == 7 && m.size() == 1, "pair map emplace");
    *again.first = 9;
    check(m.find(42) == 9, "pair map emplace slot is writable");
    check(!m.would_grow(1) && m.would_grow(1000), "pair map would_grow");
  }

  // edge queue: sorted initial entries and pushed ones come out in ascending order
  {
    std::vector<uint64_t> initial, all;
    uint64_t state = 12345;
    auto next = [&]() {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return state >> 40;  // small score bits: many ties on the high half, broken by the id
    };
    for (uint32_t e = 0; e < 3000; ++e) initial.push_back(next() % 50 << 32 | e);
    all = initial;
    pytc::agglo::EdgeQueue queue(initial);
    std::vector<uint64_t> popped;
    for (int i = 0; i < 2000; ++i) {  // interleave pops and pushes
      popped.push_back(queue.top());
      queue.pop();
      const uint64_t pushed = (next() % 60) << 32 | (3000 + i);
      if (pushed > popped.back()) {
        queue.push(pushed);
        all.push_back(pushed);
      }
    }
    while (!queue.empty()) {
      popped.push_back(queue.top());
      queue.pop();
    }
    std::sort(all.begin(), all.end());
    check(popped == all, "edge queue pops in ascending order");
  }

  // agglomerate(): all thresholds at once (one writing pass; with 2 threads the outputs are first
  // touched while merging) equals merging and extracting threshold by threshold
  {
    const int64_t big[3] = {16, 256, 256};
    const int64_t n = big[0] * big[1] * big[2];
    std::vector<uint32_t> labels(static_cast<std::size_t>(n));
    std::vector<float> affinities(static_cast<std::size_t>(3 * n));
    uint64_t state = 99;
    for (int64_t v = 0; v < n; ++v) {
      const int64_t z = v / (256 * 256), y = v / 256 % 256, x = v % 256;
      labels[v] = x < 8 ? 0 : static_cast<uint32_t>(1 + (z / 4) * 64 * 64 + (y / 4) * 64 + x / 4);
    }
    for (float& a : affinities) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      a = static_cast<float>(state >> 40) / static_cast<float>(1 << 24);
    }
    const float thresholds[3] = {0.45f, 0.49f, 0.51f};
    for (int scoring : {0, 4}) {
      const float* t = thresholds;
      const float low[3] = {0.02f, 0.04f, 0.1f};
      if (scoring == 4) t = low;
      std::vector<std::vector<uint64_t>> expected(3, std::vector<uint64_t>(static_cast<std::size_t>(n)));
      pytc::agglo::Agglomeration one(labels.data(), affinities.data(), big, static_cast<pytc::agglo::Scoring>(scoring),
                                     50, true);
      for (int k = 0; k < 3; ++k) {
        one.merge_until(t[k]);
        one.extract(labels.data(), n, expected[k].data(), 1);
      }
      check(expected[0] != expected[2], "thresholds merge");
      for (int threads : {1, 2}) {
        std::vector<std::vector<uint64_t>> outs(3, std::vector<uint64_t>(static_cast<std::size_t>(n), 123));
        uint64_t* pointers[3] = {outs[0].data(), outs[1].data(), outs[2].data()};
        pytc::agglo::agglomerate(labels.data(), affinities.data(), big, static_cast<pytc::agglo::Scoring>(scoring),
                                 50, true, t, pointers, 3, threads);
        check(outs == expected, "agglomerate() equals threshold by threshold");
      }
    }
  }

  return pytc_test::report("agglomerate");
}
