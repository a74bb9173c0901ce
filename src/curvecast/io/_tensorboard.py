"""Read scalar curves from TensorBoard event files, as TensorBoard itself groups them into runs."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from curvecast.curves import Curve
from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.io._common import SourceError, build_curves, check_metric, unknown_metric

__all__ = ["read_tensorboard"]

_INSTALL = "reading TensorBoard event files needs the tensorboard package: " + install_hint(
    "tensorboard"
)


def _event_files(root: Path) -> dict[str, list[Path]]:
    """{run name: its event files in writing order}; a run is a folder holding event files,
    named by its path below ``root`` (the folder's own name when ``root`` is the run)."""
    runs: dict[str, list[Path]] = defaultdict(list)
    if root.is_file():
        return {root.parent.name or str(root.parent): [root]}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if "tfevents" in f:
                rel = os.path.relpath(dirpath, root)
                name = root.resolve().name if rel == "." else rel.replace(os.sep, "/")
                runs[name].append(Path(dirpath) / f)
    return {k: sorted(v) for k, v in runs.items()}


def read_tensorboard(
    logdir: str | os.PathLike[str],
    metric: str,
    *,
    direction: str = "maximize",
    bounds: Sequence[float | None] | None = None,
) -> dict[str, Curve]:
    """Read ``metric`` of every run under a TensorBoard log directory.

    A run is a folder holding ``events.out.tfevents.*`` files (as TensorBoard shows them: the
    path below ``logdir``, e.g. ``lightning_logs/version_3``); its files are read in name
    (= time) order, so a resumed run continues its curve. Scalars written by
    ``torch.utils.tensorboard``, tensorboardX, Lightning, Keras and TensorFlow are read alike,
    the step of each value being its axis.

    Args:
        logdir: the log directory (or a single event file).
        metric: the scalar tag, e.g. ``"val/loss"``.
        direction: "maximize" or "minimize" (copied onto the curves).
        bounds: ``(lo, hi)`` the metric cannot leave, or None.

    Returns:
        {run name: Curve}, sorted by run name; each Curve's ``meta`` holds run, metric, source.

    Raises:
        SourceError: the folder is missing or holds no event file, an event file cannot be
            read, or no run has ``metric`` (the message lists the tags that exist).
        MissingDependencyError: the tensorboard package is not installed.

    Example:
        >>> curves = read_tensorboard("runs/", "val/loss", direction="minimize")  # doctest: +SKIP
    """
    check_metric(metric, "read_tensorboard")
    root = Path(logdir)
    source = f"tensorboard:{logdir}"
    if not root.exists():
        raise SourceError(
            f"{source}: no such file or folder {str(root.resolve())!r}; give the folder your "
            "SummaryWriter or logger writes to (e.g. runs/ or lightning_logs/)"
        )
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise MissingDependencyError(_INSTALL) from exc
    files = _event_files(root)
    if not files:
        raise SourceError(
            f"{source}: no TensorBoard event file (events.out.tfevents.*) under "
            f"{str(root.resolve())!r}; is it the log directory of your runs, and have they "
            "written anything yet?"
        )
    series: dict[str, list[tuple[float, float]]] = {}
    tags: set[str] = set()
    other: set[str] = set()
    for run, paths in files.items():
        points: list[tuple[float, float]] = []
        for path in paths:
            n_events = 0
            try:
                for event in EventFileLoader(str(path)).Load():
                    n_events += 1
                    for value in event.summary.value:
                        plugin = value.metadata.plugin_data.plugin_name
                        if plugin and plugin != "scalars":
                            other.add(value.tag)  # hparams, histograms, images, text
                        tags.add(value.tag)
                        if value.tag != metric:
                            continue
                        if value.HasField("tensor"):
                            arr = tensor_util.make_ndarray(value.tensor)
                            if arr.size != 1:
                                continue  # not a scalar (a histogram or text under that tag)
                            v = float(arr.reshape(-1)[0])
                        else:
                            v = float(value.simple_value)
                        points.append((float(event.step), v))
            except Exception as exc:  # protobuf and the record reader raise many types
                raise SourceError(
                    f"{source}: cannot read the event file {str(path)!r} ({type(exc).__name__}: "
                    f"{exc}); move it out of the log directory or delete it"
                ) from None
            if n_events == 0 and path.stat().st_size > 0:
                raise SourceError(
                    f"{source}: {str(path)!r} is not a readable TensorBoard event file (corrupt "
                    "or of another format); move it out of the log directory or delete it"
                )
        if points:
            series[run] = points
    if not series:
        raise unknown_metric(source, metric, tags - other)
    return build_curves(series, source=source, metric=metric, direction=direction, bounds=bounds)
