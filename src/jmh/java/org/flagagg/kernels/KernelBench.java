package org.flagagg.kernels;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Throughput of the hot loops on one thread, per kernel. Each benchmark also reports a secondary result
 * ":gigabytes" in "ops/s" that is GB/s of float32 input (p * LEN * 4 bytes per call; decode counts its
 * input bytes), i.e. ops/s * p * LEN * 4 / 1e9.
 *
 * <p>Run: {@code mvn -B -o -q -Pbench -DskipTests package && java -jar target/benchmarks.jar KernelBench}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Threads(1)
@State(Scope.Thread)
public class KernelBench {
    /** Coordinates per row: one chunk of 256 KiB per worker. */
    static final int LEN = 65536;

    @Param({"4", "16", "64"})
    public int p;

    @Param({"scalar", "vector"})
    public String kernel;

    private Kernels kernels;
    private float[][] rows;
    private double[] gram;
    private double[] coeffs;
    private double[] combined;
    private float[] decoded;
    private ByteBuffer encoded;

    /** GB of float32 input processed, reported per second next to the ops/s. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Traffic {
        public double gigabytes;

        @Setup(Level.Iteration)
        public void reset() {
            gigabytes = 0;
        }
    }

    @Setup
    public void setUp() {
        kernels = "scalar".equals(kernel) ? Kernels.scalar() : Kernels.best();
        if (!kernels.name().equals(kernel)) {
            throw new IllegalStateException("asked for the " + kernel + " kernels but got " + kernels.name()
                    + ": run with --add-modules=jdk.incubator.vector");
        }
        SplittableRandom random = new SplittableRandom(42);
        rows = new float[p][LEN];
        for (float[] row : rows) {
            for (int k = 0; k < LEN; k++) {
                row[k] = (float) random.nextGaussian();
            }
        }
        gram = new double[p * p];
        coeffs = random.doubles(p, -1, 1).toArray();
        combined = new double[LEN];
        decoded = new float[LEN];
        encoded = ByteBuffer.allocate(4 * LEN).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < LEN; k++) {
            encoded.putFloat(rows[0][k]);
        }
    }

    /** Gram fold of a p x LEN block (accumulates into the same p x p matrix every call). */
    @Benchmark
    public double[] gramFold(Traffic traffic) {
        kernels.gramFold(rows, p, LEN, gram);
        traffic.gigabytes += p * (double) LEN * 4 / 1e9;
        return gram;
    }

    /** out = sum_i c_i rows[i] over p x LEN; the interesting size is p = 16. */
    @Benchmark
    public double[] combine(Traffic traffic) {
        kernels.combine(coeffs, rows, p, LEN, combined, 0);
        traffic.gigabytes += p * (double) LEN * 4 / 1e9;
        return combined;
    }

    /** LEN little-endian floats from a heap buffer (independent of p). */
    @Benchmark
    public float[] decode(Traffic traffic) {
        encoded.position(0);
        kernels.decode(encoded, decoded, 0, LEN);
        traffic.gigabytes += LEN * 4 / 1e9;
        return decoded;
    }

    /** Scan of LEN finite floats (independent of p). */
    @Benchmark
    public int firstNonFinite(Traffic traffic) {
        traffic.gigabytes += LEN * 4 / 1e9;
        return kernels.firstNonFinite(rows[0], 0, LEN);
    }
}
