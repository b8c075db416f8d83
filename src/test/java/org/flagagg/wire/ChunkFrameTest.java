package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.wire.FrameBytes.int32;
import static org.flagagg.wire.FrameBytes.int64;
import static org.flagagg.wire.FrameBytes.putInt32;
import static org.flagagg.wire.FrameBytes.putInt64;
import static org.flagagg.wire.FrameBytes.resign;

import io.vertx.core.buffer.Buffer;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.flagagg.wire.ChunkFrame.Header;
import org.flagagg.wire.FrameException.Reason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ChunkFrameTest {

    /** Random float bits plus the awkward values: signed zeros, subnormals, extremes, infinities, NaNs. */
    static float[] awkwardValues(int count, long seed) {
        float[] special = {-0.0f, 0.0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.intBitsToFloat(0x007FFFFF),
                Float.intBitsToFloat(0x80000001), Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0x7FC12345),
                1.0f, -2.5f};
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            if (i < special.length && count < 100) {
                values[i] = special[i];
                continue;
            }
            int bits = random.nextInt();
            if ((bits & 0x7F800000) == 0x7F800000) {
                bits |= 0x00400000; // only quiet NaNs: some CPUs may quiet a signalling NaN in a float register
            }
            values[i] = Float.intBitsToFloat(bits);
        }
        if (count >= 100) {
            System.arraycopy(special, 0, values, 17, special.length);
        }
        return values;
    }

    static void assertBitExact(float[] actual, int actualFrom, float[] expected, int expectedFrom, int count) {
        for (int i = 0; i < count; i++) {
            int want = Float.floatToRawIntBits(expected[expectedFrom + i]);
            int got = Float.floatToRawIntBits(actual[actualFrom + i]);
            if (want != got) {
                throw new AssertionError(String.format("value %d: expected bits %08x, got %08x", i, want, got));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 65536})
    void roundTripIsBitExactThroughByteArray(int count) {
        float[] values = awkwardValues(count + 5, count);
        byte[] frame = ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 12L, 4, 9, 1L << 40, values, 5, count);

        assertThat(frame).hasSize(40 + 4 * count);
        Header header = ChunkFrame.parse(frame, 0, frame.length);
        assertThat(header).isEqualTo(new Header(1, 12L, 4, 9, 1L << 40, count, FrameBytes.crc(frame)));
        float[] out = new float[count + 3];
        ChunkFrame.readPayload(ByteBuffer.wrap(frame), header, out, 3);
        assertBitExact(out, 3, values, 5, count);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 65536})
    void roundTripIsBitExactInsideALargerDirectBigEndianBuffer(int count) {
        float[] values = awkwardValues(count, 1000 + count);
        // Big-endian on purpose: the frame is little-endian whatever the buffer's own order.
        ByteBuffer buffer = ByteBuffer.allocateDirect(13 + ChunkFrame.frameBytes(count) + 11);
        buffer.position(13);
        int written = ChunkFrame.encode(ChunkFrame.KIND_AGGREGATE, 3L, 0, 1, 77L, values, 0, count, buffer);

        assertThat(written).isEqualTo(40 + 4 * count);
        assertThat(buffer.position()).isEqualTo(13 + written);
        assertThat(buffer.order()).isEqualTo(ByteOrder.BIG_ENDIAN);
        ByteBuffer frame = buffer.duplicate().limit(13 + written).position(13);
        Header header = ChunkFrame.parse(frame);
        assertThat(header.kind()).isEqualTo(ChunkFrame.KIND_AGGREGATE);
        assertThat(header.count()).isEqualTo(count);
        assertThat(frame.position()).as("parse leaves the position alone").isEqualTo(13);
        assertThat(frame.limit()).isEqualTo(13 + written);
        float[] out = new float[count];
        ChunkFrame.readPayload(frame, header, out, 0);
        assertBitExact(out, 0, values, 0, count);
        assertThat(frame.position()).as("readPayload leaves the position alone").isEqualTo(13);

        ByteBuffer payload = ChunkFrame.payload(frame, header);
        assertThat(payload.remaining()).isEqualTo(4 * count);
        for (int k = 0; k < count; k++) {
            assertThat(Float.floatToRawIntBits(payload.getFloat(4 * k))).isEqualTo(Float.floatToRawIntBits(values[k]));
        }
        assertThat(frame.position()).as("payload leaves the position alone").isEqualTo(13);
        assertThatThrownBy(() -> ChunkFrame.payload(frame.duplicate().limit(13 + written - 4), header))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 65536})
    void roundTripIsBitExactThroughAVertxBuffer(int count) {
        float[] values = awkwardValues(count, 2000 + count);
        Buffer buffer = ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 5L, 6, 7, 8L, values, 0, count);

        assertThat(buffer.length()).isEqualTo(40 + 4 * count);
        Header header = ChunkFrame.parse(buffer);
        assertThat(header).isEqualTo(new Header(1, 5L, 6, 7, 8L, count, FrameBytes.crc(buffer.getBytes())));
        float[] out = new float[count];
        ChunkFrame.readPayload(buffer, header, out, 0);
        assertBitExact(out, 0, values, 0, count);
    }

    @Test
    void framesInsideVertxOwnBuffersAndSlicesParse() {
        float[] values = {1.5f, -0.0f, 3e-42f};
        byte[] frame = ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 1L, 2, 3, 4L, values, 0, 3);
        // A copying Buffer as Vert.x builds them, and a slice in the middle of a larger Buffer.
        Buffer copied = Buffer.buffer(frame);
        Buffer larger = Buffer.buffer().appendString("prefix").appendBytes(frame).appendString("suffix");
        Buffer slice = larger.slice(6, 6 + frame.length);

        for (Buffer buffer : new Buffer[] {copied, slice}) {
            Header header = ChunkFrame.parse(buffer);
            assertThat(header.count()).isEqualTo(3);
            float[] out = new float[3];
            ChunkFrame.readPayload(buffer, header, out, 0);
            assertBitExact(out, 0, values, 0, 3);
        }
        assertThatThrownBy(() -> ChunkFrame.parse(larger)).isInstanceOf(FrameException.class);
    }

    @Test
    void toBufferAndViewDoNotCopyThePayload() {
        byte[] frame = ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 1L, 2, 3, 4L, new float[] {1f}, 0, 1);
        Buffer wrapped = ChunkFrame.wrap(frame);

        frame[40] = 42; // a write to the array shows through both the Buffer and its ByteBuffer view
        assertThat(wrapped.getByte(40)).isEqualTo((byte) 42);
        ByteBuffer view = ChunkFrame.view(wrapped);
        assertThat(view.hasArray()).isTrue();
        assertThat(view.array()).isSameAs(frame);
        assertThat(view.remaining()).isEqualTo(frame.length);
        // For contrast: Vert.x 5's public Buffer.buffer(byte[]) copies.
        Buffer copied = Buffer.buffer(frame);
        frame[41] = 43;
        assertThat(copied.getByte(41)).isNotEqualTo((byte) 43);
    }

    @Test
    void headerFieldsSitAtTheirDocumentedOffsets() {
        float[] values = {1.0f, Float.intBitsToFloat(0xA1B2C3D4)};
        byte[] f = ChunkFrame.toBytes(ChunkFrame.KIND_AGGREGATE, 0x0102030405060708L, 0x11223344, 0x2A3B4C5D,
                0x0A0B0C0D0E0F1011L, values, 0, 2);

        assertThat(f).hasSize(48);
        assertThat(new String(f, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("FAGG");
        assertThat(f[4]).isEqualTo((byte) 1);
        assertThat(f[5]).isEqualTo((byte) 2);
        assertThat(new byte[] {f[6], f[7]}).containsExactly(0, 0);
        assertThat(slice(f, 8, 8)).containsExactly(0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01);
        assertThat(slice(f, 16, 4)).containsExactly(0x44, 0x33, 0x22, 0x11);
        assertThat(slice(f, 20, 4)).containsExactly(0x5D, 0x4C, 0x3B, 0x2A);
        assertThat(slice(f, 24, 8)).containsExactly(0x11, 0x10, 0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A);
        assertThat(slice(f, 32, 4)).containsExactly(2, 0, 0, 0);
        assertThat(slice(f, 40, 8)).containsExactly(0x00, 0x00, 0x80, 0x3F, 0xD4, 0xC3, 0xB2, 0xA1);

        CRC32C crc = new CRC32C();
        crc.update(f, 0, 36);
        crc.update(f, 40, 8);
        long c = crc.getValue();
        assertThat(slice(f, 36, 4)).containsExactly((int) (c & 0xFF), (int) (c >>> 8 & 0xFF),
                (int) (c >>> 16 & 0xFF), (int) (c >>> 24));
    }

    private static int[] slice(byte[] b, int from, int length) {
        int[] out = new int[length];
        for (int i = 0; i < length; i++) {
            out[i] = b[from + i] & 0xFF;
        }
        return out;
    }

    @Test
    void crc32cIsTheCastagnoliCrc() {
        CRC32C crc = new CRC32C();
        crc.update("123456789".getBytes(StandardCharsets.US_ASCII));
        assertThat(crc.getValue()).as("standard CRC-32C check value").isEqualTo(0xE3069283L);
    }

    // ---------------------------------------------------------------------------------------------------
    // Every rejection reason from a hand-corrupted frame

    private static byte[] valid() {
        return ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 7L, 3, 2, 131072L, new float[] {1f, -2.5f, 0.25f}, 0, 3);
    }

    private static void assertRejected(byte[] frame, Reason reason, String messagePart) {
        assertThat(FrameBytes.expectedReason(frame)).as("the test's own oracle").isEqualTo(reason);
        assertThatThrownBy(() -> ChunkFrame.parse(frame, 0, frame.length))
                .isInstanceOfSatisfying(FrameException.class, e -> assertThat(e.reason()).isEqualTo(reason))
                .hasMessageContaining(messagePart);
    }

    @Test
    void aFlippedPayloadBitIsBadCrc() {
        byte[] f = valid();
        f[45] ^= 0x10;
        assertRejected(f, Reason.BAD_CRC, "stored CRC32C");
    }

    @Test
    void aFlippedHeaderBitIsBadCrcToo() {
        byte[] f = valid();
        f[24] ^= 0x01; // offset 131072 -> 131073: structurally fine, caught only because the CRC covers the header
        assertRejected(f, Reason.BAD_CRC, "stored CRC32C");
        byte[] g = valid();
        g[37] ^= 0x01; // the CRC field itself
        assertRejected(g, Reason.BAD_CRC, "stored CRC32C");
    }

    @Test
    void shorterThanTheHeaderIsTruncated() {
        byte[] f = valid();
        for (int length : new int[] {0, 1, 4, 39}) {
            byte[] cut = java.util.Arrays.copyOf(f, length);
            assertRejected(cut, Reason.TRUNCATED, length + " bytes");
        }
    }

    @Test
    void wrongMagicIsBadMagic() {
        byte[] f = valid();
        f[3] = 'H';
        assertRejected(resign(f), Reason.BAD_MAGIC, "FAGG");
    }

    @Test
    void version2IsBadVersion() {
        byte[] f = valid();
        f[4] = 2;
        assertRejected(resign(f), Reason.BAD_VERSION, "version 2");
    }

    @Test
    void kind3And0AreBadKind() {
        for (byte kind : new byte[] {0, 3, (byte) 0xFF}) {
            byte[] f = valid();
            f[5] = kind;
            assertRejected(resign(f), Reason.BAD_KIND, "kind " + (kind & 0xFF));
        }
    }

    @Test
    void reservedNotZeroIsBadReserved() {
        byte[] f = valid();
        f[6] = 1;
        assertRejected(resign(f), Reason.BAD_RESERVED, "reserved");
        byte[] g = valid();
        g[7] = (byte) 0x80;
        assertRejected(resign(g), Reason.BAD_RESERVED, "reserved");
    }

    @Test
    void negativeFieldsAreBadField() {
        int[][] fields = {{8, 8}, {16, 4}, {20, 4}, {24, 8}, {32, 4}};
        String[] names = {"round", "slot", "chunk index", "offset", "count"};
        for (int i = 0; i < fields.length; i++) {
            byte[] f = valid();
            if (fields[i][1] == 8) {
                putInt64(f, fields[i][0], -1L);
            } else {
                putInt32(f, fields[i][0], -1);
            }
            assertRejected(resign(f), Reason.BAD_FIELD, names[i] + " is -1");
        }
        byte[] f = valid();
        putInt64(f, 24, Long.MAX_VALUE - 1); // + count 3 passes 2^63 - 1
        assertRejected(resign(f), Reason.BAD_FIELD, "overflows");
    }

    @Test
    void lengthNotMatchingCountIsBadLength() {
        byte[] trailing = java.util.Arrays.copyOf(valid(), 53);
        assertRejected(trailing, Reason.BAD_LENGTH, "1 trailing bytes");
        byte[] shortPayload = java.util.Arrays.copyOf(valid(), 51);
        assertRejected(shortPayload, Reason.BAD_LENGTH, "payload short by 1 bytes");
        byte[] headerOnly = java.util.Arrays.copyOf(valid(), 40);
        assertRejected(headerOnly, Reason.BAD_LENGTH, "payload short by 12 bytes");
        byte[] hugeCount = valid();
        putInt32(hugeCount, 32, Integer.MAX_VALUE); // 40 + 4 * count does not fit an int: no overflow either
        assertRejected(resign(hugeCount), Reason.BAD_LENGTH, "needs 40 + 4 * 2147483647 = 8589934628");
    }

    @Test
    void theUntouchedFrameIsAccepted() {
        byte[] f = valid();
        assertThat(FrameBytes.expectedReason(f)).isNull();
        Header h = ChunkFrame.parse(f, 0, f.length);
        assertThat(h).isEqualTo(new Header(1, 7L, 3, 2, 131072L, 3, int32(f, 36)));
        assertThat(int64(f, 24)).isEqualTo(h.offset());
    }

    // ---------------------------------------------------------------------------------------------------
    // Encoder preconditions and allocation

    @Test
    void encodeRejectsBadArgumentsWithoutWriting() {
        float[] v = new float[4];
        assertThatThrownBy(() -> ChunkFrame.toBytes(3, 0, 0, 0, 0, v, 0, 1)).hasMessageContaining("kind must be");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, -1, 0, 0, 0, v, 0, 1)).hasMessage("round must be >= 0, got -1");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, 0, -2, 0, 0, v, 0, 1)).hasMessage("slot must be >= 0, got -2");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, 0, 0, -3, 0, v, 0, 1))
                .hasMessage("chunkIndex must be >= 0, got -3");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, 0, 0, 0, -4, v, 0, 1)).hasMessage("offset must be >= 0, got -4");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, 0, 0, 0, 0, v, 0, -1)).hasMessageContaining("count must be");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, 0, 0, 0, Long.MAX_VALUE, v, 0, 1))
                .hasMessageContaining("offset + count");
        assertThatThrownBy(() -> ChunkFrame.toBytes(1, 0, 0, 0, 0, v, 2, 3)).hasMessageContaining("from = 2, count = 3");
        assertThatThrownBy(() -> ChunkFrame.frameBytes(ChunkFrame.MAX_COUNT + 1)).hasMessageContaining("count must be");

        ByteBuffer small = ByteBuffer.allocate(40 + 4 * 4 - 1);
        assertThatThrownBy(() -> ChunkFrame.encode(1, 0, 0, 0, 0, v, 0, 4, small))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("dst has 55 bytes remaining, the frame needs 56");
        assertThat(small.position()).isZero();
        assertThat(small.array()).containsOnly(0);
    }

    @Test
    void readPayloadChecksItsArguments() {
        byte[] f = valid();
        Header h = ChunkFrame.parse(f, 0, f.length);
        assertThatThrownBy(() -> ChunkFrame.readPayload(ByteBuffer.wrap(f), h, new float[5], 3))
                .hasMessageContaining("dstOffset = 3");
        assertThatThrownBy(() -> ChunkFrame.readPayload(ByteBuffer.wrap(f, 0, 48), h, new float[3], 0))
                .hasMessageContaining("not the frame that was parsed");
    }

    @Test
    void encodingIntoACallerBufferAllocatesNothingProportionalToThePayload() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int count = 65536; // 256 KiB of payload per frame
        float[] values = awkwardValues(count, 9);
        ByteBuffer heap = ByteBuffer.allocate(ChunkFrame.frameBytes(count));
        ByteBuffer direct = ByteBuffer.allocateDirect(ChunkFrame.frameBytes(count));
        long tid = Thread.currentThread().getId();
        long before = threads.getThreadAllocatedBytes(tid);
        int calls = 200;
        for (int i = 0; i < calls; i++) {
            ChunkFrame.encode(1, i, 0, i, 0, values, 0, count, heap.clear());
            ChunkFrame.encode(1, i, 0, i, 0, values, 0, count, direct.clear());
        }
        long perCall = (threads.getThreadAllocatedBytes(tid) - before) / (2L * calls);
        // A few small view objects at most (zero once escape analysis removes them); a copy would be 256 KiB.
        assertThat(perCall).isLessThan(1024);
    }
}
