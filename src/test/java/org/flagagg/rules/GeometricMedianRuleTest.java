package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.stream.Stream;
import org.flagagg.engine.RoundReport;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Geometric median by Weiszfeld in Gram space vs full-space Weiszfeld and the optimality condition. */
class GeometricMedianRuleTest {

    static Stream<Arguments> cases() {
        return Stream.of(Kernels.scalar(), Kernels.best()).flatMap(k -> Stream.of(
                Arguments.of(k, "gaussian", 5), Arguments.of(k, "gaussian", 20),
                Arguments.of(k, "reversed", 11), Arguments.of(k, "huge", 11), Arguments.of(k, "colluders", 11)));
    }

    static float[][] inputs(String kind, int p, long seed) {
        float[][] honest = Inputs.gaussian(p, 1000, seed);
        int f = (p - 1) / 2;
        return switch (kind) {
            case "gaussian" -> honest;
            case "reversed" -> Inputs.reversed(honest, f);
            case "huge" -> Inputs.huge(honest, f);
            case "colluders" -> Inputs.colluders(honest, f);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest(name = "{0} {1} p = {2}")
    @MethodSource("cases")
    void matchesFullSpaceWeiszfeld(Kernels kernels, String kind, int p) {
        float[][] g = inputs(kind, p, 700 + p);
        double[][] d = Inputs.toDouble(g);
        StreamingRun.Result run = StreamingRun.run(new GeometricMedianRule(), g, kernels, 77, 7);
        double[] expected = Textbook.geometricMedian(d);
        Approx.assertClose(run.aggregate(), expected, "geomed " + kind);
        assertThat(RoundReport.json(run.solution().details()).getBoolean("converged")).isTrue();
        assertThat(RoundReport.json(run.solution().details()).getInteger("iterations"))
                .isBetween(1, GeometricMedianRule.MAX_ITERATIONS);
        assertThat(RoundReport.json(run.solution().details()).getDouble("objective"))
                .isCloseTo(Textbook.objective(d, expected), org.assertj.core.api.Assertions.within(
                        1e-9 * Textbook.objective(d, expected)));
        double sum = 0;
        for (double c : run.solution().coefficients()) {
            assertThat(c).isPositive();
            sum += c;
        }
        assertThat(sum).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-12));
    }

    @Test
    void satisfiesTheOptimalityCondition() {
        // At the geometric median (away from the inputs) the unit vectors towards the inputs sum to zero,
        // and every nearby point has a larger objective.
        float[][] g = Inputs.reversed(Inputs.gaussian(9, 800, 801), 3);
        double[][] d = Inputs.toDouble(g);
        double[] z = StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 100, 8).aggregate();
        double[] pull = new double[z.length];
        for (double[] row : d) {
            double dist = Math.sqrt(Textbook.squaredDistance(row, z));
            for (int k = 0; k < z.length; k++) {
                pull[k] += (row[k] - z[k]) / dist;
            }
        }
        assertThat(Textbook.norm(pull)).as("sum of unit vectors (each of norm 1)").isLessThan(1e-7);
        double objective = Textbook.objective(d, z);
        assertThat(objective).isLessThan(Textbook.objective(d, Textbook.mean(d)));
        Random random = new Random(802);
        for (int trial = 0; trial < 20; trial++) {
            double[] moved = z.clone();
            for (int k = 0; k < moved.length; k++) {
                moved[k] += 1e-3 * random.nextGaussian();
            }
            assertThat(Textbook.objective(d, moved)).isGreaterThan(objective);
        }
    }

    @Test
    void aMajorityAtOnePointIsTheMedian() {
        // 3 of 5 inputs at the same point: the geometric median is that point (up to the smoothing delta).
        float[][] g = Inputs.gaussian(5, 500, 901);
        g[3] = g[1].clone();
        g[4] = g[1].clone();
        StreamingRun.Result run = StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 50, 9);
        Approx.assertClose(run.aggregate(), Inputs.toDouble(g)[1], 1e-5, "majority point");
    }

    @Test
    void staysNearTheHonestInputsUnderHugeOutliers() {
        int p = 11;
        int f = 5;
        float[][] honest = Inputs.gaussian(p, 1000, 1001);
        double[][] h = Inputs.toDouble(honest);
        double[] z = StreamingRun.run(new GeometricMedianRule(), Inputs.huge(honest, f), Kernels.scalar(), 64, 10)
                .aggregate();
        double honestNorm = Textbook.norm(h[f]);
        double[] honestMean = Textbook.mean(java.util.Arrays.copyOfRange(h, f, p));
        assertThat(Math.sqrt(Textbook.squaredDistance(z, honestMean))).isLessThan(honestNorm);
    }

    @Test
    void allZeroInputsGiveZero() {
        float[][] g = new float[4][300];
        StreamingRun.Result run = StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 30, 11);
        assertThat(run.aggregate()).containsOnly(0.0);
        assertThat(RoundReport.json(run.solution().details()).getBoolean("converged")).isTrue();
        assertThat(run.solution().coefficients()).containsOnly(0.25);
    }

    @Test
    void mostlyZeroInputsStayFinite() {
        // The median norm is 0, so delta falls to its floor; the weights must not overflow.
        float[][] g = new float[5][200];
        for (int k = 0; k < 200; k++) {
            g[3][k] = 1e30f;
            g[4][k] = -3e30f;
        }
        double[] z = StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 30, 12).aggregate();
        for (double v : z) {
            assertThat(v).isFinite();
            assertThat(Math.abs(v)).isLessThan(1e25);
        }
    }

    @Test
    void oneInputIsItsOwnMedian() {
        float[][] g = Inputs.gaussian(1, 300, 1101);
        StreamingRun.Result run = StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 30, 13);
        assertThat(run.aggregate()).containsExactly(Inputs.toDouble(g)[0]);
    }

    @Test
    void permutingInputsDoesNotChangeTheAggregate() {
        float[][] g = Inputs.reversed(Inputs.gaussian(10, 500, 1201), 3);
        float[][] shuffled = Inputs.permute(g, Inputs.randomPermutation(10, 1202));
        double[] a = StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 40, 14).aggregate();
        double[] b = StreamingRun.run(new GeometricMedianRule(), shuffled, Kernels.scalar(), 40, 14).aggregate();
        Approx.assertClose(b, a, "geomed permuted");
    }
}
