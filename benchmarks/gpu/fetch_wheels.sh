#!/usr/bin/env bash
# Downloads, here, the wheels that pytc needs on the GPU machine and its image lacks (Python 3.12, x86-64), into
# .whl/ of the checkout (ignored by git). Carry .whl when running benchmarks/gpu/run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
platforms=()
for n in 17 27 28 31 34; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for package in connected-components-3d edt fastremap tensorboardX zarr numcodecs donfig crc32c; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "$package"
done
ls -la .whl
