#!/usr/bin/env bash
# The prepared GPU check (about 6 minutes on one H100): build pytc there, run the CUDA tests, then the training
# throughput benchmark (fp32 / bf16 / fp16, trainer vs a plain loop, data wait), the inference throughput benchmark
# (fp16 / bf16, TTA x8, the GPU's busy share on a chunked zarr run) and the SyncBatchNorm GPU group.
#
# The device machine has torch but not every dependency of pytc: carry them as wheels in .whl/
# (benchmarks/gpu/fetch_wheels.sh downloads them here), then on the device machine:
#   bash benchmarks/gpu/run.sh          (figures and logs in $OUT, default /tmp/pytc-gpu)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/pytc-gpu}
mkdir -p "$out"
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
start=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - start )) s)"; }

step "dependencies"
if [ -d .whl ]; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$python" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"

step "build (pytc._ext, and pytc._C with its CUDA kernels)"
PYTC_BUILD_TORCH=1 PYTC_BUILD_JOBS=16 "$python" -m pip install -q --no-build-isolation --no-deps -e . \
  >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }

step "CUDA tests"
timeout 180 "$python" -m pytest -q -p no:cacheprovider -k cuda tests/ 2>&1 | tee "$out/cuda_tests.log" | tail -20

step "training throughput"
timeout 240 "$python" benchmarks/gpu/train_throughput.py --json "$out/train_throughput.json" 2>&1 \
  | tee "$out/train_throughput.log"

step "inference throughput"
timeout 180 "$python" benchmarks/gpu/inference_throughput.py --json "$out/inference_throughput.json" 2>&1 \
  | tee "$out/inference_throughput.log"

step "SyncBatchNorm GPU group"
timeout 90 "$python" -m pytest -q -p no:cacheprovider benchmarks/test_bench_sync_bn.py -k cuda \
  --benchmark-json="$out/sync_bn.json" 2>&1 | tail -15
step "done"
