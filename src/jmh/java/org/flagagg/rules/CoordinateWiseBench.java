package org.flagagg.rules;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.flagagg.fa.GramAccumulator;
import org.flagagg.kernels.Kernels;
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
 * The output pass of the coordinate-wise rules on one core: {@link Solution#apply} over 2^20 coordinates
 * of p float32 inputs in chunks of 64 Ki (64 MiB at p = 16, so the inputs come from memory, as in a
 * round). Paths, measured in the same run: "network" is the rule's own apply (a sorting network across
 * the coordinates of a block); "sort" is the former apply (Arrays.sort per coordinate, then the same
 * reduction); "ternary" is the network with {@code x < y ? x : y} instead of Math.min/max (not used:
 * it may swap -0.0 and +0.0, which changes an odd median's sign bit).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms2g", "-Xmx2g"})
public class CoordinateWiseBench {
    static final int CHUNK = 1 << 16;
    static final int N = 1 << 20;

    @Param({"15", "16"})
    int p;

    /** f = p / 5 for all but the median. */
    @Param({"median", "trmean", "phocas", "meamed", "bulyan"})
    String rule;

    @Param({"network", "sort", "ternary"})
    String path;

    CoordinateWiseSolution solution;
    SortingNetwork network;
    /** chunks[c][k]: the c-th chunk of the k-th input apply reads. */
    float[][][] chunks;
    double[] out;

    @Setup
    public void setup() {
        SplittableRandom random = new SplittableRandom(p);
        float[][] g = new float[p][N];
        for (float[] row : g) {
            for (int k = 0; k < N; k++) {
                row[k] = (float) random.nextGaussian();
            }
        }
        int f = rule.equals("median") ? 0 : p / 5;
        solution = (CoordinateWiseSolution) Rules.create(RuleConfig.of(rule).withF(f)).solve(p, gram(g));
        int[] selected = solution.selected();
        int s = selected.length;
        CoordinateWiseSolution.PerCoordinate function = solution.function();
        network = SortingNetwork.placing(s, function.from(s), function.to(s));
        chunks = new float[N / CHUNK][s][];
        for (int c = 0; c < N / CHUNK; c++) {
            for (int k = 0; k < s; k++) {
                chunks[c][k] = Arrays.copyOfRange(g[selected[k]], c * CHUNK, (c + 1) * CHUNK);
            }
        }
        out = new double[N];
    }

    private static double[] gram(float[][] g) {
        GramAccumulator accumulator = new GramAccumulator(g.length, Kernels.best());
        accumulator.fold(g, g[0].length);
        return accumulator.gram();
    }

    @Benchmark
    public double apply() {
        for (int c = 0; c < chunks.length; c++) {
            switch (path) {
                case "network" -> solution.apply(chunks[c], CHUNK, out, c * CHUNK);
                case "sort" -> applyBySort(chunks[c], CHUNK, c * CHUNK);
                case "ternary" -> applyByTernaryNetwork(chunks[c], CHUNK, c * CHUNK);
                default -> throw new IllegalArgumentException(path);
            }
        }
        return out[0] + out[N - 1];
    }

    /** The apply before issue 20. */
    private void applyBySort(float[][] rows, int len, int outOffset) {
        int count = rows.length;
        CoordinateWiseSolution.PerCoordinate function = solution.function();
        double[] values = new double[count];
        for (int k = 0; k < len; k++) {
            for (int i = 0; i < count; i++) {
                values[i] = rows[i][k];
            }
            Arrays.sort(values);
            out[outOffset + k] = function.of(values);
        }
    }

    /** CoordinateWiseSolution.apply with 512-wide blocks and a ternary compare-exchange. */
    private void applyByTernaryNetwork(float[][] rows, int len, int outOffset) {
        int count = rows.length;
        int width = 512;
        float[][] block = new float[count][width];
        double[] column = new double[count];
        for (int start = 0; start < len; start += width) {
            int w = Math.min(width, len - start);
            for (int i = 0; i < count; i++) {
                System.arraycopy(rows[i], start, block[i], 0, w);
            }
            for (int c = 0; c < network.size(); c++) {
                float[] a = block[network.lo(c)];
                float[] b = block[network.hi(c)];
                for (int k = 0; k < w; k++) {
                    float x = a[k];
                    float y = b[k];
                    a[k] = x < y ? x : y;
                    b[k] = x < y ? y : x;
                }
            }
            solution.function().ofColumns(block, count, w, column, out, outOffset + start);
        }
    }
}
