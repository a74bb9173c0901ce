"""Read scalar curves from TensorBoard event files, as TensorBoard itself groups them into runs."""

from __future__ import annotations

import os
import stat
import struct
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import Curve
from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.io._common import (
    DataLossWarning,
    SourceError,
    build_curves,
    check_metric,
    unknown_metric,
)

__all__ = ["read_tensorboard"]

_INSTALL = "reading TensorBoard event files needs the tensorboard package: " + install_hint(
    "tensorboard"
)


def _event_files(root: Path, source: str) -> dict[str, list[Path]]:
    """{run name: its event files in writing order}; a run is a folder holding event files,
    named by its path below ``root`` (the folder's own name when ``root`` is the run). Only
    regular files are read: a FIFO or device named like an event file would block the reader
    forever, so it is skipped with a warning."""
    runs: dict[str, list[Path]] = defaultdict(list)
    if not root.is_dir():
        if not _regular(root):
            raise SourceError(
                f"{source}: {str(root)!r} is neither a folder nor a regular file (a pipe or a "
                "device?); give the log directory"
            )
        return {root.parent.name or str(root.parent): [root]}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if "tfevents" in f:
                path = Path(dirpath) / f
                if not _regular(path):
                    _lost(source, path, "not a regular file (a pipe, socket or device?): skipped")
                    continue
                rel = os.path.relpath(dirpath, root)
                name = root.resolve().name if rel == "." else rel.replace(os.sep, "/")
                runs[name].append(path)
    return {k: sorted(v) for k, v in runs.items()}


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)  # a link to a regular file is one
    except OSError:
        return False


def _lost(source: str, path: Path, what: str) -> None:
    warnings.warn(f"{source}: {str(path)!r}: {what}", DataLossWarning, stacklevel=4)


def _records(data: bytes, crc: Callable[[bytes], int]) -> tuple[list[bytes], list[str]]:
    """The intact records of a TFRecord file's bytes, and what was lost (one line each).

    A record is ``length`` (uint64 LE), the masked CRC-32C of those 8 bytes, ``length`` bytes
    of data, and their masked CRC-32C. A record whose data fails its checksum is dropped; a
    header that fails its own is damage of unknown extent, so reading resumes at the next
    offset where a whole record checks out (a flipped byte costs one record, not the file).
    """
    out: list[bytes] = []
    lost: list[str] = []
    pos, size = 0, len(data)
    while pos < size:
        if size - pos < 12:
            lost.append(f"the last {size - pos} bytes are an incomplete record header (cut off)")
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (head_crc,) = struct.unpack_from("<I", data, pos + 8)
        if crc(data[pos : pos + 8]) != head_crc:
            nxt = _resync(data, pos + 1, crc)
            if nxt is None:
                lost.append(f"bytes {pos}-{size} are damaged and hold no intact record")
                break
            lost.append(f"bytes {pos}-{nxt} are damaged (skipped to the next intact record)")
            pos = nxt
            continue
        end = pos + 12 + length + 4
        if end > size:
            lost.append(
                f"the last record (at byte {pos}, {length} bytes) is cut off after "
                f"{size - pos - 12} bytes: a file cut short, or one still being written"
            )
            break
        payload = data[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if crc(payload) != data_crc:
            lost.append(f"the record at byte {pos} fails its checksum and was dropped")
        else:
            out.append(payload)
        pos = end
    return out, lost


def _resync(data: bytes, start: int, crc: Callable[[bytes], int]) -> int | None:
    """The first offset >= ``start`` where a whole record (both checksums) is intact."""
    size = len(data)
    for pos in range(start, size - 15):
        (length,) = struct.unpack_from("<Q", data, pos)
        if pos + 16 + length > size:
            continue
        (head_crc,) = struct.unpack_from("<I", data, pos + 8)
        if crc(data[pos : pos + 8]) != head_crc:
            continue
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if crc(data[pos + 12 : pos + 12 + length]) == data_crc:
            return pos
    return None


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

    Damage is read around and said: a record whose checksum fails is dropped, a damaged
    stretch is skipped to the next intact record, a record cut off at the end (a file cut
    short, or still being written) is left out, and each file that lost something gets one
    :class:`~curvecast.io.DataLossWarning` naming what. Only regular files are read (a pipe
    named like an event file is skipped with a warning, never waited on).

    Raises:
        SourceError: the folder is missing or holds no event file, an event file holds no
            readable record at all, or no run has ``metric`` (the message lists the tags that
            exist).
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
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise MissingDependencyError(_INSTALL) from exc
    files = _event_files(root, source)
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
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise SourceError(
                    f"{source}: cannot read the event file {str(path)!r} ({exc.strerror or exc})"
                ) from None
            records, lost = _records(data, masked_crc32c)
            n_events = 0
            for k, record in enumerate(records):
                try:
                    event = Event.FromString(record)
                    values = _values(event, metric, tags, other, tensor_util)
                except Exception as exc:  # protobuf's DecodeError, a malformed tensor
                    lost.append(f"record {k + 1} is not a TensorBoard event ({type(exc).__name__})")
                    continue
                n_events += 1
                points.extend(values)
            if n_events == 0 and data:
                detail = "; ".join(lost[:3]) or "no record in it"
                raise SourceError(
                    f"{source}: {str(path)!r} is not a readable TensorBoard event file (corrupt "
                    f"or of another format: {detail}); move it out of the log directory or "
                    "delete it"
                )
            if lost:
                _lost(
                    source,
                    path,
                    f"{len(lost)} damaged part(s), read around ({n_events} events kept): "
                    + "; ".join(lost[:5])
                    + (" ..." if len(lost) > 5 else ""),
                )
        if points:
            series[run] = points
    if not series:
        raise unknown_metric(source, metric, tags - other)
    return build_curves(series, source=source, metric=metric, direction=direction, bounds=bounds)


def _values(
    event: Any, metric: str, tags: set[str], other: set[str], tensor_util: Any
) -> list[tuple[float, float]]:
    """The ``(step, value)`` points of ``metric`` in one event; records the tags seen."""
    out = []
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
        out.append((float(event.step), v))
    return out
