#pragma once
// Run-time choice of SIMD code. The hot row loops of the kernels are compiled twice on x86-64 Linux with GCC or
// clang (target_clones: AVX2 and baseline) and the dynamic loader picks one version per function when the
// library loads, from the CPU's features. Builds never use -march=native unless asked (PYTC_NATIVE=1), so one
// binary (a wheel) runs on any x86-64 CPU.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define PYTC_HAS_TARGET_CLONES 1
#define PYTC_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PYTC_HAS_TARGET_CLONES 0
#define PYTC_SIMD_CLONES
#endif

namespace pytc {

// The version the clones resolve to on this CPU: "avx2" or "baseline" (the same test the loader's resolver
// makes), or "baseline (no run-time dispatch in this build)" where the clones are not compiled. A build whose
// baseline itself has AVX2 (-march=native on an AVX2 machine, -mavx2) says so.
inline const char* simd_path() {
#if defined(__AVX2__)
  return "avx2 (the whole build targets AVX2: -march or -mavx2)";
#elif PYTC_HAS_TARGET_CLONES
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? "avx2" : "baseline";
#else
  return "baseline (no run-time dispatch in this build)";
#endif
}

}  // namespace pytc
