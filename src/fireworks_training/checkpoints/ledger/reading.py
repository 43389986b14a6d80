"""Lines of a file from the last to the first, in blocks, in time linear in the file size.

A line longer than a block (a huge or unterminated last line) is kept as a list of its
pieces and joined once when its start is found, so no byte is copied more than twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["BLOCK", "BackwardLines"]

BLOCK = 64 * 1024


class BackwardLines:
    """Iterate the non-blank lines of ``f`` (without their newline), newest first.

    ``bytes_read`` and ``bytes_joined`` count the work done, so it can be bounded.
    """

    def __init__(self, f: BinaryIO, block: int = BLOCK) -> None:
        self._f = f
        self._block = block
        self.bytes_read = 0
        self.bytes_joined = 0

    def __iter__(self) -> Iterator[bytes]:
        position = self._f.seek(0, os.SEEK_END)
        pieces: list[bytes] = []  # the partial line at the front, its last piece first
        while position > 0:
            size = min(self._block, position)
            position -= size
            self._f.seek(position)
            chunk = self._f.read(size)
            self.bytes_read += len(chunk)
            first = chunk.find(b"\n")
            if first < 0:
                pieces.append(chunk)
                continue
            last = chunk.rfind(b"\n")
            pieces.append(chunk[last + 1 :])
            yield from self._nonblank(self._join(pieces))
            # Whole lines between the first and the last newline of this block.
            inner = chunk[first + 1 : last].split(b"\n") if last > first else []
            for line in reversed(inner):
                yield from self._nonblank(line)
            pieces = [chunk[:first]]
        yield from self._nonblank(self._join(pieces))

    def _join(self, pieces: list[bytes]) -> bytes:
        if len(pieces) == 1:
            return pieces[0]
        line = b"".join(reversed(pieces))
        self.bytes_joined += len(line)
        return line

    @staticmethod
    def _nonblank(line: bytes) -> Iterator[bytes]:
        if line.strip():
            yield line
