package org.flagagg.kernels;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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
 * The streaming kernels on one thread: combine of p x 65536 floats (p = 16), decode and the finiteness
 * scan of 65536 floats (decoded, and encoded as they arrive). GB/s of float32 input is reported as "&lt;benchmark&gt;:gigabytes"
 * (combine: ops/s * p * 65536 * 4 / 1e9; decode and the scans: ops/s * 65536 * 4 / 1e9).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Threads(1)
@State(Scope.Thread)
public class StreamKernelBench {
    static final int LEN = 65536;

    @Param({"16"})
    public int p;

    @Param({"scalar", "vector"})
    public String kernel;

    private Kernels kernels;
    private float[][] rows;
    private double[] coeffs;
    private double[] combined;
    private float[] decoded;
    private ByteBuffer encoded;

    @Setup
    public void setUp() {
        kernels = Traffic.kernels(kernel);
        rows = gaussianRows(p, LEN);
        coeffs = new SplittableRandom(43).doubles(p, -1, 1).toArray();
        combined = new double[LEN];
        decoded = new float[LEN];
        encoded = ByteBuffer.allocate(4 * LEN).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < LEN; k++) {
            encoded.putFloat(rows[0][k]);
        }
    }

    /** out = sum_i c_i rows[i]. */
    @Benchmark
    public double[] combine(Traffic traffic) {
        kernels.combine(coeffs, rows, p, LEN, combined, 0);
        traffic.gigabytes += p * (double) LEN * 4 / 1e9;
        return combined;
    }

    /** LEN little-endian floats from a heap buffer. */
    @Benchmark
    public float[] decode(Traffic traffic) {
        encoded.position(0);
        kernels.decode(encoded, decoded, 0, LEN);
        traffic.gigabytes += LEN * 4 / 1e9;
        return decoded;
    }

    /** Scan of LEN finite floats (the whole array is read). */
    @Benchmark
    public int firstNonFinite(Traffic traffic) {
        traffic.gigabytes += LEN * 4 / 1e9;
        return kernels.firstNonFinite(rows[0], 0, LEN);
    }

    /** The same scan over the encoded little-endian bytes (how the aggregator checks a chunk it received). */
    @Benchmark
    public int firstNonFiniteEncoded(Traffic traffic) {
        traffic.gigabytes += LEN * 4 / 1e9;
        return kernels.firstNonFinite(encoded.position(0), LEN);
    }

    static float[][] gaussianRows(int p, int len) {
        SplittableRandom random = new SplittableRandom(42);
        float[][] rows = new float[p][len];
        for (float[] row : rows) {
            for (int k = 0; k < len; k++) {
                row[k] = (float) random.nextGaussian();
            }
        }
        return rows;
    }
}
