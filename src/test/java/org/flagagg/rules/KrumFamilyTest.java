package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.vertx.core.json.JsonArray;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.flagagg.engine.RoundReport;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Krum, Multi-Krum and Bulyan: Gram-space streaming form vs textbook versions on whole vectors. */
class KrumFamilyTest {

    static Stream<Kernels> kernels() {
        return Stream.of(Kernels.scalar(), Kernels.best());
    }

    static float[][] inputs(String kind, int p, int f, long seed) {
        float[][] honest = Inputs.gaussian(p, 1000, seed);
        return switch (kind) {
            case "gaussian" -> honest;
            case "reversed" -> Inputs.reversed(honest, f);
            case "huge" -> Inputs.huge(honest, f);
            case "colluders" -> Inputs.colluders(honest, f);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static Stream<Arguments> cases() {
        return kernels().flatMap(k -> Stream.of("gaussian", "reversed", "huge", "colluders").flatMap(kind ->
                Stream.of(Arguments.of(k, kind, 5, 1), Arguments.of(k, kind, 20, 4), Arguments.of(k, kind, 12, 2))));
    }

    /** A JsonArray's elements as a typed list (getList() is raw). */
    static List<Object> values(JsonArray array) {
        List<Object> out = new ArrayList<>();
        array.forEach(out::add);
        return out;
    }

    static void assertScoresMatch(JsonArray actual, double[] expected, String what) {
        assertThat(actual.size()).isEqualTo(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual.getDouble(i)).as("%s score %d", what, i)
                    .isCloseTo(expected[i], within(Approx.TOLERANCE * Math.abs(expected[i])));
        }
    }

    @ParameterizedTest(name = "{0} {1} p = {2} f = {3}")
    @MethodSource("cases")
    void krumMatchesTextbook(Kernels kernels, String kind, int p, int f) {
        float[][] g = inputs(kind, p, f, 100 + p);
        double[][] d = Inputs.toDouble(g);
        StreamingRun.Result run = StreamingRun.run(new KrumRule(f), g, kernels, 61, 1);
        int expected = Textbook.krum(d, f);
        assertThat(run.solution().selected()).containsExactly(expected);
        assertThat(run.solution().coefficients()).containsExactly(1.0);
        assertThat(run.aggregate()).containsExactly(d[expected]);
        assertScoresMatch(RoundReport.json(run.solution().details()).getJsonArray("scores"),
                Textbook.krumScores(d, Textbook.all(p), p - f - 2), "krum");
        if (!kind.equals("gaussian") && !kind.equals("colluders")) {
            assertThat(expected).as("krum picks an honest worker").isGreaterThanOrEqualTo(f);
        }
    }

    @ParameterizedTest(name = "{0} {1} p = {2} f = {3}")
    @MethodSource("cases")
    void multiKrumMatchesTextbook(Kernels kernels, String kind, int p, int f) {
        float[][] g = inputs(kind, p, f, 200 + p);
        double[][] d = Inputs.toDouble(g);
        for (int m : new int[] {0, 1, 3, p}) {
            int averaged = m == 0 ? p - f : m;
            StreamingRun.Result run = StreamingRun.run(new MultiKrumRule(f, m), g, kernels, 45, 2);
            List<Integer> expected = Textbook.multiKrum(d, f, averaged);
            assertThat(run.solution().selected()).as("m = %d", m)
                    .containsExactly(expected.stream().mapToInt(Integer::intValue).toArray());
            assertThat(RoundReport.json(run.solution().details()).getInteger("m")).isEqualTo(averaged);
            Approx.assertClose(run.aggregate(), Textbook.average(d, expected), "multikrum m = " + m);
            if (kind.equals("reversed") || kind.equals("huge")) {
                if (averaged <= p - f) {
                    assertThat(expected).as("only honest workers").allMatch(i -> i >= f);
                }
            }
        }
    }

    static Stream<Arguments> bulyanCases() {
        return kernels().flatMap(k -> Stream.of("gaussian", "reversed", "huge", "colluders").flatMap(kind ->
                Stream.of(Arguments.of(k, kind, 3, 0), Arguments.of(k, kind, 7, 1), Arguments.of(k, kind, 12, 2),
                        Arguments.of(k, kind, 19, 4))));
    }

    @ParameterizedTest(name = "{0} {1} p = {2} f = {3}")
    @MethodSource("bulyanCases")
    void bulyanMatchesTextbook(Kernels kernels, String kind, int p, int f) {
        float[][] g = inputs(kind, p, f, 300 + p);
        double[][] d = Inputs.toDouble(g);
        StreamingRun.Result run = StreamingRun.run(new BulyanRule(f), g, kernels, 33, 3);
        List<Integer> picks = Textbook.bulyanSelection(d, f);
        assertThat(values(RoundReport.json(run.solution().details()).getJsonArray("selectionOrder"))).isEqualTo(picks);
        assertThat(run.solution().selected())
                .containsExactly(picks.stream().mapToInt(Integer::intValue).sorted().toArray());
        assertThat(RoundReport.json(run.solution().details()).getInteger("theta")).isEqualTo(p - 2 * f);
        assertThat(RoundReport.json(run.solution().details()).getInteger("beta")).isEqualTo(p - 4 * f);
        assertThat(run.solution().coefficients()).isNull();
        Approx.assertClose(run.aggregate(), Textbook.bulyan(d, f), "bulyan");
        if (kind.equals("reversed") || kind.equals("huge")) {
            assertThat(picks).as("the first picks are honest").first().matches(i -> i >= f);
        }
    }

    @Test
    void bulyanApplyIsThreadSafe() {
        float[][] g = Inputs.reversed(Inputs.gaussian(11, 3000, 401), 2);
        double[] sequential = StreamingRun.run(new BulyanRule(2), g, Kernels.scalar(), 40, 4, false).aggregate();
        double[] parallel = StreamingRun.run(new BulyanRule(2), g, Kernels.scalar(), 40, 4, true).aggregate();
        assertThat(parallel).containsExactly(sequential);
    }

    @Test
    void exactTiesPickTheLowestIndex() {
        // Points 0..4 on a line (exact integer Gram entries). f = 1, 2 neighbours: scores 5, 2, 2, 2, 5.
        float[][] g = {{0f}, {1f}, {2f}, {3f}, {4f}};
        StreamingRun.Result krum = StreamingRun.run(new KrumRule(1), g, Kernels.scalar(), 1, 1);
        assertThat(values(RoundReport.json(krum.solution().details()).getJsonArray("scores"))).containsExactly(5.0, 2.0, 2.0, 2.0, 5.0);
        assertThat(krum.solution().selected()).containsExactly(1);
        assertThat(StreamingRun.run(new MultiKrumRule(1, 2), g, Kernels.scalar(), 1, 1).solution().selected())
                .containsExactly(1, 2);
        // Reversed order: the tie is now between inputs 1, 2, 3 holding 3, 2, 1; still the lowest index.
        float[][] reversed = {{4f}, {3f}, {2f}, {1f}, {0f}};
        assertThat(StreamingRun.run(new KrumRule(1), reversed, Kernels.scalar(), 1, 1).solution().selected())
                .containsExactly(1);
        // All identical: every score is 0.
        float[][] same = new float[7][];
        for (int i = 0; i < same.length; i++) {
            same[i] = new float[] {1.5f, -2f, 3f};
        }
        assertThat(StreamingRun.run(new KrumRule(2), same, Kernels.scalar(), 2, 1).solution().selected())
                .containsExactly(0);
        Solution bulyan = StreamingRun.run(new BulyanRule(1), same, Kernels.scalar(), 2, 1).solution();
        List<Object> order = values(RoundReport.json(bulyan.details()).getJsonArray("selectionOrder"));
        assertThat(order).containsExactly(0, 1, 2, 3, 4);
    }

    @Test
    void nearDuplicatesAreHandledSensibly() {
        int p = 11; // 4f + 3, so Bulyan runs too
        int f = 2;
        float[][] g = Inputs.nearDuplicates(p, f, 3000, 501);
        double[][] d = Inputs.toDouble(g);
        for (Kernels kernels : kernels().toList()) {
            StreamingRun.Result krum = StreamingRun.run(new KrumRule(f), g, kernels, 128, 5);
            JsonArray scores = RoundReport.json(krum.solution().details()).getJsonArray("scores");
            for (int i = 0; i < p; i++) {
                assertThat(scores.getDouble(i)).as("score %d is a clamped sum", i).isGreaterThanOrEqualTo(0.0).isFinite();
            }
            KrumScores gramScores = new KrumScores(p, krum.gram());
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    assertThat(gramScores.distance(i, j)).isGreaterThanOrEqualTo(0.0);
                }
            }
            int pick = krum.solution().selected()[0];
            assertThat(pick).as("krum picks one of the near-duplicates").isGreaterThanOrEqualTo(f);
            // Its output is within a few ulps of every honest worker.
            for (int i = f; i < p; i++) {
                assertThat(Math.sqrt(Textbook.squaredDistance(d[pick], d[i]))).isLessThan(1e-3);
            }
            int[] multi = StreamingRun.run(new MultiKrumRule(f, 0), g, kernels, 128, 5).solution().selected();
            assertThat(multi).containsExactly(IntStream.range(f, p).toArray());
            // Bulyan's last round counts one neighbour, and the two identical Byzantine inputs are at
            // distance exactly 0 from each other, so one of them may be selected there (as the paper's
            // recursion prescribes); the coordinate-wise stage must then keep it out of the output.
            StreamingRun.Result bulyan = StreamingRun.run(new BulyanRule(f), g, kernels, 128, 5);
            assertThat(RoundReport.json(bulyan.solution().details()).getJsonArray("selectionOrder").getInteger(0)).isGreaterThanOrEqualTo(f);
            for (int k = 0; k < g[0].length; k++) {
                double lo = Double.POSITIVE_INFINITY;
                double hi = Double.NEGATIVE_INFINITY;
                for (int i = f; i < p; i++) {
                    lo = Math.min(lo, d[i][k]);
                    hi = Math.max(hi, d[i][k]);
                }
                assertThat(bulyan.aggregate()[k]).as("bulyan coordinate %d", k).isBetween(lo, hi);
            }
        }
    }

    @Test
    void distancesFromTheGramMatrixAreClampedAtZero() {
        // A Gram matrix whose raw formula gives a negative squared distance for the pair (0, 1).
        double[] gram = {1.0, 1.0 + 1e-15, 0, 1.0 + 1e-15, 1.0, 0, 0, 0, 4.0};
        KrumScores scores = new KrumScores(3, gram);
        assertThat(gram[0] + gram[4] - 2 * gram[1]).isNegative();
        assertThat(scores.distance(0, 1)).isZero();
        assertThat(scores.distance(1, 0)).isZero();
        assertThat(scores.distance(0, 2)).isEqualTo(5.0);
    }

    static Stream<Arguments> permutationCases() {
        return Stream.of(Arguments.of(new KrumRule(3), 12), Arguments.of(new MultiKrumRule(3, 0), 12),
                Arguments.of(new MultiKrumRule(3, 4), 12), Arguments.of(new BulyanRule(3), 15));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("permutationCases")
    void permutingInputsDoesNotChangeTheAggregate(Rule rule, int p) {
        float[][] g = Inputs.reversed(Inputs.gaussian(p, 500, 601), 3);
        int[] permutation = Inputs.randomPermutation(p, 602);
        StreamingRun.Result a = StreamingRun.run(rule, g, Kernels.scalar(), 50, 6);
        StreamingRun.Result b = StreamingRun.run(rule, Inputs.permute(g, permutation), Kernels.scalar(), 50, 6);
        Approx.assertClose(b.aggregate(), a.aggregate(), rule.name() + " permuted");
        int[] mapped = IntStream.of(b.solution().selected()).map(k -> permutation[k]).sorted().toArray();
        assertThat(mapped).containsExactly(a.solution().selected());
    }
}
