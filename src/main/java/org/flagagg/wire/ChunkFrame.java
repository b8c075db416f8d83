package org.flagagg.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;
import org.flagagg.wire.FrameException.Reason;

/**
 * The binary frame that carries one chunk of a gradient (worker to aggregator) or of an aggregate
 * (aggregator to worker): a fixed 40-byte header and {@code count} little-endian float32 values.
 * The byte layout, validation rules and a worked example are in docs/protocol.md.
 *
 * <p>All methods are static and thread-safe. Encoding into a caller-supplied buffer and parsing allocate
 * only a few constant-size view objects per call (a CRC32C, a ByteBuffer duplicate, a FloatBuffer view),
 * never anything proportional to the payload.
 */
public final class ChunkFrame {
    /** 'F' 'A' 'G' 'G' as the first four bytes, i.e. this int read little-endian. */
    public static final int MAGIC = 0x47474146;
    public static final int VERSION = 1;
    public static final int HEADER_BYTES = 40;
    /** A piece of one worker's gradient, worker to aggregator. */
    public static final int KIND_GRADIENT = 1;
    /** A piece of the round's aggregate, aggregator to worker. */
    public static final int KIND_AGGREGATE = 2;
    /** Largest count whose frame length still fits an int (a Vert.x message length is an int). */
    public static final int MAX_COUNT = (Integer.MAX_VALUE - HEADER_BYTES) / 4;

    // Byte offsets of the header fields (docs/protocol.md has the table).
    static final int AT_MAGIC = 0;
    static final int AT_VERSION = 4;
    static final int AT_KIND = 5;
    static final int AT_RESERVED = 6;
    static final int AT_ROUND = 8;
    static final int AT_SLOT = 16;
    static final int AT_CHUNK = 20;
    static final int AT_OFFSET = 24;
    static final int AT_COUNT = 32;
    static final int AT_CRC = 36;

    // Little-endian access whatever the ByteBuffer's own order, without touching its position or order.
    private static final VarHandle SHORT = MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private ChunkFrame() {
    }

    /**
     * The decoded header of a valid frame. {@code crc} is the stored CRC32C as raw bits (compare it with
     * {@link Integer#toUnsignedLong} when printing).
     */
    public record Header(int kind, long round, int slot, int chunkIndex, long offset, int count, int crc) {
        /** Total frame length in bytes: 40 + 4 * count. */
        public int frameBytes() {
            return ChunkFrame.frameBytes(count);
        }
    }

    /** Frame length for {@code count} values; count must be in [0, MAX_COUNT]. */
    public static int frameBytes(int count) {
        if (count < 0 || count > MAX_COUNT) {
            throw new IllegalArgumentException("count must be in [0, " + MAX_COUNT + "], got " + count);
        }
        return HEADER_BYTES + 4 * count;
    }

    // ---------------------------------------------------------------------------------------------------
    // Encoding

    /**
     * Writes a frame carrying values[from, from + count) at {@code dst}'s position and advances the position
     * past it. {@code dst}'s byte order is neither used nor changed.
     *
     * @return the frame length in bytes
     * @throws IllegalArgumentException if a field is out of range or dst has too little room
     */
    public static int encode(int kind, long round, int slot, int chunkIndex, long offset,
                             float[] values, int from, int count, ByteBuffer dst) {
        checkFields(kind, round, slot, chunkIndex, offset, count);
        if (from < 0 || from > values.length - count) {
            throw new IllegalArgumentException("values[from, from + count) must lie in values[0, " + values.length
                    + "), got from = " + from + ", count = " + count);
        }
        int length = HEADER_BYTES + 4 * count;
        int start = dst.position();
        if (dst.remaining() < length) {
            throw new IllegalArgumentException("dst has " + dst.remaining() + " bytes remaining, the frame needs "
                    + length);
        }
        INT.set(dst, start + AT_MAGIC, MAGIC);
        dst.put(start + AT_VERSION, (byte) VERSION);
        dst.put(start + AT_KIND, (byte) kind);
        SHORT.set(dst, start + AT_RESERVED, (short) 0);
        LONG.set(dst, start + AT_ROUND, round);
        INT.set(dst, start + AT_SLOT, slot);
        INT.set(dst, start + AT_CHUNK, chunkIndex);
        LONG.set(dst, start + AT_OFFSET, offset);
        INT.set(dst, start + AT_COUNT, count);

        // Bulk put through a little-endian view: a memcpy (plus byte swap on big-endian hosts).
        ByteBuffer view = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        view.position(start + HEADER_BYTES);
        view.asFloatBuffer().put(values, from, count);

        INT.set(dst, start + AT_CRC, crc(view, start, length));
        dst.position(start + length);
        return length;
    }

    /** {@link #encode(int, long, int, int, long, float[], int, int, ByteBuffer)} into dst[dstOffset ..]. */
    public static int encode(int kind, long round, int slot, int chunkIndex, long offset,
                             float[] values, int from, int count, byte[] dst, int dstOffset) {
        if (dstOffset < 0 || dstOffset > dst.length) {
            throw new IllegalArgumentException("dstOffset must be in [0, " + dst.length + "], got " + dstOffset);
        }
        return encode(kind, round, slot, chunkIndex, offset, values, from, count,
                ByteBuffer.wrap(dst, dstOffset, dst.length - dstOffset));
    }

    /** A new byte[] holding exactly one frame. */
    public static byte[] toBytes(int kind, long round, int slot, int chunkIndex, long offset,
                                 float[] values, int from, int count) {
        checkFields(kind, round, slot, chunkIndex, offset, count);
        byte[] frame = new byte[HEADER_BYTES + 4 * count];
        encode(kind, round, slot, chunkIndex, offset, values, from, count, frame, 0);
        return frame;
    }

    /**
     * A Vert.x Buffer holding one frame, built with one allocation and no copy: the frame is encoded into a
     * byte[] that the Buffer then wraps. (In Vert.x 5.0.7 the public {@code Buffer.buffer(byte[])} copies
     * the array; wrapping needs the integrator API, {@link VertxInternals#buffer(ByteBuf)}.)
     */
    public static Buffer toBuffer(int kind, long round, int slot, int chunkIndex, long offset,
                                  float[] values, int from, int count) {
        return wrap(toBytes(kind, round, slot, chunkIndex, offset, values, from, count));
    }

    /**
     * A Buffer over {@code bytes} without copying them: later writes to the array show through. The wrapper
     * cannot be released, so Netty code that releases buffers it was handed cannot invalidate it.
     */
    public static Buffer wrap(byte[] bytes) {
        return VertxInternals.buffer(Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(bytes)));
    }

    private static void checkFields(int kind, long round, int slot, int chunkIndex, long offset, int count) {
        if (kind != KIND_GRADIENT && kind != KIND_AGGREGATE) {
            throw new IllegalArgumentException("kind must be " + KIND_GRADIENT + " (gradient) or " + KIND_AGGREGATE
                    + " (aggregate), got " + kind);
        }
        requireNonNegative("round", round);
        requireNonNegative("slot", slot);
        requireNonNegative("chunkIndex", chunkIndex);
        requireNonNegative("offset", offset);
        frameBytes(count);
        if (offset > Long.MAX_VALUE - count) {
            throw new IllegalArgumentException("offset + count must be <= " + Long.MAX_VALUE + ", got offset = "
                    + offset + ", count = " + count);
        }
    }

    private static void requireNonNegative(String name, long value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + value);
        }
    }

    /**
     * CRC32C of the frame at [start, start + length) of {@code frame}: header bytes 0..35 (everything but the
     * CRC field) followed by the payload. Moves only {@code frame}'s position and limit, so pass a duplicate.
     */
    private static int crc(ByteBuffer frame, int start, int length) {
        CRC32C crc = new CRC32C();
        frame.limit(start + AT_CRC).position(start);
        crc.update(frame);
        frame.limit(start + length).position(start + HEADER_BYTES);
        crc.update(frame);
        return (int) crc.getValue();
    }

    // ---------------------------------------------------------------------------------------------------
    // Decoding

    /**
     * Validates the frame held in {@code frame}'s bytes [position, limit) and returns its header. Neither the
     * position, the limit nor the byte order of {@code frame} changes. Does not look at the values (NaN and
     * infinities are the aggregator's business) nor at whether round and slot make sense (the round's).
     *
     * @throws FrameException with the first reason the frame fails, checked in the order of
     *                        {@link FrameException.Reason}
     */
    public static Header parse(ByteBuffer frame) {
        int start = frame.position();
        int length = frame.remaining();
        if (length < HEADER_BYTES) {
            throw new FrameException(Reason.TRUNCATED, "frame has " + length + " bytes, the header alone needs "
                    + HEADER_BYTES);
        }
        int magic = (int) INT.get(frame, start + AT_MAGIC);
        if (magic != MAGIC) {
            throw new FrameException(Reason.BAD_MAGIC, String.format(
                    "first bytes are %08x (little-endian int), expected 'FAGG' = %08x", magic, MAGIC));
        }
        int version = Byte.toUnsignedInt(frame.get(start + AT_VERSION));
        if (version != VERSION) {
            throw new FrameException(Reason.BAD_VERSION, "version " + version + ", this code reads version "
                    + VERSION);
        }
        int kind = Byte.toUnsignedInt(frame.get(start + AT_KIND));
        if (kind != KIND_GRADIENT && kind != KIND_AGGREGATE) {
            throw new FrameException(Reason.BAD_KIND, "kind " + kind + ", expected " + KIND_GRADIENT
                    + " (gradient) or " + KIND_AGGREGATE + " (aggregate)");
        }
        int reserved = Short.toUnsignedInt((short) SHORT.get(frame, start + AT_RESERVED));
        if (reserved != 0) {
            throw new FrameException(Reason.BAD_RESERVED, "reserved bytes are " + reserved + ", must be 0");
        }
        long round = (long) LONG.get(frame, start + AT_ROUND);
        int slot = (int) INT.get(frame, start + AT_SLOT);
        int chunkIndex = (int) INT.get(frame, start + AT_CHUNK);
        long offset = (long) LONG.get(frame, start + AT_OFFSET);
        int count = (int) INT.get(frame, start + AT_COUNT);
        requireField("round", round);
        requireField("slot", slot);
        requireField("chunk index", chunkIndex);
        requireField("offset", offset);
        requireField("count", count);
        if (offset > Long.MAX_VALUE - count) {
            throw new FrameException(Reason.BAD_FIELD, "offset " + offset + " + count " + count
                    + " overflows a 64-bit index");
        }
        long expected = HEADER_BYTES + 4L * count;
        if (length != expected) {
            throw new FrameException(Reason.BAD_LENGTH, "frame has " + length + " bytes, count " + count
                    + " needs 40 + 4 * " + count + " = " + expected
                    + (length > expected ? " (" + (length - expected) + " trailing bytes)"
                            : " (payload short by " + (expected - length) + " bytes)"));
        }
        int stored = (int) INT.get(frame, start + AT_CRC);
        int actual = crc(frame.duplicate(), start, length);
        if (stored != actual) {
            throw new FrameException(Reason.BAD_CRC, String.format("stored CRC32C %08x, computed %08x", stored,
                    actual));
        }
        return new Header(kind, round, slot, chunkIndex, offset, count, stored);
    }

    /** {@link #parse(ByteBuffer)} of frame[from, from + length). */
    public static Header parse(byte[] frame, int from, int length) {
        return parse(ByteBuffer.wrap(frame, from, length));
    }

    /** {@link #parse(ByteBuffer)} of the whole Buffer, read through {@link #view(Buffer)} (no copy). */
    public static Header parse(Buffer frame) {
        return parse(view(frame));
    }

    private static void requireField(String name, long value) {
        if (value < 0) {
            throw new FrameException(Reason.BAD_FIELD, name + " is " + value + ", must be >= 0");
        }
    }

    /**
     * A ByteBuffer over a Vert.x Buffer's bytes. No copy when the Buffer is one heap or direct region (what
     * Vert.x hands out for a decoded event-bus message and what {@link #wrap} makes); Netty merges, that is
     * copies, a composite buffer. Falls back to {@code getBytes()} (a copy) for foreign Buffer classes.
     */
    public static ByteBuffer view(Buffer frame) {
        ByteBuf bytes = VertxInternals.byteBuf(frame);
        if (bytes != null) {
            // A slice (shares memory); nioBuffer() of a single-region buffer shares it too.
            return bytes.nioBuffer();
        }
        return ByteBuffer.wrap(frame.getBytes());
    }

    /**
     * Decodes the payload of a frame that {@link #parse(ByteBuffer)} accepted into dst[dstOffset,
     * dstOffset + header.count()). {@code frame} is the same [position, limit) range that was parsed; it is
     * not modified.
     */
    public static void readPayload(ByteBuffer frame, Header header, float[] dst, int dstOffset) {
        int count = header.count();
        if (frame.remaining() != header.frameBytes()) {
            throw new IllegalArgumentException("frame has " + frame.remaining() + " bytes, the header says "
                    + header.frameBytes() + ": not the frame that was parsed");
        }
        if (dstOffset < 0 || dstOffset > dst.length - count) {
            throw new IllegalArgumentException("dst[dstOffset, dstOffset + " + count + ") must lie in dst[0, "
                    + dst.length + "), got dstOffset = " + dstOffset);
        }
        ByteBuffer view = frame.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        view.position(frame.position() + HEADER_BYTES);
        view.asFloatBuffer().get(dst, dstOffset, count);
    }

    /**
     * The payload of a frame that {@link #parse(ByteBuffer)} accepted, as a little-endian buffer over the same
     * bytes (no copy): {@code header.count()} float32 values between its position and limit.
     */
    public static ByteBuffer payload(ByteBuffer frame, Header header) {
        if (frame.remaining() != header.frameBytes()) {
            throw new IllegalArgumentException("frame has " + frame.remaining() + " bytes, the header says "
                    + header.frameBytes() + ": not the frame that was parsed");
        }
        return frame.slice(frame.position() + HEADER_BYTES, 4 * header.count()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** {@link #readPayload(ByteBuffer, Header, float[], int)} from a Vert.x Buffer, through {@link #view}. */
    public static void readPayload(Buffer frame, Header header, float[] dst, int dstOffset) {
        readPayload(view(frame), header, dst, dstOffset);
    }
}
