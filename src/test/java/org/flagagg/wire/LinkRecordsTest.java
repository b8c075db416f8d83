package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The data link's record framing: what {@link LinkRecords#frame}, {@link LinkRecords#ack} and
 * {@link LinkRecords#welcome} write comes out of a {@link LinkRecords.Reader} unchanged however TCP cuts the
 * stream, lengths that cannot be records are refused, and every buffer the reader is handed is released.
 */
public class LinkRecordsTest {
    static final int CHUNK = 64;
    /** The documented max_record for chunks of CHUNK values: type, seq and one full chunk frame. */
    static final int MAX = 1 + 4 + ChunkFrame.HEADER_BYTES + 4 * CHUNK;

    /** What a record reads back as: the type and seq, an ACK's code, a WELCOME's or ACK's text, a FRAME's frame. */
    record Seen(int type, int seq, int code, String text, ChunkFrame.Header header, int[] valueBits) {
    }

    /** A record to write and what it must read back as. */
    record Sample(byte[] bytes, Seen seen) {
    }

    static float[] values(int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) random.nextGaussian();
        }
        if (count > 3) {
            v[0] = Float.NaN; // the link carries any float: the aggregator, not the framing, refuses NaN
            v[1] = -0.0f;
            v[2] = Float.NEGATIVE_INFINITY;
        }
        return v;
    }

    static int[] bits(float[] values, int from, int count) {
        int[] b = new int[count];
        for (int i = 0; i < count; i++) {
            b[i] = Float.floatToRawIntBits(values[from + i]);
        }
        return b;
    }

    /** The readable bytes of {@code record}, which is then released (as Netty does once it wrote it). */
    public static byte[] drain(ByteBuf record) {
        byte[] bytes = new byte[record.readableBytes()];
        record.getBytes(record.readerIndex(), bytes);
        assertThat(record.release()).isTrue();
        return bytes;
    }

    /** An aggregate frame's record as the server writes it: the prefix, then the shared frame (Netty releases both). */
    static byte[] aggregateRecord(int seq, Buffer frame) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(drain(LinkRecords.framePrefix(seq, frame)));
        ByteBuf body = LinkRecords.body(frame);
        byte[] bytes = new byte[body.readableBytes()];
        body.getBytes(body.readerIndex(), bytes);
        body.release();
        out.writeBytes(bytes);
        return out.toByteArray();
    }

    static Sample frameSample(int seq, int kind, long round, int slot, int chunkIndex, int count, long seed) {
        float[] v = values(count, seed);
        long offset = (long) chunkIndex * CHUNK;
        // Into a buffer that held another, full-length record first: senders reuse their buffers.
        ByteBuf used = LinkRecords.frame(Unpooled.buffer(), seq + 1, kind, round + 1, slot, chunkIndex, offset,
                values(CHUNK, seed + 1), CHUNK);
        byte[] bytes = drain(LinkRecords.frame(used, seq, kind, round, slot, chunkIndex, offset, v, count));
        int crc = ChunkFrame.parse(ChunkFrame.toBytes(kind, round, slot, chunkIndex, offset, v, 0, count), 0,
                ChunkFrame.frameBytes(count)).crc();
        return new Sample(bytes, new Seen(LinkRecords.FRAME, seq, 0, null,
                new ChunkFrame.Header(kind, round, slot, chunkIndex, offset, count, crc), bits(v, 0, count)));
    }

    static Sample ackSample(int seq, int code, String reason) {
        return new Sample(drain(LinkRecords.ack(seq, code, reason)),
                new Seen(LinkRecords.ACK, seq, code, reason == null ? "" : reason, null, null));
    }

    static Sample welcomeSample(String json) {
        return new Sample(drain(LinkRecords.welcome(json)), new Seen(LinkRecords.WELCOME, 0, 0, json, null, null));
    }

    /** One of each kind of record, full and partial chunks, empty and non-ASCII texts, extreme seqs. */
    static List<Sample> samples() {
        List<Sample> s = new ArrayList<>();
        s.add(welcomeSample("{\"version\":1,\"relay\":\"flagagg.j.relay.é€\",\"max_record\":" + MAX + "}"));
        s.add(frameSample(0, ChunkFrame.KIND_GRADIENT, 3, 2, 5, CHUNK, 1));
        s.add(ackSample(0, 0, null));
        s.add(ackSample(1, 422, "non-finite value NaN at coordinate 327 — refusé"));
        s.add(frameSample(1, ChunkFrame.KIND_GRADIENT, 3, 2, 6, 17, 2));
        // An aggregate frame built once and wrapped (no copy), as the server sends it to every node.
        float[] v = values(CHUNK, 3);
        Buffer aggregate = ChunkFrame.toBuffer(ChunkFrame.KIND_AGGREGATE, 9, 0, 4, 4L * CHUNK, v, 0, CHUNK);
        s.add(new Sample(aggregateRecord(-1, aggregate), new Seen(LinkRecords.FRAME, -1, 0, null,
                ChunkFrame.parse(aggregate), bits(v, 0, CHUNK))));
        s.add(frameSample(Integer.MAX_VALUE, ChunkFrame.KIND_GRADIENT, 0, 0, 0, 0, 4));
        s.add(ackSample(Integer.MIN_VALUE, 500, ""));
        s.add(ackSample(7, -1, "x"));
        return s;
    }

    static byte[] concat(List<Sample> samples) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        samples.forEach(s -> out.writeBytes(s.bytes()));
        return out.toByteArray();
    }

    /** Reads a record the way the link's peers do, and gives its array back to the pool once read. */
    static Seen decode(LinkRecords.Record r) {
        return switch (r.type()) {
            case LinkRecords.FRAME -> {
                Buffer frame = r.frame();
                ChunkFrame.Header h = ChunkFrame.parse(frame);
                float[] out = new float[h.count()];
                ChunkFrame.readPayload(frame, h, out, 0);
                yield new Seen(r.type(), r.seq(), 0, null, h, bits(out, 0, out.length));
            }
            case LinkRecords.ACK -> new Seen(r.type(), r.seq(), r.code(), r.text(), null, null);
            default -> new Seen(r.type(), r.seq(), 0, r.text(), null, null);
        };
    }

    /** A reader and everything that went through it. */
    static final class Harness {
        final List<Seen> seen = new ArrayList<>();
        final List<ByteBuf> handed = new ArrayList<>();
        final ArrayPool<byte[]> arrays = ArrayPool.bytes(2);
        final LinkRecords.Reader reader;

        Harness(int maxRecord) {
            arrays.reuse(maxRecord);
            reader = new LinkRecords.Reader(maxRecord, arrays::take, r -> {
                seen.add(decode(r));
                arrays.give(r.bytes()); // the next full-size record is read into this array again
            });
        }

        Harness(int maxRecord, IntFunction<byte[]> allocate) {
            reader = new LinkRecords.Reader(maxRecord, allocate, r -> seen.add(decode(r)));
        }

        /** Hands bytes[from, to) to the reader, alternately in a heap and a direct buffer. */
        void read(byte[] bytes, int from, int to) {
            ByteBuf in = handed.size() % 2 == 0 ? Unpooled.buffer(to - from) : Unpooled.directBuffer(to - from);
            in.writeBytes(bytes, from, to - from);
            handed.add(in);
            reader.read(in);
        }

        void assertAllReleased() {
            for (int i = 0; i < handed.size(); i++) {
                assertThat(handed.get(i).refCnt()).as("refCnt of buffer " + i + " handed to read").isZero();
            }
        }
    }

    static void assertSeen(List<Seen> actual, List<Sample> samples) {
        List<Seen> expected = samples.stream().map(Sample::seen).toList();
        boolean same = actual.size() == expected.size();
        for (int i = 0; same && i < actual.size(); i++) {
            Seen a = actual.get(i);
            Seen e = expected.get(i);
            same = a.type() == e.type() && a.seq() == e.seq() && a.code() == e.code()
                    && java.util.Objects.equals(a.text(), e.text()) && java.util.Objects.equals(a.header(), e.header())
                    && java.util.Arrays.equals(a.valueBits(), e.valueBits());
        }
        if (!same) { // the slow comparison, for its message
            assertThat(actual).usingRecursiveComparison().isEqualTo(expected);
        }
        assertThat(same).isTrue();
    }

    @Test
    void recordsHaveTheDocumentedLayout() {
        // u32 length (of what follows), u8 type, u32 seq, body; little-endian, written here by hand.
        byte[] ack = drain(LinkRecords.ack(0x01020304, 422, "é"));
        assertThat(ack).containsExactly(11, 0, 0, 0, LinkRecords.ACK, 4, 3, 2, 1, (byte) 0xA6, 1, 0, 0,
                (byte) 0xC3, (byte) 0xA9);
        byte[] welcome = drain(LinkRecords.welcome("{}"));
        assertThat(welcome).containsExactly(7, 0, 0, 0, LinkRecords.WELCOME, 0, 0, 0, 0, '{', '}');
        float[] v = values(CHUNK, 5);
        byte[] frame = drain(LinkRecords.frame(Unpooled.buffer(), 258, ChunkFrame.KIND_GRADIENT, 1, 2, 3, 3L * CHUNK, v, CHUNK));
        byte[] expected = ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 1, 2, 3, 3L * CHUNK, v, 0, CHUNK);
        assertThat(frame).hasSize(LinkRecords.PREFIX_BYTES + expected.length);
        assertThat(java.util.Arrays.copyOf(frame, LinkRecords.PREFIX_BYTES))
                .containsExactly(MAX & 0xFF, MAX >> 8, 0, 0, LinkRecords.FRAME, 2, 1, 0, 0);
        assertThat(java.util.Arrays.copyOfRange(frame, LinkRecords.PREFIX_BYTES, frame.length)).isEqualTo(expected);
        assertThat(LinkRecords.maxRecord(CHUNK)).as("a full chunk's record is exactly max_record long")
                .isEqualTo(frame.length - 4).isEqualTo(MAX);
    }

    @Test
    void recordsBackToBackInOneBufferComeOutIdentical() {
        List<Sample> samples = samples();
        byte[] stream = concat(samples);
        Harness h = new Harness(MAX);
        h.read(stream, 0, stream.length);
        assertSeen(h.seen, samples);
        h.assertAllReleased();
        // Twice over the same reader: it is back at a record boundary.
        h.read(stream, 0, stream.length);
        assertThat(h.seen).hasSize(2 * samples.size());
        assertSeen(h.seen.subList(samples.size(), h.seen.size()), samples);
        h.assertAllReleased();
    }

    @Test
    void recordsSplitAtEveryPositionComeOutIdentical() {
        List<Sample> samples = samples();
        byte[] stream = concat(samples);
        for (int cut = 0; cut <= stream.length; cut++) {
            Harness h = new Harness(MAX);
            h.read(stream, 0, cut);
            h.read(stream, cut, stream.length);
            assertThat(h.seen).as("cut at " + cut).hasSize(samples.size());
            assertSeen(h.seen, samples);
            h.assertAllReleased();
        }
    }

    @Test
    void recordsFedOneByteAtATimeComeOutIdentical() {
        List<Sample> samples = samples();
        byte[] stream = concat(samples);
        Harness h = new Harness(MAX, byte[]::new);
        for (int i = 0; i < stream.length; i++) {
            h.read(stream, i, i + 1);
        }
        assertSeen(h.seen, samples);
        h.assertAllReleased();
    }

    @Test
    void recordsSplitAtRandomSizesComeOutIdentical() {
        List<Sample> samples = samples();
        byte[] stream = concat(samples);
        for (long seed = 0; seed < 300; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            int maxPiece = 1 + random.nextInt(2 * MAX);
            Harness h = seed % 2 == 0 ? new Harness(MAX) : new Harness(MAX, byte[]::new);
            for (int at = 0; at < stream.length;) {
                int next = Math.min(stream.length, at + random.nextInt(maxPiece + 1));
                h.read(stream, at, next);
                at = next;
            }
            assertThat(h.seen).as("seed " + seed).hasSize(samples.size());
            assertSeen(h.seen, samples);
            h.assertAllReleased();
        }
    }

    static byte[] lengthPrefix(long length) {
        return new byte[] {(byte) length, (byte) (length >> 8), (byte) (length >> 16), (byte) (length >> 24)};
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 4, MAX + 1, 0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFFL})
    void aLengthOutsideFiveToMaxRecordThrowsAndEveryBufferIsReleased(long length) {
        byte[] ok = drain(LinkRecords.ack(3, 0, null));
        byte[] bad = lengthPrefix(length);
        for (int cut = 0; cut <= bad.length; cut++) {
            // A valid record, then a bad length cut in two: the valid one is delivered, the bad one throws.
            Harness h = new Harness(MAX);
            h.read(ok, 0, ok.length);
            int at = cut;
            assertThatThrownBy(() -> {
                h.read(bad, 0, at);
                h.read(bad, at, bad.length);
                // A reader that waited for more bytes with a bad length would accept this next byte: it must not.
                h.read(new byte[] {LinkRecords.FRAME}, 0, 1);
            }).isInstanceOf(LinkRecords.LinkException.class)
                    .hasMessageContaining("record length " + length)
                    .hasMessageContaining("[5, " + MAX + "]");
            assertThat(h.seen).hasSize(1);
            assertThat(h.seen.get(0).type()).isEqualTo(LinkRecords.ACK);
            h.assertAllReleased();
        }
    }

    @Test
    void theThrowingBufferIsReleasedEvenWithBytesLeftInIt() {
        Harness h = new Harness(MAX);
        byte[] stream = concat(List.of(new Sample(lengthPrefix(MAX + 1), null), ackSample(1, 0, null)));
        assertThatThrownBy(() -> h.read(stream, 0, stream.length)).isInstanceOf(LinkRecords.LinkException.class);
        assertThat(h.seen).isEmpty();
        h.assertAllReleased();
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 6, MAX})
    void lengthsFromFiveToMaxRecordAreRecords(int length) {
        byte[] record = new byte[4 + length];
        System.arraycopy(lengthPrefix(length), 0, record, 0, 4);
        record[4] = 77; // the reader cuts records; the type is the peer's business
        record[5] = 9;
        for (int i = 9; i < record.length; i++) {
            record[i] = (byte) i;
        }
        List<LinkRecords.Record> got = new ArrayList<>();
        LinkRecords.Reader reader = new LinkRecords.Reader(MAX, byte[]::new, got::add);
        ByteBuf in = Unpooled.wrappedBuffer(record);
        reader.read(in);
        assertThat(in.refCnt()).isZero();
        assertThat(got).hasSize(1);
        assertThat(got.get(0).length()).isEqualTo(length);
        assertThat(got.get(0).type()).isEqualTo(77);
        assertThat(got.get(0).seq()).isEqualTo(9);
        assertThat(java.util.Arrays.copyOf(got.get(0).bytes(), length))
                .isEqualTo(java.util.Arrays.copyOfRange(record, 4, record.length));
    }

    @Test
    void limitTakesEffectForTheNextRecords() {
        byte[] big = drain(LinkRecords.ack(1, 0, "x".repeat(1000))); // length 1009
        byte[] small = drain(LinkRecords.ack(2, 0, "y".repeat(10))); // length 19
        Harness h = new Harness(64 * 1024, byte[]::new);
        h.read(big, 0, big.length);
        h.reader.limit(500);
        h.read(small, 0, small.length);
        assertThatThrownBy(() -> h.read(big, 0, big.length)).isInstanceOf(LinkRecords.LinkException.class)
                .hasMessageContaining("record length 1009 is outside [5, 500]");
        assertThat(h.seen).extracting(Seen::seq).containsExactly(1, 2);
        h.assertAllReleased();

        // Raised again (as a node does once the WELCOME told it the chunk size), the big one passes.
        Harness raised = new Harness(19, byte[]::new);
        raised.read(small, 0, small.length);
        raised.reader.limit(1009);
        raised.read(big, 0, big.length);
        assertThat(raised.seen).extracting(Seen::seq).containsExactly(2, 1);
        assertThat(raised.seen.get(1).text()).isEqualTo("x".repeat(1000));
        raised.assertAllReleased();
    }

    @Test
    void aSharedAggregateFrameSurvivesItsRecordsBeingReleased() {
        float[] v = values(CHUNK, 8);
        Buffer aggregate = ChunkFrame.toBuffer(ChunkFrame.KIND_AGGREGATE, 1, 0, 2, 2L * CHUNK, v, 0, CHUNK);
        byte[] before = aggregate.getBytes();
        // One record per node, each written and released by Netty: the frame itself must stay readable.
        for (int node = 0; node < 3; node++) {
            assertThat(aggregateRecord(node, aggregate)).hasSize(LinkRecords.PREFIX_BYTES + before.length);
        }
        assertThat(aggregate.getBytes()).isEqualTo(before);
        assertThat(ChunkFrame.parse(aggregate).count()).isEqualTo(CHUNK);
    }
}
