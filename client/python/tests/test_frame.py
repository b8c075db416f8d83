"""Pure tests of the chunk frame: the protocol doc's worked example, the CRC, validation order, chunking."""
import os
import random
import re
import struct

import numpy as np
import pytest

from flagagg import frame as fr

# docs/protocol.md, "Worked example": round 7, slot 3, chunk 2, offset 131072, values [1.0, -2.5].
WORKED_EXAMPLE = bytes.fromhex(
    "46 41 47 47 01 01 00 00 07 00 00 00 00 00 00 00"
    "03 00 00 00 02 00 00 00 00 00 02 00 00 00 00 00"
    "02 00 00 00 37 ab ee 1f 00 00 80 3f 00 00 20 c0")
DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "protocol.md")


def reference_crc32c(data, crc=0):
    """Bitwise CRC32C, straight from the definition (reflected 0x82F63B78): independent of the C code."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def test_worked_example_matches_the_doc_byte_for_byte():
    assert fr.encode(fr.KIND_GRADIENT, 7, 3, 2, 131072, [1.0, -2.5]) == WORKED_EXAMPLE


def test_worked_example_dump_in_the_doc_is_the_one_we_encode():
    if not os.path.exists(DOC):
        pytest.skip("docs/protocol.md is not beside this package")
    text = open(DOC, encoding="utf-8").read()
    section = text[text.index("## Worked example"):]
    dump = re.search(r"```\n(0000 .*?)```", section, re.S).group(1)
    hexed = "".join(line[6:] for line in dump.strip().splitlines())
    assert bytes.fromhex(hexed) == WORKED_EXAMPLE


def test_parse_worked_example():
    h = fr.parse(WORKED_EXAMPLE)
    assert h == fr.Header(1, 7, 3, 2, 131072, 2, 0x1FEEAB37)
    assert fr.payload(WORKED_EXAMPLE, h).tolist() == [1.0, -2.5]


def test_crc_check_value_and_continuation():
    assert fr.crc32c(b"123456789") == 0xE3069283
    rng = random.Random(5)
    a = bytes(rng.getrandbits(8) for _ in range(1000))
    b = bytes(rng.getrandbits(8) for _ in range(777))
    assert fr.crc32c(a + b) == reference_crc32c(a + b)
    assert fr.crc32c(b, fr.crc32c(a)) == fr.crc32c(a + b)
    assert fr.crc32c(memoryview(a)) == fr.crc32c(a)


def test_crc_covers_header_then_payload_skipping_the_crc_field():
    values = np.random.default_rng(1).standard_normal(1001).astype("<f4")
    f = fr.encode(fr.KIND_AGGREGATE, 123456789012, 17, 5, 5 * 1001, values)
    (stored,) = struct.unpack_from("<I", f, 36)
    assert stored == reference_crc32c(f[:36] + f[40:])
    assert len(f) == 40 + 4 * 1001


def test_payload_carried_bit_for_bit():
    bits = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001, 0x7F800000, 0xFF800000, 0x3F800000],
                    dtype="<u4")
    f = fr.encode(fr.KIND_GRADIENT, 0, 0, 0, 0, bits.view("<f4"))
    h = fr.parse(f)
    assert fr.payload(f, h).view("<u4").tolist() == bits.tolist()


def test_big_endian_and_float64_input_are_converted():
    x = np.array([1.5, -3.25, 1e-3], dtype=">f8")
    f = fr.encode(fr.KIND_GRADIENT, 1, 0, 0, 0, x)
    assert fr.payload(f, fr.parse(f)).tolist() == np.array(x, dtype="<f4").tolist()


def test_empty_chunk_is_valid():
    f = fr.encode(fr.KIND_GRADIENT, 1, 2, 3, 4, np.zeros(0, np.float32))
    assert len(f) == 40 and fr.parse(f).count == 0


def corrupt(frame, offset, fmt, value):
    b = bytearray(frame)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


@pytest.mark.parametrize("mutate, reason", [
    (lambda f: f[:39], "TRUNCATED"),
    (lambda f: b"FAGH" + f[4:], "BAD_MAGIC"),
    (lambda f: corrupt(f, 4, "<B", 2), "BAD_VERSION"),
    (lambda f: corrupt(f, 5, "<B", 3), "BAD_KIND"),
    (lambda f: corrupt(f, 6, "<H", 1), "BAD_RESERVED"),
    (lambda f: corrupt(f, 16, "<i", -1), "BAD_FIELD"),
    (lambda f: corrupt(f, 24, "<q", (1 << 63) - 1), "BAD_FIELD"),
    (lambda f: f + b"\0\0\0\0", "BAD_LENGTH"),
    (lambda f: f[:-4], "BAD_LENGTH"),
    (lambda f: corrupt(f, 16, "<i", 4), "BAD_CRC"),        # a flipped slot: caught because the CRC covers it
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "BAD_CRC"),
    (lambda f: corrupt(corrupt(f, 4, "<B", 9), 16, "<i", -1), "BAD_VERSION"),  # first failing check wins
])
def test_validation_reasons_in_the_documented_order(mutate, reason):
    with pytest.raises(fr.FrameError) as e:
        fr.parse(mutate(WORKED_EXAMPLE))
    assert e.value.reason == reason


@pytest.mark.parametrize("args", [
    (3, 0, 0, 0, 0), (1, -1, 0, 0, 0), (1, 0, -1, 0, 0), (1, 0, 0, -1, 0), (1, 0, 0, 0, -1),
    (1, 0, 1 << 31, 0, 0), (1, 0, 0, 0, (1 << 63) - 1),
])
def test_encode_refuses_fields_the_server_would_reject(args):
    with pytest.raises(ValueError):
        fr.encode(*args, [1.0])


@pytest.mark.parametrize("dim, cc", [(0, 4), (1, 4), (3, 4), (4, 4), (5, 4), (65536 * 3 + 7, 65536), (10, 1)])
def test_chunk_ranges_cover_the_vector_exactly(dim, cc):
    ranges = fr.chunk_ranges(dim, cc)
    assert len(ranges) == -(-dim // cc)
    covered = 0
    for i, (index, offset, count) in enumerate(ranges):
        assert index == i and offset == covered and 0 < count <= cc
        covered += count
    assert covered == dim


def test_odd_sized_vector_round_trips_through_frames():
    x = np.random.default_rng(3).standard_normal(65536 * 2 + 12345).astype(np.float32)
    out = np.full_like(x, np.nan)
    for i, off, cnt in fr.chunk_ranges(x.size, 65536):
        f = fr.encode(fr.KIND_AGGREGATE, 9, 0, i, off, x[off:off + cnt])
        h = fr.parse(f)
        out[h.offset:h.offset + h.count] = fr.payload(f, h)
    assert np.array_equal(out, x)
