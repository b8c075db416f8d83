"""Chunk frames, version 1 (docs/protocol.md, "Chunk frame, version 1").

A frame is a 40-byte little-endian header followed by ``count`` float32 values. The CRC32C at offset 36
covers bytes [0, 36) and then the payload, as one running CRC. Everything here works on whole buffers
(struct for the header, numpy for the payload, a C CRC32C): no per-element Python loops.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

MAGIC = b"FAGG"
VERSION = 1
KIND_GRADIENT = 1
KIND_AGGREGATE = 2
HEADER_BYTES = 40
# Largest count whose frame still fits one Vert.x message (an int length): ChunkFrame.MAX_COUNT.
MAX_COUNT = 536870901

# Everything before the CRC field: magic, version, kind, reserved, round, slot, chunk, offset, count.
_HEAD = struct.Struct("<4sBBHqiiqi")
_CRC = struct.Struct("<I")
_INT64_MAX = (1 << 63) - 1
_INT32_MAX = (1 << 31) - 1


def _load_crc32c():
    """The fastest CRC32C at hand: the ``crc32c`` package, else ``google-crc32c`` (both C code).

    Returns (extend(crc, data) -> crc, takes_buffers). google-crc32c only takes ``bytes`` (not memoryview or
    bytearray), so with it the frame is assembled from bytes; ``crc32c`` hashes memoryview slices directly.
    """
    try:
        import crc32c as _c  # type: ignore

        fn = getattr(_c, "crc32c", None) or _c.crc32
        return (lambda crc, data: fn(data, crc)), True, "crc32c"
    except ImportError:
        pass
    try:
        import google_crc32c as _g  # type: ignore

        return _g.extend, False, "google-crc32c (" + getattr(_g, "implementation", "?") + ")"
    except ImportError:
        raise ImportError(
            "flagagg needs a C CRC32C: pip install crc32c (or google-crc32c)") from None


_extend, _TAKES_BUFFERS, CRC_BACKEND = _load_crc32c()


def crc32c(data, crc: int = 0) -> int:
    """CRC32C (Castagnoli) of ``data``, continuing ``crc`` (0 to start): crc32c(b, crc32c(a)) == crc32c(a + b)."""
    if not _TAKES_BUFFERS and not isinstance(data, bytes):
        data = bytes(data)
    return _extend(crc, data)


class FrameError(ValueError):
    """A received frame that is not a well-formed chunk frame; ``reason`` uses the server's names (BAD_CRC...)."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class Header(NamedTuple):
    kind: int
    round: int
    slot: int
    chunk: int
    offset: int
    count: int
    crc: int


def encode(kind: int, round_id: int, slot: int, chunk: int, offset: int, values) -> bytes:
    """One frame carrying ``values`` (anything numpy turns into float32; copied once, little-endian).

    Pass a contiguous float32 slice (``flat[a:b]``) to avoid a conversion pass.
    """
    payload = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    count = payload.size
    if kind not in (KIND_GRADIENT, KIND_AGGREGATE):
        raise ValueError(f"kind must be 1 (gradient) or 2 (aggregate), got {kind}")
    if round_id < 0 or round_id > _INT64_MAX:
        raise ValueError(f"round must be in [0, 2^63 - 1], got {round_id}")
    for name, v in (("slot", slot), ("chunk", chunk)):
        if v < 0 or v > _INT32_MAX:
            raise ValueError(f"{name} must be in [0, 2^31 - 1], got {v}")
    if offset < 0 or offset > _INT64_MAX - count:
        raise ValueError(f"offset must be >= 0 and offset + count <= 2^63 - 1, got offset {offset}, count {count}")
    if count > MAX_COUNT:
        raise ValueError(f"count must be <= {MAX_COUNT} (one message), got {count}")
    head = _HEAD.pack(MAGIC, VERSION, kind, 0, round_id, slot, chunk, offset, count)
    body = payload.tobytes()
    crc = _extend(_extend(0, head), body)
    return b"".join((head, _CRC.pack(crc), body))


def parse(frame) -> Header:
    """Validates a frame in the server's order (TRUNCATED, BAD_MAGIC, ... BAD_CRC); raises FrameError."""
    n = len(frame)
    if n < HEADER_BYTES:
        raise FrameError("TRUNCATED", f"{n} bytes, a header needs {HEADER_BYTES}")
    magic, version, kind, reserved, round_id, slot, chunk, offset, count = _HEAD.unpack_from(frame)
    (crc,) = _CRC.unpack_from(frame, 36)
    if magic != MAGIC:
        raise FrameError("BAD_MAGIC", f"magic {bytes(magic)!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise FrameError("BAD_VERSION", f"version {version}, expected {VERSION}")
    if kind not in (KIND_GRADIENT, KIND_AGGREGATE):
        raise FrameError("BAD_KIND", f"kind {kind}, expected 1 or 2")
    if reserved != 0:
        raise FrameError("BAD_RESERVED", f"reserved {reserved}, expected 0")
    if min(round_id, slot, chunk, offset, count) < 0 or offset > _INT64_MAX - count:
        raise FrameError("BAD_FIELD", f"round {round_id}, slot {slot}, chunk {chunk}, offset {offset}, count {count}")
    if n != HEADER_BYTES + 4 * count:
        raise FrameError("BAD_LENGTH", f"{n} bytes, count {count} needs {HEADER_BYTES + 4 * count}")
    if _TAKES_BUFFERS:
        mv = memoryview(frame)
        actual = _extend(_extend(0, mv[:36]), mv[HEADER_BYTES:])
    else:
        data = frame if isinstance(frame, bytes) else bytes(frame)
        actual = _extend(_extend(0, data[:36]), data[HEADER_BYTES:])
    if actual != crc:
        raise FrameError("BAD_CRC", f"stored 0x{crc:08x}, computed 0x{actual:08x}")
    return Header(kind, round_id, slot, chunk, offset, count, crc)


def payload(frame, header: Header) -> np.ndarray:
    """The frame's values as a read-only float32 view (no copy)."""
    return np.frombuffer(frame, dtype="<f4", count=header.count, offset=HEADER_BYTES)


def chunk_ranges(dim: int, chunk_coords: int):
    """(index, offset, count) of each chunk: chunk i covers [i * chunk_coords, min((i + 1) * chunk_coords, dim))."""
    if dim < 0 or chunk_coords <= 0:
        raise ValueError(f"need dim >= 0 and chunk_coords > 0, got dim {dim}, chunk_coords {chunk_coords}")
    chunks = -(-dim // chunk_coords)
    return [(i, i * chunk_coords, min(chunk_coords, dim - i * chunk_coords)) for i in range(chunks)]
