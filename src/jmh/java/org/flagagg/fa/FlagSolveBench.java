package org.flagagg.fa;

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
import org.openjdk.jmh.annotations.Warmup;

/** The p x p solve alone: cost must depend on p only, not on the model dimension. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
public class FlagSolveBench {

    @Param({"16", "64", "256"})
    int p;

    @Param({"0", "1"})
    double lambda;

    double[] gram;
    FlagOptions options;

    @Setup
    public void setup() {
        // A Gram matrix of p gradients in dimension 4p: 3/4 of them near one direction, the rest random.
        SplittableRandom random = new SplittableRandom(p);
        int n = 4 * p;
        double[][] g = new double[p][n];
        double[] direction = random.doubles(n).toArray();
        for (int i = 0; i < p; i++) {
            for (int k = 0; k < n; k++) {
                g[i][k] = (i < 3 * p / 4 ? direction[k] : 0) + random.nextGaussian();
            }
        }
        gram = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += g[i][k] * g[j][k];
                }
                gram[i * p + j] = s;
            }
        }
        // tol 0 so every run does all T = 10 steps.
        options = new FlagOptions(0, lambda, 10, 0.0, 1e-7, FlagOptions.Scale.PAPER);
    }

    @Benchmark
    public FlagSolution solve() {
        return FlagSolver.solve(gram, p, options);
    }
}
