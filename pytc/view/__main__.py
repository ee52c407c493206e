"""Look at volumes, predictions and segmentations in Neuroglancer: python -m pytc.view [VOLUME ...] [--run RUN]

A VOLUME is PATH[:DATASET][:KIND], KIND one of image (EM), seg (a segmentation), aff (affinities, their first
three channels as RGB) or prob (probabilities, variance or entropy as a heat map); without KIND it is guessed
from the dtype, shape and name. Volumes are read by region as the browser asks, never whole. The viewer serves
from this process, bound to localhost unless --bind says otherwise, and prints its link; Ctrl-C stops it.
Needs the `neuroglancer` package: pip install 'pytc[view]'.

examples:
  python -m pytc.view train.h5:raw train.h5:gt --resolution 30 6 6
  python -m pytc.view --run runs/demo-20261207-101500          # a training or inference run folder
  python -m pytc.view --run runs/mito/round1                   # a selection: pool, uncertainty, patch boxes
  python -m pytc.view pred.zarr:affinities:aff seg.h5:seg_0.3 --select 12 40 --state-out state.json
"""

import signal
import sys
import threading

from pytc.cli import command_parser


def parse_args(argv=None):
    from .viewer import LAYOUTS

    parser = command_parser("python -m pytc.view", __doc__)
    parser.add_argument("volumes", nargs="*", metavar="VOLUME", help="PATH[:DATASET][:image|seg|aff|prob]")
    parser.add_argument("--run", help="a run folder: its config's image and label, and its predictions")
    parser.add_argument("--bind", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument(
        "--resolution",
        type=float,
        nargs=3,
        metavar=("Z", "Y", "X"),
        help="voxel size in nm (default: the `resolution` attribute of the first volume that has one, else 1 1 1)",
    )
    parser.add_argument("--select", type=int, nargs="+", default=[], metavar="ID", help="segment ids to select")
    parser.add_argument("--layout", choices=LAYOUTS, help="default: 4panel (xy for a single section)")
    parser.add_argument("--state-out", metavar="FILE", help="write the Neuroglancer state JSON to FILE")
    parser.add_argument(
        "--record-ops",
        metavar="FILE",
        help="record proofreading operations (alt+m merge, alt+s split, alt+c "
        "correct, alt+u undo) on the first segmentation layer to FILE, for `python -m pytc.active apply`",
    )
    args = parser.parse_args(argv)
    if not args.volumes and not args.run:
        parser.error("give at least one VOLUME or --run RUN_DIR")
    if not 0 <= args.port < 65536:
        parser.error(f"--port must be in [0, 65535]; got {args.port}")
    return args


def main(argv=None):
    args = parse_args(argv)
    from pytc.data import VolumeReadError

    from .run import run_boxes, run_volumes
    from .viewer import open_viewer, require_neuroglancer, write_state
    from .volumes import VolumeSpec, open_region

    try:
        require_neuroglancer()
        specs = run_volumes(args.run) if args.run else []
        boxes = run_boxes(args.run) if args.run else []
        specs += [VolumeSpec.parse(text) for text in args.volumes]
        regions = [open_region(spec) for spec in specs]
        viewer = open_viewer(
            regions,
            bind=args.bind,
            port=args.port,
            resolution=args.resolution,
            select=args.select,
            layout=args.layout,
            boxes=boxes,
        )
        url = viewer.get_viewer_url()
    except (FileNotFoundError, KeyError, ValueError, VolumeReadError, ImportError, OSError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"pytc view: error: {message}", file=sys.stderr)
        return 2
    if args.state_out:
        write_state(viewer, args.state_out)
    if args.record_ops:
        from .record import OperationRecorder

        segmentations = [(layer.name, r) for layer, r in zip(viewer.state.layers, regions) if r.kind == "seg"]
        if not segmentations:
            print("pytc view: error: --record-ops needs a segmentation layer", file=sys.stderr)
            return 2
        name, region = segmentations[0]
        OperationRecorder(args.record_ops, name, region, log=lambda text: print(text, flush=True)).attach(viewer)
        print(f"  recording operations on {name!r} to {args.record_ops}", flush=True)
    for region, layer in zip(regions, viewer.state.layers):
        print(f"  {layer.name}: {region.kind}, {'x'.join(map(str, region.shape))} {region.dtype}", flush=True)
    if boxes:
        print(f"  boxes: {len(boxes)} patches of the selection", flush=True)
    print(f"Neuroglancer: {url}\n(Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    # Ctrl-C and SIGTERM stop the viewer. SIGINT's handler is set here, since a shell starts background jobs with
    # SIGINT ignored and Python then keeps it so; handlers run in the main thread, which wakes twice a second.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
