package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.flagagg.engine.RoundReport;
import org.flagagg.fa.FlagOptions;
import org.flagagg.fa.FullSpaceFlag;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;

/**
 * The centred Flag Aggregator against a whole-vector implementation of the note (fa-under-attack.md):
 * geometric median in R^n by Weiszfeld, the deviations g_i - z, rank-1 FA on them in full space, drop the
 * f highest, FA on the rest in full space.
 */
class CentredFlagRuleTest {

    private static final FlagOptions OPTIONS = FlagOptions.DEFAULTS;

    /** What the reference computes: the centred qualities, the dropped inputs, the aggregate. */
    record Reference(double[] quality, Set<Integer> dropped, double[] aggregate) {
    }

    static Reference reference(float[][] g, int f, FlagOptions options) {
        int p = g.length;
        int n = g[0].length;
        double[][] d = Inputs.toDouble(g);
        double[] z = Textbook.geometricMedian(d);
        double[] norms = new double[p];
        for (int i = 0; i < p; i++) {
            norms[i] = Textbook.norm(d[i]);
        }
        double delta = Math.max(GeometricMedianRule.DELTA_RELATIVE * Textbook.median(norms),
                GeometricMedianRule.DELTA_FLOOR);
        double[] quality = new double[p];
        List<Integer> moving = new ArrayList<>();
        List<double[]> deviations = new ArrayList<>();
        for (int i = 0; i < p; i++) {
            double[] dev = new double[n];
            for (int k = 0; k < n; k++) {
                dev[k] = d[i][k] - z[k];
            }
            if (Textbook.norm(dev) <= delta) {
                quality[i] = 1; // no deviation: any flag fits it
            } else {
                moving.add(i);
                deviations.add(dev);
            }
        }
        if (!moving.isEmpty()) {
            FullSpaceFlag.Result rankOne = FullSpaceFlag.run(deviations.toArray(double[][]::new), 1,
                    options.lambda(), options.iterations(), options.tol(), options.eps());
            for (int a = 0; a < moving.size(); a++) {
                quality[moving.get(a)] = rankOne.quality()[a];
            }
        }
        Integer[] order = IntStream.range(0, p).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -quality[i]).thenComparingInt(i -> i));
        Set<Integer> dropped = new TreeSet<>(Arrays.asList(order).subList(0, f));
        return new Reference(quality, dropped, flagOnKept(g, dropped, options));
    }

    /** FA in full space on the inputs not dropped, r = ceil(kept / 2), scaled as the options say. */
    static double[] flagOnKept(float[][] g, Set<Integer> dropped, FlagOptions options) {
        int p = g.length;
        int n = g[0].length;
        double[][] d = Inputs.toDouble(g);
        double[] norms = new double[p];
        for (int i = 0; i < p; i++) {
            norms[i] = Textbook.norm(d[i]);
        }
        int[] kept = IntStream.range(0, p).filter(i -> !dropped.contains(i)).toArray();
        double[][] keptRows = new double[kept.length][];
        double[] keptNorms = new double[kept.length];
        for (int a = 0; a < kept.length; a++) {
            keptRows[a] = d[kept[a]];
            keptNorms[a] = norms[kept[a]];
        }
        int r = (kept.length + 1) / 2;
        double[] aggregate = FullSpaceFlag.run(keptRows, r, options.lambda(), options.iterations(), options.tol(),
                options.eps()).aggregate();
        if (options.scale() == FlagOptions.Scale.NORM) {
            double factor = Textbook.median(keptNorms) / Textbook.norm(aggregate);
            for (int k = 0; k < n; k++) {
                aggregate[k] *= factor;
            }
        }
        return aggregate;
    }

    /** Honest gaussian workers 0..p-1, then the first f replaced by one shared vector: mean - std per coordinate. */
    static float[][] lieColluders(int p, int f, int n, long seed) {
        float[][] g = Inputs.gaussian(p, n, seed);
        float[] shared = new float[n];
        for (int k = 0; k < n; k++) {
            double sum = 0;
            double squares = 0;
            for (int i = f; i < p; i++) {
                sum += g[i][k];
                squares += (double) g[i][k] * g[i][k];
            }
            double mean = sum / (p - f);
            double std = Math.sqrt(Math.max(0, squares / (p - f) - mean * mean));
            shared[k] = (float) (mean - 1.0 * std);
        }
        for (int i = 0; i < f; i++) {
            g[i] = shared.clone();
        }
        return g;
    }

    static Set<Integer> droppedByRule(Solution solution) {
        return new TreeSet<>(solution.dropped().keySet());
    }

    static double[] qualities(Solution solution) {
        return RoundReport.json(solution.details()).getJsonArray("centredQuality").stream()
                .mapToDouble(v -> ((Number) v).doubleValue()).toArray();
    }

    static void assertMatchesReference(float[][] g, int f, FlagOptions options, String what) {
        StreamingRun.Result run = StreamingRun.run(new CentredFlagRule(f, options), g, Kernels.best(), 64, 3);
        Reference expected = reference(g, f, options);
        double[] q = qualities(run.solution());
        for (int i = 0; i < g.length; i++) {
            assertThat(q[i]).as("%s: centred quality of %d", what, i).isCloseTo(expected.quality()[i], within(1e-8));
        }
        assertThat(droppedByRule(run.solution())).as(what + ": dropped").isEqualTo(expected.dropped());
        Approx.assertClose(run.aggregate(), expected.aggregate(), 1e-8, what);
    }

    @Test
    void dropsEveryColluderAndMatchesTheWholeVectorReference() {
        int p = 15;
        int f = 3;
        float[][] g = lieColluders(p, f, 2000, 1801);
        assertMatchesReference(g, f, OPTIONS, "lie colluders");
        Solution solution = StreamingRun.run(new CentredFlagRule(f, OPTIONS), g, Kernels.scalar(), 50, 4).solution();
        assertThat(droppedByRule(solution)).containsExactly(0, 1, 2);
        assertThat(solution.selected()).doesNotContain(0, 1, 2).hasSize(p - f);
        assertThat(solution.dropped().get(0)).matches("centred quality 1\\.000 among the 3 highest \\(cfa\\)");
        double[] q = qualities(solution);
        for (int i = f; i < p; i++) {
            assertThat(q[i]).as("honest %d", i).isLessThan(q[0]);
        }
    }

    @Test
    void colludersAreDroppedWithThePaperScaleAndPairTermsToo() {
        FlagOptions options = OPTIONS.withLambda(1).withScale(FlagOptions.Scale.PAPER).withIterations(3);
        float[][] g = lieColluders(11, 2, 600, 1802);
        assertMatchesReference(g, 2, options, "lie colluders, lambda 1, paper scale");
        assertThat(droppedByRule(StreamingRun.run(new CentredFlagRule(2, options), g, Kernels.scalar(), 30, 5)
                .solution())).containsExactly(0, 1);
    }

    @Test
    void withoutFItIsPlainFa() {
        float[][] g = Inputs.gaussian(12, 1500, 1803);
        assertMatchesReference(g, 0, OPTIONS, "honest, f = 0");
        StreamingRun.Result cfa = StreamingRun.run(new CentredFlagRule(0, OPTIONS), g, Kernels.scalar(), 40, 6);
        StreamingRun.Result fa = StreamingRun.run(new FlagRule(OPTIONS), g, Kernels.scalar(), 40, 6);
        assertThat(cfa.solution().dropped()).isEmpty();
        Approx.assertClose(cfa.aggregate(), fa.aggregate(), 1e-12, "cfa f = 0 vs flag");
    }

    @Test
    void honestInputsWithFMatchTheReference() {
        assertMatchesReference(Inputs.gaussian(10, 1200, 1804), 2, OPTIONS, "honest, f = 2");
    }

    @Test
    void duplicatesAreTheFirstToGo() {
        // Four copies of one honest worker: their shared deviation is fitted exactly by the rank-1 flag.
        float[][] g = Inputs.gaussian(12, 1000, 1805);
        for (int i = 1; i < 4; i++) {
            g[i] = g[0].clone();
        }
        Solution solution = StreamingRun.run(new CentredFlagRule(3, OPTIONS), g, Kernels.best(), 64, 7).solution();
        assertThat(droppedByRule(solution)).hasSize(3).isSubsetOf(0, 1, 2, 3);
        Reference expected = reference(g, 3, OPTIONS);
        assertThat(expected.dropped()).hasSize(3).isSubsetOf(0, 1, 2, 3);
        // Whichever copy is kept, the kept set holds the same vectors: the aggregates agree.
        Approx.assertClose(StreamingRun.run(new CentredFlagRule(3, OPTIONS), g, Kernels.best(), 64, 7).aggregate(),
                expected.aggregate(), 1e-8, "duplicates");
    }

    @Test
    void identicalInputsAllHaveQualityOneAndTheLowestIndicesGo() {
        float[] v = Inputs.gaussian(1, 500, 1806)[0];
        float[][] g = new float[6][];
        Arrays.fill(g, v);
        StreamingRun.Result run = StreamingRun.run(new CentredFlagRule(2, OPTIONS), g, Kernels.scalar(), 30, 8);
        assertThat(qualities(run.solution())).containsOnly(1.0);
        assertThat(droppedByRule(run.solution())).containsExactly(0, 1);
        assertThat(run.solution().dropped().get(0)).contains("no deviation from the centre");
        Approx.assertClose(run.aggregate(), Inputs.toDouble(new float[][] {v})[0], 1e-9, "identical");
        Approx.assertClose(run.aggregate(), reference(g, 2, OPTIONS).aggregate(), 1e-9, "identical vs reference");
    }

    @Test
    void oneWorkerLeftIsThatWorker() {
        float[][] g = lieColluders(4, 3, 400, 1807);
        Solution solution = StreamingRun.run(new CentredFlagRule(3, OPTIONS), g, Kernels.scalar(), 30, 9).solution();
        assertThat(solution.selected()).hasSize(1);
        assertMatchesReference(g, 3, OPTIONS, "p - f = 1");
    }

    @Test
    void chunkingShufflingAndPermutingDoNotChangeTheResult() {
        int p = 13;
        float[][] g = lieColluders(p, 3, 1700, 1808);
        StreamingRun.Result first = StreamingRun.run(new CentredFlagRule(3, OPTIONS), g, Kernels.scalar(), 1, 10);
        for (int[] run : new int[][] {{7, 11}, {300, 12}, {5000, 13}}) {
            StreamingRun.Result other = StreamingRun.run(new CentredFlagRule(3, OPTIONS), g, Kernels.best(), run[0],
                    run[1], true);
            assertThat(other.solution().dropped()).isEqualTo(first.solution().dropped());
            Approx.assertClose(other.aggregate(), first.aggregate(), 1e-9, "chunk size " + run[0]);
        }
        int[] permutation = Inputs.randomPermutation(p, 1809);
        StreamingRun.Result permuted = StreamingRun.run(new CentredFlagRule(3, OPTIONS), Inputs.permute(g, permutation),
                Kernels.best(), 64, 14);
        Set<Integer> back = new TreeSet<>();
        for (int i : permuted.solution().dropped().keySet()) {
            back.add(permutation[i]);
        }
        assertThat(back).containsExactly(0, 1, 2);
        Approx.assertClose(permuted.aggregate(), first.aggregate(), 1e-9, "permuted");
    }

    @Test
    void detailsNameTheCentreTheQualitiesAndTheDrops() {
        float[][] g = lieColluders(9, 2, 300, 1810);
        var details = RoundReport.json(StreamingRun.run(new CentredFlagRule(2, OPTIONS), g, Kernels.scalar(), 30, 15).solution()
                .details());
        assertThat(details.getInteger("f")).isEqualTo(2);
        assertThat(details.getJsonArray("centredQuality")).hasSize(9);
        assertThat(details.getJsonObject("centre").getJsonArray("weights")).hasSize(9);
        assertThat(details.getJsonObject("centre").getBoolean("converged")).isTrue();
        assertThat(details.getJsonArray("dropped")).hasSize(2);
        assertThat(details.getJsonArray("dropped").getJsonObject(0).getString("reason")).endsWith("(cfa)");
        assertThat(details.getJsonArray("kept")).hasSize(7);
        var flag = details.getJsonObject("flag");
        assertThat(flag.getInteger("rank")).isEqualTo(4);
        assertThat(flag.getJsonArray("quality")).hasSize(9);
        assertThat(flag.getJsonArray("quality").getValue(0)).isNull();
        assertThat(details.encode()).contains("\"centredQuality\"");
    }
}
