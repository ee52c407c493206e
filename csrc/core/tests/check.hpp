// The few lines every standalone core test shares: count failed checks, report, exit status.
#pragma once

#include <cstdio>

namespace pytc_test {

inline int failures = 0;

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

// Prints the outcome and returns main's exit status.
inline int report(const char* name) {
  if (failures == 0) {
    std::printf("all %s checks passed\n", name);
    return 0;
  }
  std::printf("%s: %d check(s) failed\n", name, failures);
  return 1;
}

}  // namespace pytc_test
