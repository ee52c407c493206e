"""Recording proofreading operations from the viewer: key bindings on a segmentation layer append operations to
a JSON file, which `python -m pytc.active apply` applies to give corrected labels.

Keys (with the mouse over the segmentation):
  alt+m  merge the layer's selected segments (double-click segments to select them)    {"op": "merge", "ids": [...]}
  alt+s  mark a split point in the segment under the mouse; the second point in the same segment records
         {"op": "split", "id": ID, "points": [[z, y, x], [z, y, x]]}
  alt+c  mark the segment under the mouse as correct                                 {"op": "correct", "id": ID}
  alt+u  undo the last recorded operation
The file is rewritten after each operation, so it is complete whenever the viewer stops.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

KEYS = {"alt+keym": "merge", "alt+keys": "split", "alt+keyc": "correct", "alt+keyu": "undo"}


class OperationRecorder:
    """Turns viewer actions on segmentation layer `layer` into operations saved to `path` (see the module
    docstring). `volume` (the layer's `Region`) gives the id under the mouse. `handle(action, state)` takes
    Neuroglancer's action state; `operations` is the list so far."""

    def __init__(self, path: str | os.PathLike, layer: str, volume: Any = None, log=print):
        self.path, self.layer, self.volume, self.log = Path(path), layer, volume, log
        self.operations: list[dict[str, Any]] = []
        if self.path.exists():  # continue a file of earlier sessions
            self.operations = json.loads(self.path.read_text() or "[]")
        self.pending: dict[int, list[int]] = {}

    def attach(self, viewer: Any) -> None:
        """Adds the key bindings and actions to a Neuroglancer viewer."""
        for key, action in KEYS.items():
            name = f"pytc-{action}"
            viewer.actions.add(name, lambda state, action=action: self.handle(action, state))
            with viewer.config_state.txn() as s:
                s.input_event_bindings.viewer[key] = name

    def _segment_under_mouse(self, state) -> int | None:
        """The id at the mouse: read from the layer's volume when given (what the browser reports can lag behind
        the mouse), else the value the browser reports."""
        mouse = state.mouse_voxel_coordinates
        if self.volume is not None and mouse is not None:
            voxel = [int(v) for v in mouse[:3]]
            if all(0 <= v < n for v, n in zip(voxel, self.volume.shape[-3:])):
                return int(self.volume[tuple(slice(v, v + 1) for v in voxel)].ravel()[0]) or None
            return None
        selected = state.selected_values.get(self.layer) if state.selected_values is not None else None
        value = getattr(selected, "value", None)
        if hasattr(value, "key"):  # a segment mapped by an equivalence: the id it maps to
            value = value.value if value.value is not None else value.key
        return int(value) if value else None

    def handle(self, action: str, state: Any) -> dict[str, Any] | None:
        """Records the operation of `action` ('merge', 'split', 'correct', 'undo'); returns it (None when
        nothing was recorded, e.g. the first split point)."""
        operation = None
        if action == "merge":
            ids = sorted(int(i) for i in state.viewer_state.layers[self.layer].segments)
            if len(ids) < 2:
                self.log("merge: select two or more segments first (double-click them)")
                return None
            operation = {"op": "merge", "ids": ids}
        elif action in ("split", "correct"):
            segment = self._segment_under_mouse(state)
            if segment is None or state.mouse_voxel_coordinates is None:
                self.log(f"{action}: put the mouse over a segment of layer {self.layer!r}")
                return None
            if action == "correct":
                operation = {"op": "correct", "id": segment}
            else:
                point = [int(v) for v in state.mouse_voxel_coordinates[:3]]
                points = self.pending.setdefault(segment, [])
                points.append(point)
                if len(points) < 2:
                    self.log(f"split: point {point} in segment {segment}; alt+s on a second point in it")
                    return None
                operation = {"op": "split", "id": segment, "points": self.pending.pop(segment)}
        elif action == "undo":
            if self.operations:
                self.log(f"undo: {self.operations.pop()}")
                self._save()
            return None
        self.operations.append(operation)
        self._save()
        self.log(f"recorded {operation}")
        return operation

    def _save(self) -> None:
        self.path.write_text(json.dumps(self.operations, indent=1) + "\n")
