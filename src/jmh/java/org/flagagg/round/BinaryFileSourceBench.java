package org.flagagg.round;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One pass of the offline input path alone: every block of every worker of a p x n float32 file in the page
 * cache read into a row buffer, as pass 1 reads it (BLOCK coordinates, worker after worker), on one thread.
 * GB/s of input = 4 p n / time. The file (640 MB at the defaults) is written under java.io.tmpdir and deleted
 * at the end; a fresh source per iteration maps the file again, so page-table set-up is in the figure.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g"})
public class BinaryFileSourceBench {
    @Param({"16"})
    int p;

    @Param({"10000000"})
    int n;

    Path file;
    BinaryFileSource source;
    final float[] row = new float[RoundPipeline.BLOCK];

    @Setup
    public void write() throws IOException {
        file = Files.createTempFile("flagagg-source-bench", ".bin");
        SplittableRandom random = new SplittableRandom(1);
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 22).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.WRITE)) {
            for (long left = 4L * p * n; left > 0; left -= block.limit()) {
                block.clear();
                while (block.hasRemaining()) {
                    block.putFloat((float) random.nextGaussian());
                }
                block.flip().limit((int) Math.min(block.capacity(), left));
                while (block.hasRemaining()) {
                    out.write(block);
                }
            }
        }
    }

    @Setup(Level.Iteration)
    public void open() throws IOException {
        source = new BinaryFileSource(file, n);
    }

    @TearDown(Level.Iteration)
    public void close() throws IOException {
        source.close();
    }

    @TearDown
    public void delete() throws IOException {
        Files.deleteIfExists(file);
    }

    @Benchmark
    public float readPass() throws IOException {
        float x = 0;
        for (long at = 0; at < n; at += row.length) {
            int len = (int) Math.min(row.length, n - at);
            for (int w = 0; w < p; w++) {
                source.read(w, at, len, row);
                x += row[0];
            }
        }
        return x;
    }
}
