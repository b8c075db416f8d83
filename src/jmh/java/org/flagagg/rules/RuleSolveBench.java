package org.flagagg.rules;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.flagagg.fa.FlagOptions;
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
 * The p x p solve of the robust rules of issue 18 against FA's and the classic rules', on one Gram matrix:
 * what cfa, cfae and pre-aggregation add to a round. f = p / 5 (3 of 16), FA's defaults (r = ceil(p/2),
 * 10 steps, lambda 0).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-modules=jdk.incubator.vector")
public class RuleSolveBench {

    @Param({"16", "64", "256"})
    int p;

    /** A rule as the command line names it: [pre+]name. */
    @Param({"flag", "cfa", "acfa", "cfae", "nnm+flag", "bucket:s=2+flag", "clip+flag", "multikrum", "geomed"})
    String rule;

    double[] gram;
    Rule solver;

    @Setup
    public void setup() {
        // p gradients in dimension 4p: the first f collude on one direction, the rest are honest noise
        // around a common mean.
        int f = p / 5;
        SplittableRandom random = new SplittableRandom(p);
        int n = 4 * p;
        double[] honest = random.doubles(n).toArray();
        double[] shift = random.doubles(n).toArray();
        double[][] g = new double[p][n];
        for (int i = 0; i < p; i++) {
            for (int k = 0; k < n; k++) {
                g[i][k] = i < f ? honest[k] - 3 * shift[k] : honest[k] + random.nextGaussian();
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
        int plus = rule.lastIndexOf('+');
        RuleConfig config = new RuleConfig(rule.substring(plus + 1), f, p - f, FlagOptions.DEFAULTS,
                plus < 0 ? "" : rule.substring(0, plus));
        solver = Rules.create(config);
    }

    @Benchmark
    public Solution solve() {
        return solver.solve(p, gram);
    }
}
