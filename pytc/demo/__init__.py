"""Demos: `python -m pytc.demo` trains, predicts and scores on the embedded gala sample (the main job);
`python -m pytc.demo --kernels` measures the kernels' throughput."""
