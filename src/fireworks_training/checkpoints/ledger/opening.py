"""A ``log_path`` to a ledger: a local folder, or any fsspec URL (``s3://``, ``gs://``, ...).

Credentials come from where the storage library looks for them (environment, profiles,
``storage_options``); none of them is ever part of a location shown in a message or repr.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .base import RunLedger
from .errors import LogPathError, MissingExtraError
from .lease import DEFAULT_LEASE_TTL_S
from .local import CHECKPOINTS_FILE, Ledger
from .objects import FsspecObjects
from .remote import RemoteLedger

__all__ = ["REMOTE_EXTRA", "RunLedger", "is_url", "ledger_at", "open_ledger", "redact_url"]

REMOTE_EXTRA = "pip install 'fireworks-training[remote]'"


def is_url(log_path: object) -> bool:
    """True for ``scheme://...`` strings (``file://`` included)."""
    return isinstance(log_path, str) and "://" in log_path


def redact_url(url: str) -> str:
    """``url`` without user, password, query or fragment: safe to show."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def _local_path(url: str) -> str:
    """The path of a ``file://`` URL (``file:///abs`` and ``file://rel`` both accepted)."""
    return url[len("file://") :]


def open_ledger(
    log_path: str | os.PathLike[str],
    *,
    storage_options: Mapping[str, Any] | None = None,
    lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
) -> Ledger | RemoteLedger:
    """The ledger of a run directory; no I/O for a local path, no request for a URL."""
    if not is_url(log_path):
        if storage_options:
            raise LogPathError("storage_options apply only to a log_path URL (s3://...)")
        return Ledger(log_path, lease_ttl_s=lease_ttl_s)
    url = str(log_path)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        return Ledger(_local_path(url), lease_ttl_s=lease_ttl_s)
    return RemoteLedger(_fsspec_objects(url, storage_options), lease_ttl_s=lease_ttl_s)


def _fsspec_objects(url: str, storage_options: Mapping[str, Any] | None) -> FsspecObjects:
    location = redact_url(url)
    if "@" in urlsplit(url).netloc:
        raise LogPathError(
            f"log_path {location!r} carries credentials in its URL; take them from the "
            "environment, a profile, or storage_options"
        )
    try:
        fsspec: Any = importlib.import_module("fsspec")  # untyped; imported only for URLs
    except ImportError:
        raise MissingExtraError(
            f"log_path {location!r} is a URL, which needs fsspec: {REMOTE_EXTRA}"
        ) from None
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        detail = " ".join(str(exc).split())
        raise MissingExtraError(
            f"log_path {location!r}: {detail} ({REMOTE_EXTRA} covers s3://)"
        ) from None
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise LogPathError(f"log_path {location!r}: {detail}") from None
    if not root.strip("/"):
        raise LogPathError(f"log_path {location!r} names no folder; add one (s3://bucket/run)")
    return FsspecObjects(fs, root, location)


def ledger_at(path: str | os.PathLike[str]) -> Ledger | RemoteLedger:
    """A ledger to read, from a checkpoints file path or a log_path URL.

    ``s3://bucket/run`` and ``s3://bucket/run/checkpoints.jsonl`` name the same ledger.
    """
    if is_url(path) and not str(path).lower().startswith("file://"):
        return open_ledger(str(path).removesuffix("/" + CHECKPOINTS_FILE))
    if is_url(path):
        path = _local_path(str(path))
    return Ledger.from_file(path)
