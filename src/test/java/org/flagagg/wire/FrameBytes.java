package org.flagagg.wire;

import java.util.zip.CRC32C;

/**
 * Test-side reading and writing of frame bytes, written from the table in docs/protocol.md and independent
 * of ChunkFrame's decoder: explicit little-endian shifts, no ByteBuffer, no VarHandle.
 */
final class FrameBytes {
    private FrameBytes() {
    }

    static int u8(byte[] b, int at) {
        return b[at] & 0xFF;
    }

    static int int32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    static long int64(byte[] b, int at) {
        return (int32(b, at) & 0xFFFFFFFFL) | ((long) int32(b, at + 4)) << 32;
    }

    static void putInt32(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    static void putInt64(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** CRC32C over bytes [0, 36) and [40, length): everything except the CRC field itself. */
    static int crc(byte[] frame) {
        CRC32C crc = new CRC32C();
        crc.update(frame, 0, 36);
        crc.update(frame, 40, frame.length - 40);
        return (int) crc.getValue();
    }

    /** Recomputes and stores the CRC, so a test can corrupt a field and get past the CRC check. */
    static byte[] resign(byte[] frame) {
        putInt32(frame, 36, crc(frame));
        return frame;
    }

    /**
     * The reason the protocol document says a frame must be rejected for, or null if it is valid. Follows
     * the documented order of checks.
     */
    static FrameException.Reason expectedReason(byte[] f) {
        if (f.length < 40) {
            return FrameException.Reason.TRUNCATED;
        }
        if (f[0] != 'F' || f[1] != 'A' || f[2] != 'G' || f[3] != 'G') {
            return FrameException.Reason.BAD_MAGIC;
        }
        if (u8(f, 4) != 1) {
            return FrameException.Reason.BAD_VERSION;
        }
        if (u8(f, 5) != 1 && u8(f, 5) != 2) {
            return FrameException.Reason.BAD_KIND;
        }
        if (f[6] != 0 || f[7] != 0) {
            return FrameException.Reason.BAD_RESERVED;
        }
        long offset = int64(f, 24);
        int count = int32(f, 32);
        if (int64(f, 8) < 0 || int32(f, 16) < 0 || int32(f, 20) < 0 || offset < 0 || count < 0
                || offset + (long) count < 0) { // the sum wraps negative iff it passes 2^63 - 1
            return FrameException.Reason.BAD_FIELD;
        }
        if (f.length != 40 + 4L * count) {
            return FrameException.Reason.BAD_LENGTH;
        }
        if (int32(f, 36) != crc(f)) {
            return FrameException.Reason.BAD_CRC;
        }
        return null;
    }
}
