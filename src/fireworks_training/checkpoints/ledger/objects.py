"""Small immutable objects under a root: what the remote ledger and every lease are built on.

Four operations, each one request on an object store: ``names`` (one listing),
``read`` (None when missing), ``create`` (fails with ``FileExistsError`` when the object
exists: a conditional put, ``If-None-Match: *`` on S3) and ``replace``. Two backends: a local folder
(``O_EXCL`` creates, fsynced; atomic renames) and any fsspec filesystem.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .errors import LedgerStorageError

__all__ = ["FsspecObjects", "LocalObjects", "Objects"]

T = TypeVar("T")


class Objects(Protocol):
    """Keys are ``/``-separated paths relative to the root."""

    location: str

    def names(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (objects and sub-prefixes); [] when none."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object's bytes; None when it does not exist."""
        ...

    def create(self, key: str, data: bytes) -> None:
        """Write a new object; ``FileExistsError`` when ``key`` exists (nothing written)."""
        ...

    def replace(self, key: str, data: bytes) -> None:
        """Write an object whole, over any previous one."""
        ...


class LocalObjects:
    """Objects as files in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def names(self, prefix: str) -> list[str]:
        try:
            return [n for n in os.listdir(self.root / prefix) if not n.startswith(".tmp-")]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def create(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(path.parent)

    def replace(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)


class FsspecObjects:
    """Objects on an fsspec filesystem (S3, GCS, Azure, memory, ...).

    Listings bypass fsspec's listing cache: another writer may have added objects since.
    A missing object reads as None; other failures (a missing bucket, a refused write)
    become :class:`LedgerStorageError`.
    """

    def __init__(self, fs: Any, root: str, location: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.location = location

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _call(self, what: str, key: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except FileExistsError:
            raise  # a conditional create that found the object: the caller decides
        except Exception as exc:  # any backend's failure, reported in one line
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise LedgerStorageError(
                f"{what} {self.location}/{key}: {type(exc).__name__}: {message}"
            ) from exc

    def names(self, prefix: str) -> list[str]:
        path = self._path(prefix)

        def listing() -> list[str]:
            self.fs.invalidate_cache(path)
            try:
                entries = self.fs.ls(path, detail=False)
            except FileNotFoundError:
                return []
            return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]

        return self._call("list", prefix, listing)

    def read(self, key: str) -> bytes | None:
        def get() -> bytes | None:
            try:
                data: bytes = self.fs.cat_file(self._path(key))
            except FileNotFoundError:
                return None
            return data

        return self._call("read", key, get)

    def create(self, key: str, data: bytes) -> None:
        self._call("create", key, lambda: self.fs.pipe_file(self._path(key), data, mode="create"))

    def replace(self, key: str, data: bytes) -> None:
        self._call("write", key, lambda: self.fs.pipe_file(self._path(key), data))


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may be short)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"write wrote nothing ({len(view)} bytes left)")
        view = view[written:]


def fsync_dir(path: Path) -> None:
    """Make a new or renamed entry of ``path`` survive a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
