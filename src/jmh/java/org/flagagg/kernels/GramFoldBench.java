package org.flagagg.kernels;

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
 * Gram fold of a p x 65536 float32 block on one thread. GB/s of input = ops/s * p * 65536 * 4 / 1e9, also
 * reported directly as "gramFold:gigabytes".
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
@Threads(1)
@State(Scope.Thread)
public class GramFoldBench {
    static final int LEN = 65536;

    @Param({"4", "16", "64"})
    public int p;

    @Param({"scalar", "vector"})
    public String kernel;

    private Kernels kernels;
    private float[][] rows;
    private double[] gram;

    @Setup
    public void setUp() {
        kernels = Traffic.kernels(kernel);
        rows = StreamKernelBench.gaussianRows(p, LEN);
        gram = new double[p * p];
    }

    /** Accumulates into the same p x p matrix every call (as the aggregator does over chunks). */
    @Benchmark
    public double[] gramFold(Traffic traffic) {
        kernels.gramFold(rows, p, LEN, gram);
        traffic.gigabytes += p * (double) LEN * 4 / 1e9;
        return gram;
    }
}
