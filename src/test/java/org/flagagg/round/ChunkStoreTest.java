package org.flagagg.round;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.flagagg.engine.Round;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChunkStoreTest {
    static final int SLAB = 256 << 10; // 64 Ki floats: larger than the 64 KiB spill staging buffer

    @TempDir
    Path dir;

    /** Random float bits: every pattern is possible, NaN payloads and infinities included. */
    static float[] randomChunk(SplittableRandom random, int count) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) {
            a[i] = Float.intBitsToFloat(random.nextInt());
        }
        // Values a decode-and-re-encode or a canonicalising copy would change.
        a[0] = -0.0f;
        if (count > 3) {
            a[1] = Float.intBitsToFloat(0x7fc00001); // quiet NaN with a payload
            a[2] = Float.intBitsToFloat(0xffbadbad); // negative NaN with a payload
            a[3] = Float.intBitsToFloat(0x7f800001); // signalling NaN
        }
        return a;
    }

    static int[] bits(float[] a, int from, int count) {
        int[] b = new int[count];
        for (int i = 0; i < count; i++) {
            b[i] = Float.floatToRawIntBits(a[from + i]);
        }
        return b;
    }

    static ByteBuffer littleEndian(float[] a, boolean direct) {
        ByteBuffer b = (direct ? ByteBuffer.allocateDirect(4 * a.length) : ByteBuffer.allocate(4 * a.length))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (float v : a) {
            b.putInt(Float.floatToRawIntBits(v));
        }
        return b.flip();
    }

    static void assertReadsBack(ChunkStore store, ChunkKey key, float[] expected) {
        float[] dst = new float[expected.length + 7];
        assertThat(store.read(key, dst, 5)).as("length of %s", key).isEqualTo(expected.length);
        assertThat(bits(dst, 5, expected.length)).as("bits of %s", key).isEqualTo(bits(expected, 0, expected.length));
        // Block by block, as the fold and the output pass read: the last block is clipped to the chunk.
        int block = 4099;
        float[] blocks = new float[expected.length];
        for (int from = 0; from < expected.length; from += block) {
            assertThat(store.read(key, from, block, dst, 2)).isEqualTo(Math.min(block, expected.length - from));
            System.arraycopy(dst, 2, blocks, from, Math.min(block, expected.length - from));
        }
        assertThat(bits(blocks, 0, expected.length)).as("bits of %s in blocks", key)
                .isEqualTo(bits(expected, 0, expected.length));
        assertThat(store.read(key, expected.length, block, dst, 0)).isZero();
        // As the stored bytes (how result streams copy the aggregate's frames): little-endian float32.
        byte[] raw = new byte[4 * expected.length + 3];
        assertThat(store.readBytes(key, raw, 3)).isEqualTo(4 * expected.length);
        assertThat(ByteBuffer.wrap(raw, 3, 4 * expected.length)).as("bytes of %s", key)
                .isEqualTo(littleEndian(expected, false));
    }

    static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    @Test
    void roundTripInMemoryIsBitExactForArraysAndPayloads() {
        SplittableRandom random = new SplittableRandom(1);
        Map<ChunkKey, float[]> stored = new LinkedHashMap<>();
        try (ChunkStore store = new ChunkStore(64L * SLAB, SLAB, dir.resolve("spill"))) {
            for (int w = 0; w < 6; w++) {
                for (int c = 0; c < 4; c++) {
                    ChunkKey key = new ChunkKey(7, w, c);
                    float[] v = randomChunk(random, 1 + random.nextInt(SLAB / 4));
                    switch (w % 3) {
                        case 0 -> {
                            // A sub-range of a larger array.
                            float[] padded = new float[v.length + 10];
                            System.arraycopy(v, 0, padded, 3, v.length);
                            store.put(key, padded, 3, v.length);
                        }
                        case 1 -> {
                            ByteBuffer payload = littleEndian(v, false);
                            store.put(key, payload);
                            assertThat(payload.position()).as("payload position untouched").isZero();
                        }
                        default -> store.put(key, littleEndian(v, true));
                    }
                    stored.put(key, v);
                }
            }
            stored.forEach((key, v) -> assertReadsBack(store, key, v));
            ChunkStoreStats stats = store.stats();
            long total = stored.values().stream().mapToLong(v -> 4L * v.length).sum();
            assertThat(stats.bytesInMemory()).isEqualTo(total);
            assertThat(stats.bytesSpilled()).isZero();
            assertThat(stats.bytesSpilledTotal()).isZero();
            assertThat(stats.chunks()).isEqualTo(stored.size());
            assertThat(stats.rounds()).isEqualTo(1);
            assertThat(store.count(new ChunkKey(7, 0, 0))).isEqualTo(stored.get(new ChunkKey(7, 0, 0)).length);
            assertThat(store.count(new ChunkKey(7, 0, 99))).isEqualTo(-1);
        }
    }

    @Test
    void chunksPastTheBudgetSpillAndReadBackBitExact() throws IOException {
        SplittableRandom random = new SplittableRandom(2);
        long budget = 4L * SLAB + 1000; // the remainder below a whole slab is not used
        Map<ChunkKey, float[]> stored = new LinkedHashMap<>();
        Path spillDir = dir.resolve("spill");
        try (ChunkStore store = new ChunkStore(budget, SLAB, spillDir)) {
            for (int c = 0; c < 12; c++) {
                for (int w = 0; w < 3; w++) {
                    ChunkKey key = new ChunkKey(3, w, c);
                    float[] v = randomChunk(random, 1 + random.nextInt(SLAB / 4));
                    switch (c % 3) {
                        case 0 -> store.put(key, v, 0, v.length);
                        case 1 -> store.put(key, littleEndian(v, false));
                        default -> store.put(key, littleEndian(v, true));
                    }
                    stored.put(key, v);
                    ChunkStoreStats stats = store.stats();
                    assertThat(stats.directBytes()).as("direct memory after %s", key).isLessThanOrEqualTo(budget);
                    assertThat(stats.bytesInMemory()).isLessThanOrEqualTo(stats.directBytes());
                }
            }
            ChunkStoreStats stats = store.stats();
            long total = stored.values().stream().mapToLong(v -> 4L * v.length).sum();
            assertThat(stats.bytesSpilled()).isPositive();
            assertThat(stats.bytesInMemory()).isPositive();
            assertThat(stats.bytesInMemory() + stats.bytesSpilled()).isEqualTo(total);
            assertThat(stats.bytesSpilledTotal()).isEqualTo(stats.bytesSpilled());
            assertThat(stats.peakBytesInMemory()).isEqualTo(stats.bytesInMemory()).isLessThanOrEqualTo(budget);
            assertThat(stats.peakBytesHeld()).as("nothing released: the peak held is all").isEqualTo(total);
            assertThat(stats.slabsAllocated()).isEqualTo(4).isEqualTo(stats.slabsMax());
            assertThat(files(spillDir)).hasSize(1);
            assertThat(Files.size(files(spillDir).get(0))).isEqualTo(stats.bytesSpilled());
            stored.forEach((key, v) -> assertReadsBack(store, key, v));
        }
    }

    @Test
    void zeroBudgetSpillsEverything() {
        float[] v = randomChunk(new SplittableRandom(3), 1000);
        try (ChunkStore store = new ChunkStore(0, SLAB, dir)) {
            store.put(new ChunkKey(1, 0, 0), v, 0, v.length);
            assertThat(store.stats().slabsAllocated()).isZero();
            assertThat(store.stats().bytesSpilled()).isEqualTo(4000);
            assertReadsBack(store, new ChunkKey(1, 0, 0), v);
        }
    }

    @Test
    void releaseRoundFreesMemoryAndDeletesTheSpillFile() throws IOException {
        SplittableRandom random = new SplittableRandom(4);
        Path spillDir = dir.resolve("spill");
        try (ChunkStore store = new ChunkStore(2L * SLAB, SLAB, spillDir)) {
            float[] other = randomChunk(random, 100);
            store.put(new ChunkKey(9, 0, 0), other, 0, other.length);
            for (int c = 0; c < 8; c++) {
                float[] v = randomChunk(random, SLAB / 4 / 2);
                store.put(new ChunkKey(8, 0, c), v, 0, v.length);
            }
            assertThat(store.stats().bytesSpilled()).isPositive();
            List<Path> before = files(spillDir);
            assertThat(before).hasSize(1);

            store.releaseRound(8);
            ChunkStoreStats stats = store.stats();
            assertThat(stats.bytesInMemory()).isEqualTo(400); // round 9's chunk is still there
            assertThat(stats.bytesSpilled()).isZero();
            // Round 9 holds one slab; round 8 fills the other with two half-slab chunks and spills six.
            assertThat(stats.bytesSpilledTotal()).isEqualTo(6L * SLAB / 2); // cumulative stays
            assertThat(stats.chunks()).isEqualTo(1);
            assertThat(stats.rounds()).isEqualTo(1);
            assertThat(before.get(0)).doesNotExist();
            assertThat(files(spillDir)).isEmpty();
            assertThatThrownBy(() -> store.read(new ChunkKey(8, 0, 0), new float[SLAB], 0))
                    .isInstanceOf(NoSuchElementException.class);
            assertReadsBack(store, new ChunkKey(9, 0, 0), other);

            store.releaseRound(8); // idempotent
            store.releaseRound(9);
            store.releaseRound(12345); // never used
            stats = store.stats();
            assertThat(stats.bytesInMemory()).isZero();
            assertThat(stats.chunks()).isZero();
            assertThat(stats.rounds()).isZero();
            assertThat(stats.slabsFree()).isEqualTo(stats.slabsAllocated()).isEqualTo(2);

            // A released round can be started afresh.
            store.put(new ChunkKey(8, 0, 0), other, 0, other.length);
            assertReadsBack(store, new ChunkKey(8, 0, 0), other);
        }
    }

    @Test
    void slabsAreReusedAcrossRounds() {
        SplittableRandom random = new SplittableRandom(5);
        try (ChunkStore store = new ChunkStore(3L * SLAB, SLAB, dir)) {
            long[] roundBytes = new long[42];
            long peakHeld = 0;
            for (long round = 0; round < 40; round++) {
                // Two rounds open at once, as when round r + 1 fills while round r is aggregated.
                for (long r = round; r <= round + 1; r++) {
                    for (int w = 0; w < 3; w++) {
                        float[] v = randomChunk(random, 1 + random.nextInt(SLAB / 4));
                        store.put(new ChunkKey(r, w, (int) (round - r + 1)), v, 0, v.length);
                        roundBytes[(int) r] += 4L * v.length;
                        peakHeld = Math.max(peakHeld, roundBytes[(int) round] + roundBytes[(int) round + 1]);
                    }
                }
                assertThat(store.stats().slabsAllocated()).isLessThanOrEqualTo(3);
                store.releaseRound(round);
                roundBytes[(int) round] = 0;
            }
            ChunkStoreStats stats = store.stats();
            assertThat(stats.slabsAllocated()).isEqualTo(3);
            assertThat(stats.peakBytesInMemory()).isLessThanOrEqualTo(3L * SLAB);
            assertThat(stats.bytesSpilledTotal()).isPositive();
            assertThat(stats.peakBytesHeld()).as("both open rounds, in memory and spilled").isEqualTo(peakHeld);
            store.releaseRound(40);
            assertThat(store.stats().slabsFree()).isEqualTo(3);
        }
    }

    @Test
    void concurrentPutsAndReadsFromSeveralThreadsGiveCorrectData() throws Exception {
        int workers = 6;
        int chunksPerWorker = 10;
        int count = 3000; // 12 000 bytes: 21 chunks per slab, so threads share slabs
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (ChunkStore store = new ChunkStore(6L * SLAB, SLAB, dir)) {
            for (long round = 0; round < 3; round++) {
                long r = round;
                List<Future<?>> puts = new ArrayList<>();
                for (int w = 0; w < workers; w++) {
                    int worker = w;
                    puts.add(pool.submit(() -> {
                        for (int c = 0; c < chunksPerWorker; c++) {
                            ChunkKey key = new ChunkKey(r, worker, c);
                            float[] v = expected(key, count);
                            if (c % 2 == 0) {
                                store.put(key, v, 0, count);
                            } else {
                                store.put(key, littleEndian(v, c % 4 == 1));
                            }
                            // Read back at once, while other threads are still putting.
                            assertReadsBack(store, key, v);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : puts) {
                    f.get();
                }
                List<Future<?>> reads = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int offset = t;
                    reads.add(pool.submit(() -> {
                        for (int i = 0; i < workers * chunksPerWorker; i++) {
                            int k = (i * 7 + offset * 13) % (workers * chunksPerWorker);
                            ChunkKey key = new ChunkKey(r, k / chunksPerWorker, k % chunksPerWorker);
                            assertReadsBack(store, key, expected(key, count));
                        }
                        return null;
                    }));
                }
                for (Future<?> f : reads) {
                    f.get();
                }
            }
            ChunkStoreStats stats = store.stats();
            assertThat(stats.chunks()).isEqualTo(3L * workers * chunksPerWorker);
            assertThat(stats.bytesSpilled()).as("the third round does not fit in memory").isPositive();
            assertThat(stats.bytesInMemory() + stats.bytesSpilled()).isEqualTo(stats.chunks() * 4 * count);
            assertThat(stats.directBytes()).isLessThanOrEqualTo(6L * SLAB);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Deterministic contents of a chunk, computed from its key. */
    static float[] expected(ChunkKey key, int count) {
        return randomChunk(new SplittableRandom(key.round() * 1_000_003 + key.worker() * 1009L + key.chunk()), count);
    }

    @Test
    void duplicateKeyThrowsAndKeepsTheFirstChunk() {
        float[] first = randomChunk(new SplittableRandom(6), 500);
        float[] second = randomChunk(new SplittableRandom(7), 500);
        try (ChunkStore store = new ChunkStore(SLAB, SLAB, dir)) {
            ChunkKey inMemory = new ChunkKey(1, 2, 3);
            store.put(inMemory, first, 0, first.length);
            assertThatThrownBy(() -> store.put(inMemory, second, 0, second.length))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("(round 1, worker 2, chunk 3)")
                    .hasMessageContaining("already stored");
            assertThatThrownBy(() -> store.put(inMemory, littleEndian(second, true)))
                    .isInstanceOf(IllegalStateException.class);
            assertReadsBack(store, inMemory, first);

            float[] big = randomChunk(new SplittableRandom(8), SLAB / 4);
            ChunkKey spilled = new ChunkKey(1, 2, 4);
            store.put(spilled, big, 0, big.length); // does not fit in the one slab's remainder: spills
            assertThat(store.stats().bytesSpilled()).isEqualTo(SLAB);
            assertThatThrownBy(() -> store.put(spilled, second, 0, second.length))
                    .isInstanceOf(IllegalStateException.class);
            assertReadsBack(store, spilled, big);
            assertThat(store.stats().chunks()).isEqualTo(2);
        }
    }

    @Test
    void readingAnUnknownKeyThrowsAClearException() {
        try (ChunkStore store = new ChunkStore(SLAB, SLAB, dir)) {
            assertThatThrownBy(() -> store.read(new ChunkKey(4, 0, 0), new float[10], 0))
                    .isInstanceOf(NoSuchElementException.class).hasMessageContaining("(round 4, worker 0, chunk 0)");
            store.put(new ChunkKey(4, 0, 0), new float[10], 0, 10);
            assertThatThrownBy(() -> store.read(new ChunkKey(4, 1, 0), new float[10], 0))
                    .isInstanceOf(NoSuchElementException.class).hasMessageContaining("(round 4, worker 1, chunk 0)");
            assertThatThrownBy(() -> store.read(new ChunkKey(4, 0, 0), new float[10], 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no room");
        }
    }

    @Test
    void closeDeletesTheSpillFilesAndRefusesFurtherUse() throws IOException {
        Path spillDir = dir.resolve("a/b/spill"); // created if missing
        Path unrelated = Files.createDirectories(spillDir).resolve("keep.txt");
        Files.writeString(unrelated, "not the store's");
        ChunkStore store = new ChunkStore(SLAB, SLAB, spillDir);
        float[] v = randomChunk(new SplittableRandom(9), SLAB / 4);
        for (long round = 0; round < 3; round++) {
            for (int c = 0; c < 3; c++) {
                store.put(new ChunkKey(round, 0, c), v, 0, v.length);
            }
        }
        assertThat(files(spillDir)).hasSize(4);
        store.close();
        assertThat(files(spillDir)).containsExactly(unrelated);
        ChunkStoreStats stats = store.stats();
        assertThat(stats.chunks()).isZero();
        assertThat(stats.bytesInMemory()).isZero();
        assertThat(stats.bytesSpilled()).isZero();
        assertThat(stats.slabsAllocated()).isZero();
        assertThatThrownBy(() -> store.put(new ChunkKey(5, 0, 0), v, 0, 1))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> store.read(new ChunkKey(0, 0, 0), v, 0)).isInstanceOf(NoSuchElementException.class);
        store.close(); // idempotent
    }

    @Test
    void badSizesAreRejectedWithTheBound() {
        try (ChunkStore store = new ChunkStore(SLAB, SLAB, dir)) {
            float[] tooBig = new float[SLAB / 4 + 1];
            assertThatThrownBy(() -> store.put(new ChunkKey(0, 0, 0), tooBig, 0, tooBig.length))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(Integer.toString(4 * tooBig.length))
                    .hasMessageContaining("slab size " + SLAB);
            assertThatThrownBy(() -> store.put(new ChunkKey(0, 0, 0), ByteBuffer.allocate(SLAB + 4)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("slab size");
            assertThatThrownBy(() -> store.put(new ChunkKey(0, 0, 0), ByteBuffer.allocate(10)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 4");
            assertThatThrownBy(() -> store.put(new ChunkKey(0, 0, 0), tooBig, 0, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
            assertThat(store.stats().chunks()).isZero();
            // A rejected put leaves no trace: the key is still free.
            store.put(new ChunkKey(0, 0, 0), tooBig, 0, SLAB / 4);
            assertThat(store.count(new ChunkKey(0, 0, 0))).isEqualTo(SLAB / 4);
        }
        assertThatThrownBy(() -> new ChunkStore(-1, SLAB, dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("budget");
        assertThatThrownBy(() -> new ChunkStore(SLAB, 6, dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 4").hasMessageContaining("6");
        assertThatThrownBy(() -> new ChunkStore(SLAB, 0, dir)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ChunkKey(0, -1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void spillDirectoryThatCannotBeCreatedIsReportedWithItsPath() throws IOException {
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        assertThatThrownBy(() -> new ChunkStore(SLAB, SLAB, file.resolve("spill")))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining(file.toString());
    }

    @Test
    void anInterruptDuringSpillIoFailsThatCallOnlyAndTheRoundSurvives() {
        float[] a = randomChunk(new SplittableRandom(10), 1000);
        float[] b = randomChunk(new SplittableRandom(11), 1000);
        try (ChunkStore store = new ChunkStore(0, SLAB, dir)) {
            store.put(new ChunkKey(1, 0, 0), a, 0, a.length);
            Thread.currentThread().interrupt();
            try {
                // The JDK closes an interruptible channel for every thread when an IO call is interrupted.
                assertThatThrownBy(() -> store.read(new ChunkKey(1, 0, 0), new float[1000], 0))
                        .isInstanceOf(UncheckedIOException.class).hasMessageContaining(".spill")
                        .hasCauseInstanceOf(ClosedByInterruptException.class);
            } finally {
                assertThat(Thread.interrupted()).isTrue();
            }
            store.put(new ChunkKey(1, 0, 1), b, 0, b.length);
            assertReadsBack(store, new ChunkKey(1, 0, 0), a);
            assertReadsBack(store, new ChunkKey(1, 0, 1), b);
        }
    }
}
