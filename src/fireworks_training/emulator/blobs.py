"""Checkpoint files: one header line of JSON after a magic line, then raw array bytes.

State saves hold float32 weights, Adam moments and the step. Sampler saves hold bf16
weights: the whole matrix (full-parameter base, LoRA merged_base), the adapter (LoRA), or
the zlib-compressed XOR of the new bf16 bits over a previous base's bits (full-parameter
delta; it is small only when training since that base left most bits alone, see
docs/emulator.md). The server's ``checkpointType`` is read back from the header, never from
what the client asked for.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import kinds
from .model import BigramModel, UserError

__all__ = [
    "Blob",
    "apply_delta",
    "bf16_bits",
    "bf16_float",
    "checkpoint_type",
    "read_blob",
    "read_header",
    "restore_adapter",
    "restore_state",
    "sampler_bits",
    "write_sampler",
    "write_state",
]

MAGIC = b"FWEMU-CKPT 1\n"
_XOR = "xor-bf16-zlib"


@dataclass(frozen=True)
class Blob:
    """A checkpoint file read back: its header and arrays by name."""

    header: dict[str, Any]
    arrays: dict[str, NDArray[Any]]


def bf16_bits(values: NDArray[np.float32]) -> NDArray[np.uint16]:
    """float32 to bfloat16 bit patterns, rounding to nearest even."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def _encode(arrays: dict[str, NDArray[Any]]) -> tuple[list[dict[str, Any]], bytes]:
    specs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array in arrays.items():
        raw = np.ascontiguousarray(array).tobytes()
        specs.append(
            {
                "name": name,
                "dtype": str(array.dtype),
                "shape": list(array.shape),
                "nbytes": len(raw),
            }
        )
        chunks.append(raw)
    return specs, b"".join(chunks)


def _write_raw(
    path: Path, header: dict[str, Any], specs: list[dict[str, Any]], payload: bytes
) -> int:
    head = json.dumps({**header, "arrays": specs}, sort_keys=True).encode()
    data = MAGIC + head + b"\n" + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)


def _write(path: Path, header: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> int:
    specs, payload = _encode(arrays)
    return _write_raw(path, header, specs, payload)


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a checkpoint file."""
    with path.open("rb") as f:
        if f.readline() != MAGIC:
            raise UserError(f"{path.name} is not a checkpoint file")
        header: dict[str, Any] = json.loads(f.readline())
    return header


def read_blob(path: Path) -> Blob:
    """A checkpoint file with its arrays; a delta's array stays as compressed bytes."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise UserError(f"{path.name} is not a checkpoint file")
    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC) : end])
    offset = end + 1
    arrays: dict[str, NDArray[Any]] = {}
    for spec in header["arrays"]:
        raw = data[offset : offset + spec["nbytes"]]
        offset += spec["nbytes"]
        if spec["dtype"] == _XOR:
            arrays[spec["name"]] = np.frombuffer(raw, np.uint8)
        else:
            arrays[spec["name"]] = np.frombuffer(raw, spec["dtype"]).reshape(spec["shape"])
    return Blob(header, arrays)


def write_state(path: Path, model: BigramModel) -> int:
    """Weights, Adam moments and step as float32; returns the file size."""
    arrays: dict[str, NDArray[Any]] = {}
    for key in sorted(model.params):
        arrays[f"param.{key}"] = model.params[key]
        arrays[f"adam_m.{key}"] = model.m[key]
        arrays[f"adam_v.{key}"] = model.v[key]
    header = {
        "content": "state",
        "base_model": model.base_model,
        "lora_rank": model.lora_rank,
        "step": model.step,
    }
    return _write(path, header, arrays)


def restore_state(path: Path, model: BigramModel, *, optimizer: bool) -> None:
    """Load a state file into ``model``; without ``optimizer`` Adam starts over."""
    blob = read_blob(path)
    header = blob.header
    if header.get("content") != "state":
        raise UserError("can only load state checkpoints; this is a sampler checkpoint")
    if header.get("lora_rank") != model.lora_rank:
        raise UserError(
            f"checkpoint has lora_rank={header.get('lora_rank')}, model has {model.lora_rank}"
        )
    model.params = {k: blob.arrays[f"param.{k}"].copy() for k in model.params}
    model.reset_optimizer()
    if optimizer:
        model.m = {k: blob.arrays[f"adam_m.{k}"].copy() for k in model.params}
        model.v = {k: blob.arrays[f"adam_v.{k}"].copy() for k in model.params}
        model.step = int(header["step"])


def restore_adapter(path: Path, model: BigramModel) -> None:
    """Load a LoRA adapter save into ``model`` (same base model and rank); Adam starts over."""
    blob = read_blob(path)
    header = blob.header
    if header.get("content") != "adapter":
        raise UserError(f"not a LoRA adapter: the checkpoint holds {header.get('content')}")
    if header.get("base_model") != model.base_model:
        raise UserError(
            f"adapter is for {header.get('base_model')!r}, the model is {model.base_model!r}"
        )
    if header.get("lora_rank") != model.lora_rank:
        raise UserError(
            f"adapter has lora_rank={header.get('lora_rank')}, model has {model.lora_rank}"
        )
    model.params = {k: bf16_float(blob.arrays[k]) for k in model.params}
    model.reset_optimizer()


def write_sampler(
    path: Path, model: BigramModel, kind: str, previous_base: Path | None
) -> tuple[int, bool]:
    """Write a sampler save; returns (size, whether the file is a full base to delta over)."""
    header: dict[str, Any] = {"base_model": model.base_model, "lora_rank": model.lora_rank}
    if model.lora_rank > 0 and kind != "merged_base":
        arrays = {k: bf16_bits(v) for k, v in sorted(model.params.items())}
        return _write(path, {**header, "content": "adapter"}, arrays), False
    bits = bf16_bits(model.effective_weights())
    if kind != "delta" or model.lora_rank > 0:
        return _write(path, {**header, "content": "weights"}, {"W": bits}), True
    if previous_base is None:
        raise UserError("a delta sampler save needs an earlier base save of this model")
    base = read_blob(previous_base).arrays["W"]
    packed = zlib.compress(np.bitwise_xor(bits, base).tobytes(), 6)
    header = {**header, "content": "delta", "base": previous_base.name}
    specs = [{"name": "W", "dtype": _XOR, "shape": list(bits.shape), "nbytes": len(packed)}]
    return _write_raw(path, header, specs, packed), False


def sampler_bits(path: Path) -> NDArray[np.uint16]:
    """The bf16 bits of a full-parameter sampler save; a delta is applied to its base."""
    blob = read_blob(path)
    content = blob.header.get("content")
    if content == "weights":
        return blob.arrays["W"].copy()
    if content != "delta":
        raise UserError(f"{path.name} holds no full weight matrix ({content})")
    return apply_delta(sampler_bits(path.with_name(blob.header["base"])), blob)


def apply_delta(base: NDArray[np.uint16], delta: Blob) -> NDArray[np.uint16]:
    """``base XOR delta``: the bits a delta save holds, given the bits of its base."""
    xor = np.frombuffer(zlib.decompress(delta.arrays["W"].tobytes()), np.uint16)
    return np.bitwise_xor(base, xor.reshape(base.shape))


def bf16_float(bits: NDArray[np.uint16]) -> NDArray[np.float32]:
    """bfloat16 bit patterns as float32 values (exact)."""
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def checkpoint_type(path: Path) -> str:
    """The server's ``checkpointType`` for a checkpoint file, read from its header."""
    return kinds.classify(read_header(path))
