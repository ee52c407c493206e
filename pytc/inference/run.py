"""Running a prediction in one process, or on several GPUs that split the chunks (`python -m pytc.infer`)."""

from pathlib import Path

import torch

from ..data.io import SOURCE_IMAGE_ATTR, ZARR_SUFFIXES, set_attributes, split_dataset
from ..distributed import launch
from .api import Prepared, _open, _output_channels, predict
from .chunked import Outputs, default_chunk, output_shapes, predict_volume
from .predict import Source

PREPARE_KEYS = ("window", "overlap", "batch", "blending", "precision", "crop")


def _prepared(checkpoint, device, options):
    return Prepared(
        checkpoint,
        **{k: options.get(k) for k in PREPARE_KEYS},
        device=device,
        which=options.get("which") or "best",
        weights=options.get("weights") or "auto",
    )


def _chunk_process(rank, world, device, threads, checkpoint, image, output, chunk, options):
    prepared = _prepared(checkpoint, device, options)
    source = Source(_open(image), prepared.normalization)
    predictor = prepared.predictor(options.get("tta") or 1, bool(options.get("uncertainty")))
    predict_volume(
        predictor,
        source,
        output,
        chunk,
        channels=_output_channels(predictor, source),
        activations=prepared.activations,
        dtype=options.get("dtype") or "float32",
        rank=rank,
        world=world,
    )


def run_inference(checkpoint, image, output, *, num_gpu=0, num_proc=1, progress=None, **options):
    """Predicts `image` into `output` with a checkpoint; returns the output path.

    One process uses the GPU (`num_gpu` 1) or the CPU (0). Several (`num_gpu` > 1, or `num_proc` > 1 on the
    CPU) split the chunks of a zarr output between them; the result is the same as with one. `options` are
    those of `pytc.inference.predict`.
    """
    options = {k: v for k, v in options.items() if v is not None}
    processes = num_gpu if num_gpu > 0 else num_proc
    if num_gpu > torch.cuda.device_count():
        have = torch.cuda.device_count()
        raise ValueError(f"--num-gpu {num_gpu}: this machine has {have} usable GPU{'s' * (have != 1)}")
    if processes <= 1:
        device = torch.device("cuda", 0) if num_gpu else torch.device("cpu")
        written = predict(checkpoint, image, output, device=device, progress=progress, **options)
        _record_image(image, output, options)
        return written
    if Path(split_dataset(str(output))[0]).suffix.lower() not in ZARR_SUFFIXES:
        raise ValueError(f"predict: several processes write one output only as zarr (.zarr); got {output}")
    prepared = _prepared(checkpoint, "cpu", options)  # the output's datasets are made here, once
    source = Source(_open(image), prepared.normalization)
    predictor = prepared.predictor(options.get("tta") or 1, bool(options.get("uncertainty")))
    window, _ = predictor.grid(source.spatial)
    chunk = tuple(options.pop("chunk", None) or default_chunk(window, source.spatial))
    shapes = output_shapes(
        _output_channels(predictor, source), source.spatial, prepared.activations, predictor.uncertainty
    )
    Outputs(str(output), shapes, chunk, options.get("dtype") or "float32").create()
    launch(_chunk_process, processes, num_gpu > 0, 0, (checkpoint, image, str(output), chunk, options))
    _record_image(image, output, options)
    return str(output)


def _record_image(image, output, options):
    """Names the input image on each HDF5 or zarr output dataset (`pytc_image`), for `python -m pytc.view`."""
    if not isinstance(image, (str, Path)):
        return
    path, dataset = split_dataset(str(image))
    source = str(Path(path).absolute()) + (f":{dataset}" if dataset else "")
    file, name = split_dataset(str(output))
    name = name or "prediction"
    kinds = ["variance", "entropy"] if options.get("uncertainty") else []
    for key in [name] + [f"{name}_{kind}" for kind in kinds]:
        try:
            set_attributes(file, key, {SOURCE_IMAGE_ATTR: source})
        except KeyError:  # entropy is written only for probability tasks
            pass
