package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.flagagg.engine.RoundReport;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** median, trmean, phocas, meamed: streaming form vs the textbook per-coordinate definitions. */
class CoordinateWiseRulesTest {

    /** A rule with its f and the textbook version of it. */
    record Case(String name, int f, BiFunction<double[][], Integer, double[]> textbook) {
        Rule rule() {
            return Rules.create(RuleConfig.of(name).withF(f));
        }

        double[] expected(float[][] g) {
            return textbook.apply(Inputs.toDouble(g), f);
        }

        @Override
        public String toString() {
            return name + "(f=" + f + ")";
        }
    }

    static Case median() {
        return new Case("median", 0, (g, f) -> Textbook.median(g));
    }

    static Case trmean(int f) {
        return new Case("trmean", f, Textbook::trimmedMean);
    }

    static Case phocas(int f) {
        return new Case("phocas", f, Textbook::phocas);
    }

    static Case meamed(int f) {
        return new Case("meamed", f, Textbook::meamed);
    }

    static Stream<Arguments> gaussianCases() {
        return Stream.of(7, 8, 20).flatMap(p -> Stream.of(
                Arguments.of(median(), p),
                Arguments.of(trmean(0), p),
                Arguments.of(trmean(3), p),
                Arguments.of(phocas(0), p),
                Arguments.of(phocas(3), p),
                Arguments.of(meamed(0), p),
                Arguments.of(meamed(3), p),
                Arguments.of(meamed(p - 1), p)));
    }

    @ParameterizedTest(name = "{0}, p = {1}")
    @MethodSource("gaussianCases")
    void matchesTextbookOnGaussianInputs(Case c, int p) {
        float[][] g = Inputs.gaussian(p, 1500, 11 + p);
        StreamingRun.Result run = StreamingRun.run(c.rule(), g, Kernels.scalar(), 97, 5);
        Approx.assertClose(run.aggregate(), c.expected(g), c.toString());
        assertThat(run.solution().coefficients()).isNull();
        assertThat(run.solution().selected()).hasSize(p);
        assertThat(RoundReport.json(run.solution().details()).getInteger("f")).isEqualTo(c.f());
    }

    static Stream<Arguments> attackCases() {
        int f = 3;
        return Stream.of(trmean(f), phocas(f), meamed(f), median()).flatMap(c -> Stream.of(
                Arguments.of(c, "reversed"), Arguments.of(c, "huge"), Arguments.of(c, "colluders")));
    }

    static float[][] attacked(String attack, float[][] honest, int f) {
        return switch (attack) {
            case "reversed" -> Inputs.reversed(honest, f);
            case "huge" -> Inputs.huge(honest, f);
            case "colluders" -> Inputs.colluders(honest, f);
            default -> throw new IllegalArgumentException(attack);
        };
    }

    @ParameterizedTest(name = "{0} under {1}")
    @MethodSource("attackCases")
    void matchesTextbookUnderAttack(Case c, String attack) {
        int f = 3;
        float[][] g = attacked(attack, Inputs.gaussian(11, 1200, 21), f);
        StreamingRun.Result run = StreamingRun.run(c.rule(), g, Kernels.scalar(), 50, 6);
        Approx.assertClose(run.aggregate(), c.expected(g), c + " under " + attack);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("robustCases")
    void staysWithinTheHonestRangeUnderHugeOutliers(Case c) {
        int f = 3;
        float[][] honest = Inputs.gaussian(11, 800, 31);
        float[][] g = Inputs.huge(honest, f);
        double[] out = StreamingRun.run(c.rule(), g, Kernels.scalar(), 64, 7).aggregate();
        for (int k = 0; k < out.length; k++) {
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int i = f; i < g.length; i++) {
                lo = Math.min(lo, g[i][k]);
                hi = Math.max(hi, g[i][k]);
            }
            assertThat(out[k]).as("%s coordinate %d", c, k).isBetween(lo, hi);
        }
    }

    static Stream<Case> robustCases() {
        return Stream.of(median(), trmean(3), phocas(3), meamed(3));
    }

    static Stream<Arguments> smallestP() {
        return Stream.of(
                Arguments.of(median(), 1),
                Arguments.of(median(), 2),
                Arguments.of(trmean(0), 1),
                Arguments.of(trmean(2), 5),
                Arguments.of(phocas(0), 1),
                Arguments.of(phocas(2), 5),
                Arguments.of(meamed(0), 1),
                Arguments.of(meamed(2), 3));
    }

    @ParameterizedTest(name = "{0}, p = {1}")
    @MethodSource("smallestP")
    void worksAtTheSmallestP(Case c, int p) {
        float[][] g = Inputs.gaussian(p, 300, 41 + p);
        StreamingRun.Result run = StreamingRun.run(c.rule(), g, Kernels.scalar(), 7, 8);
        Approx.assertClose(run.aggregate(), c.expected(g), c + " p = " + p);
        if (p == 1) {
            Approx.assertClose(run.aggregate(), Inputs.toDouble(g)[0], 0, "one input is its own aggregate");
        }
    }

    static Stream<Arguments> bitForBitCases() {
        return Stream.of(1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 64).flatMap(p -> Stream.of(
                Arguments.of("median", 0, p),
                Arguments.of("trmean", 0, p),
                Arguments.of("trmean", (p - 1) / 2, p),
                Arguments.of("trmean", p / 5, p),
                Arguments.of("phocas", p / 5, p),
                Arguments.of("meamed", p / 4, p),
                Arguments.of("bulyan", 1, p),
                Arguments.of("bulyan", (p - 3) / 4, p))
                .filter(a -> !a.get()[0].equals("bulyan") || p >= 4 * (int) a.get()[1] + 3));
    }

    /**
     * The sorting network path gives the bits the former path gave: per coordinate, the selected values
     * sorted by Arrays.sort and reduced by the rule's function; median and trmean also equal the textbook
     * bit for bit. Chunks of 1 to 1399 coordinates cross the block widths; the data has both zeros, ties,
     * all-equal columns, extremes and subnormals.
     */
    @ParameterizedTest(name = "{0}(f={1}), p = {2}")
    @MethodSource("bitForBitCases")
    void sortingNetworkGivesTheBitsOfAPerCoordinateSort(String name, int f, int p) {
        float[][] g = SortingNetworkTest.awkwardBlock(p, 3000, new Random(97L * p + f));
        Rule rule = Rules.create(RuleConfig.of(name).withF(f));
        StreamingRun.Result run = StreamingRun.run(rule, g, Kernels.scalar(), 700, p + f);
        CoordinateWiseSolution solution = (CoordinateWiseSolution) run.solution();
        int[] selected = solution.selected();
        double[] expected = new double[g[0].length];
        double[] values = new double[selected.length];
        for (int k = 0; k < expected.length; k++) {
            for (int i = 0; i < selected.length; i++) {
                values[i] = g[selected[i]][k];
            }
            java.util.Arrays.sort(values);
            expected[k] = solution.function().of(values);
        }
        assertThat(bits(run.aggregate())).isEqualTo(bits(expected));
        double[][] inputs = Inputs.toDouble(g);
        if (name.equals("median")) {
            assertThat(bits(run.aggregate())).isEqualTo(bits(Textbook.median(inputs)));
        } else if (name.equals("trmean")) {
            assertThat(bits(run.aggregate())).isEqualTo(bits(Textbook.trimmedMean(inputs, f)));
        }
    }

    private static long[] bits(double[] v) {
        return java.util.Arrays.stream(v).mapToLong(Double::doubleToRawLongBits).toArray();
    }

    @Test
    void hasOnlyTheOutputPass() {
        for (Case c : new Case[] {median(), trmean(1), phocas(1), meamed(1)}) {
            assertThat(c.rule().passes()).as(c.name()).containsExactly(Rule.Pass.SECOND_PASS);
            assertThat(c.rule().needsGram()).isFalse();
        }
    }

    @Test
    void parallelApplyGivesTheSameAggregate() {
        float[][] g = Inputs.gaussian(9, 3000, 51);
        for (Case c : new Case[] {median(), trmean(2), phocas(2), meamed(2)}) {
            double[] sequential = StreamingRun.run(c.rule(), g, Kernels.scalar(), 40, 9, false).aggregate();
            double[] parallel = StreamingRun.run(c.rule(), g, Kernels.scalar(), 40, 9, true).aggregate();
            assertThat(parallel).as(c.name()).containsExactly(sequential);
        }
    }

    @Test
    void permutingInputsDoesNotChangeTheAggregate() {
        float[][] g = Inputs.reversed(Inputs.gaussian(10, 600, 61), 2);
        float[][] shuffled = Inputs.permute(g, Inputs.randomPermutation(10, 62));
        for (Case c : new Case[] {median(), trmean(2), phocas(2), meamed(2)}) {
            double[] a = StreamingRun.run(c.rule(), g, Kernels.scalar(), 30, 10).aggregate();
            double[] b = StreamingRun.run(c.rule(), shuffled, Kernels.scalar(), 30, 10).aggregate();
            // The sorted values of a coordinate do not depend on the input order: identical results.
            assertThat(b).as(c.name()).containsExactly(a);
        }
    }

    @Test
    void nearestWindowMatchesBruteForceWithManyTies() {
        // Small integers give many equal values and equal distances; the window search must pick the same
        // multiset as "sort by distance, then by value".
        Random random = new Random(71);
        for (int trial = 0; trial < 3000; trial++) {
            int n = 1 + random.nextInt(9);
            double[] values = new double[n];
            for (int i = 0; i < n; i++) {
                values[i] = random.nextInt(7) - 3;
            }
            double center = (random.nextInt(13) - 6) / 2.0;
            int k = 1 + random.nextInt(n);
            double[] sorted = values.clone();
            java.util.Arrays.sort(sorted);
            assertThat(SortedStats.meanNearest(sorted, center, k))
                    .as("values %s, center %s, k %d", java.util.Arrays.toString(values), center, k)
                    .isEqualTo(Textbook.meanNearest(values, center, k));
        }
    }

    @Test
    void equallyDistantValuesKeepTheSmallerOne() {
        assertThat(SortedStats.meanNearest(new double[] {-1, 1}, 0, 1)).isEqualTo(-1);
        assertThat(SortedStats.meanNearest(new double[] {-2, -1, 1, 2}, 0, 3)).isEqualTo(-2.0 / 3);
        // meamed, p = 2, f = 1: the median is the midpoint, the smaller input wins.
        float[][] g = {{1f, 5f}, {3f, -5f}};
        double[] out = StreamingRun.run(new MeaMedRule(1), g, Kernels.scalar(), 1, 1).aggregate();
        assertThat(out).containsExactly(1.0, -5.0);
    }
}
