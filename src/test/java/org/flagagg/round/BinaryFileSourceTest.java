package org.flagagg.round;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The mapped file source against a plain reading of the file's bytes (little-endian float32 at
 * 4 * (worker * n + k)), with small mapping segments injected so reads cross segment boundaries.
 */
class BinaryFileSourceTest {
    static final int P = 3;
    static final int N = 1001;

    @TempDir
    Path dir;

    /** p x n random bit patterns (NaN payloads included: the source must copy bits, not values). */
    Path file(String name, int p, int n, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        ByteBuffer bytes = ByteBuffer.allocate(4 * p * n).order(ByteOrder.LITTLE_ENDIAN);
        while (bytes.hasRemaining()) {
            bytes.putInt(random.nextInt());
        }
        Path file = dir.resolve(name);
        Files.write(file, bytes.array());
        return file;
    }

    /** The reference: worker w's coordinate k read straight from the file's bytes. */
    static int[] expectedBits(Path file, int n, int worker, long offset, int len) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int[] bits = new int[len];
        for (int k = 0; k < len; k++) {
            bits[k] = all.getInt(4 * (int) (worker * (long) n + offset + k));
        }
        return bits;
    }

    static int[] bits(float[] values, int len) {
        int[] bits = new int[len];
        for (int k = 0; k < len; k++) {
            bits[k] = Float.floatToRawIntBits(values[k]);
        }
        return bits;
    }

    /** Segments of one float, of a few floats, one that ends mid-worker, one worker each, and the default. */
    @ParameterizedTest
    @ValueSource(longs = {4, 12, 4 * 333, 4 * N, 4 * N + 8, BinaryFileSource.SEGMENT_BYTES})
    void readsTheFileBitForBitWhereverTheSegmentsEnd(long segmentBytes) throws IOException {
        Path file = file("g.bin", P, N, 1);
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom random = new SplittableRandom(2);
        try (BinaryFileSource source = new BinaryFileSource(file, N, segmentBytes)) {
            assertThat(source.workers()).isEqualTo(P);
            assertThat(source.dimension()).isEqualTo(N);
            float[] dst = new float[N];
            for (int w = 0; w < P; w++) {
                source.read(w, 0, N, dst);
                assertThat(bits(dst, N)).as("worker %d whole", w).isEqualTo(expectedBits(file, N, w, 0, N));
            }
            for (int trial = 0; trial < 300; trial++) {
                int w = random.nextInt(P);
                int offset = random.nextInt(N);
                int len = random.nextInt(N - offset + 1);
                source.read(w, offset, len, dst);
                for (int k = 0; k < len; k++) {
                    assertThat(Float.floatToRawIntBits(dst[k])).as("worker %d coordinate %d", w, offset + k)
                            .isEqualTo(all.getInt(4 * (w * N + offset + k)));
                }
            }
        }
    }

    @Test
    void concurrentReadersGetTheirOwnData() throws Exception {
        Path file = file("g.bin", P, N, 3);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (BinaryFileSource source = new BinaryFileSource(file, N, 4 * 100)) {
            List<Future<?>> readers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long seed = t;
                readers.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    float[] dst = new float[N];
                    for (int trial = 0; trial < 200; trial++) {
                        int w = random.nextInt(P);
                        int offset = random.nextInt(N);
                        int len = 1 + random.nextInt(N - offset);
                        source.read(w, offset, len, dst);
                        assertThat(bits(dst, len)).isEqualTo(expectedBits(file, N, w, offset, len));
                    }
                    return null;
                }));
            }
            for (Future<?> reader : readers) {
                reader.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void readsOutsideTheGradientsAreRefused() throws IOException {
        try (BinaryFileSource source = new BinaryFileSource(file("g.bin", P, N, 4), N)) {
            float[] dst = new float[N + 1];
            assertThatThrownBy(() -> source.read(P, 0, 1, dst)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> source.read(0, N - 1, 2, dst)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> source.read(0, -1, 1, dst)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void emptyShortAndOddFilesAreClearErrors() throws IOException {
        Path empty = Files.write(dir.resolve("empty.bin"), new byte[0]);
        assertThatThrownBy(() -> new BinaryFileSource(empty, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has 0 bytes, not a positive multiple of 4 * dim = 16");
        Path odd = Files.write(dir.resolve("odd.bin"), new byte[4 * 2 * 5 + 2]);
        assertThatThrownBy(() -> new BinaryFileSource(odd, 5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has 42 bytes, not a positive multiple of 4 * dim = 20");
        Path shorter = Files.write(dir.resolve("short.bin"), new byte[12]);
        assertThatThrownBy(() -> new BinaryFileSource(shorter, 5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has 12 bytes");
        assertThatThrownBy(() -> new BinaryFileSource(shorter, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--dim must be >= 1");
        assertThatThrownBy(() -> new BinaryFileSource(shorter, 3, 6)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 4");
        assertThatThrownBy(() -> new BinaryFileSource(dir.resolve("missing.bin"), 3))
                .isInstanceOf(NoSuchFileException.class);
    }

    /** Pages gone under the mapping: the read fails with an IOException, now and on later reads; the JVM lives. */
    @ParameterizedTest
    @ValueSource(longs = {4 * 100, BinaryFileSource.SEGMENT_BYTES})
    void aFileTruncatedWhileReadingFailsTheReadCleanly(long segmentBytes) throws IOException {
        int n = 100_000;
        Path file = file("g.bin", 2, n, 5);
        try (BinaryFileSource source = new BinaryFileSource(file, n, segmentBytes)) {
            float[] dst = new float[n];
            source.read(1, 0, n, dst);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(100);
            }
            for (int worker = 1; worker >= 0; worker--) {
                int w = worker;
                assertThatThrownBy(() -> source.read(w, 0, n, dst)).isInstanceOf(IOException.class)
                        .hasMessageContaining("changed while being read: now 100 bytes, was 800000");
            }
        }
        // No fault is left pending for later on this thread: this native call would raise it.
        assertThat(Files.size(file)).isEqualTo(100);
    }

    @Test
    void aFileThatShrankOutsideTheReadPagesStillFailsTheRead() throws IOException {
        int n = 100_000;
        Path file = file("g.bin", 2, n, 6);
        try (BinaryFileSource source = new BinaryFileSource(file, n)) {
            float[] dst = new float[10];
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(4L * 2 * n - 4);
            }
            assertThatThrownBy(() -> source.read(0, 0, 10, dst)).isInstanceOf(IOException.class)
                    .hasMessageContaining("changed while being read");
        }
    }
}
