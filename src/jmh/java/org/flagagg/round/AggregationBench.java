package org.flagagg.round;

import java.util.concurrent.TimeUnit;
import org.flagagg.fa.FlagOptions;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Rule;
import org.flagagg.rules.RuleConfig;
import org.flagagg.rules.Rules;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * A whole offline aggregation (both streaming passes and the solve) of p = 16 gradients of n = 10^7
 * float32 held in memory: the Flag Aggregator against plain mean on the same data and the same passes, on
 * one thread and on two.
 * The full-space form is in {@link FullSpaceFlagBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms4g", "-Xmx4g"})
public class AggregationBench {
    /** 64 Ki coordinates: 256 KiB of float32 per worker and chunk, the size this benchmark has always used. */
    static final int CHUNK = 1 << 16;

    @Param({"16"})
    int p;

    @Param({"10000000"})
    int n;

    @Param({"flag", "krum", "mean"})
    String rule;

    /** Threads of both passes (the CLI uses one per core). */
    @Param({"1", "2"})
    int threads;

    ArraySource source;
    Aggregation aggregation;
    double checksum;

    @Setup
    public void setup() {
        source = new ArraySource(BenchData.gradients(p, n));
        // tol 0: FA always does its T = 10 IRLS steps.
        Rule r = Rules.create(RuleConfig.of(rule).withFlag(new FlagOptions(0, 0, 10, 0.0, 1e-7, FlagOptions.Scale.PAPER)));
        aggregation = new Aggregation(r, CHUNK, Kernels.best(), threads);
    }

    @Benchmark
    public double aggregate() throws Exception {
        checksum = 0;
        aggregation.run(source, (offset, values, len) -> checksum += values[0] + values[len - 1]);
        return checksum;
    }
}
