package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A binary input four times larger than the heap of a forked JVM streams through `aggregate`. */
class LargeBinaryInputTest {
    static final int P = 8;
    static final int N = 8 << 20; // 8 x 8 Mi float32 = 256 MiB of gradients, under -Xmx64m
    static final int BLOCK = 1 << 16;

    @TempDir
    Path dir;

    static float value(int worker, long k) {
        return ((k * 2654435761L + worker * 40503L) % 1000) / 1000f - 0.5f + 0.1f * worker;
    }

    @Test
    void fileFourTimesTheHeapAggregatesExactly() throws Exception {
        Path input = dir.resolve("g.bin");
        try (FileChannel ch = FileChannel.open(input, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(4 * BLOCK).order(ByteOrder.LITTLE_ENDIAN);
            for (int w = 0; w < P; w++) {
                for (long k0 = 0; k0 < N; k0 += BLOCK) {
                    buf.clear();
                    for (int k = 0; k < BLOCK; k++) {
                        buf.putFloat(value(w, k0 + k));
                    }
                    buf.flip();
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            }
        }
        Path meanOut = dir.resolve("mean.bin");
        Path flagOut = dir.resolve("flag.bin");
        Path report = dir.resolve("flag.json");
        fork("aggregate", "--rule", "mean", "--binary", "--dim", Integer.toString(N), "--out", meanOut.toString(), input.toString());
        fork("aggregate", "--rule", "flag", "--binary", "--dim", Integer.toString(N), "--out", flagOut.toString(),
                "--report", report.toString(), input.toString());

        JsonArray workers = new JsonObject(Files.readString(report)).getJsonArray("per_worker");
        double[] c = new double[P];
        for (int w = 0; w < P; w++) {
            c[w] = workers.getJsonObject(w).getDouble("coefficient", 0.0);
        }
        assertThat(c).as("flag keeps some weight on every worker here").doesNotContain(0.0);
        try (FileChannel mean = FileChannel.open(meanOut); FileChannel flag = FileChannel.open(flagOut)) {
            assertThat(mean.size()).isEqualTo(4L * N);
            assertThat(flag.size()).isEqualTo(4L * N);
            ByteBuffer a = ByteBuffer.allocate(4 * BLOCK).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer b = ByteBuffer.allocate(4 * BLOCK).order(ByteOrder.LITTLE_ENDIAN);
            for (long k0 = 0; k0 < N; k0 += BLOCK) {
                a.clear();
                b.clear();
                mean.read(a, 4 * k0);
                flag.read(b, 4 * k0);
                a.flip();
                b.flip();
                for (int k = 0; k < BLOCK; k++) {
                    double sum = 0;
                    double combo = 0;
                    for (int w = 0; w < P; w++) {
                        sum += value(w, k0 + k);
                        combo += c[w] * value(w, k0 + k);
                    }
                    assertThat(a.getFloat()).isEqualTo((float) (sum / P));
                    // The aggregate is written as float32: equal to the rounded combination.
                    float got = b.getFloat();
                    assertThat((double) got).isCloseTo(combo, org.assertj.core.data.Offset.offset(1e-6 * (1 + Math.abs(combo))));
                }
            }
        }
    }

    private void fork(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "--add-modules=jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        Path err = dir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).redirectError(err.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).as("forked aggregate finished").isTrue();
        assertThat(process.exitValue()).as(Files.readString(err)).isZero();
    }
}
