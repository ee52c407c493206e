// For compile checks against a CPU-only torch wheel, which does not ship this header that torch's
// CUDA build generates. CUDA builds of torch have the real one; it holds this single definition.
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
