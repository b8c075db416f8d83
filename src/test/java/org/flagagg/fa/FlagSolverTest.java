package org.flagagg.fa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.junit.jupiter.api.Test;

/** Properties of the Gram-space solver: dropping, permutation, the flag-mean start, scales, errors. */
class FlagSolverTest {

    @Test
    void permutingTheInputsPermutesCoefficientsQualitiesAndWeightsOnly() {
        float[][] g = Workers.clustered(21, 10, 7, 500);
        g[3] = new float[500]; // a dropped input must move with the permutation too
        int[] perm = {7, 2, 9, 0, 5, 3, 8, 1, 6, 4}; // input i of the permuted set is input perm[i]
        float[][] permuted = new float[10][];
        for (int i = 0; i < 10; i++) {
            permuted[i] = g[perm[i]];
        }
        FlagOptions options = Workers.PAPER.withRank(4).withLambda(1);

        FlagSolution original = FlagSolver.solve(Workers.gram(g), 10, options);
        FlagSolution moved = FlagSolver.solve(Workers.gram(permuted), 10, options);

        double scale = Arrays.stream(original.coefficients()).map(Math::abs).max().orElseThrow();
        for (int i = 0; i < 10; i++) {
            assertThat(moved.coefficients()[i]).isCloseTo(original.coefficients()[perm[i]], within(1e-10 * scale));
            if (perm[i] == 3) {
                assertThat(moved.quality()[i]).isNaN();
                assertThat(moved.weight()[i]).isNaN();
            } else {
                assertThat(moved.quality()[i]).isCloseTo(original.quality()[perm[i]], within(1e-10));
                // A weight near eps^(-1/4) moves by (w / 4) dq / (|1 - q| + eps): relative, not absolute.
                double weight = original.weight()[perm[i]];
                assertThat(moved.weight()[i]).isCloseTo(weight, within(1e-6 * weight));
            }
        }
        assertThat(original.dropped()).containsExactly(Map.entry(3, "zero gradient"));
        assertThat(moved.dropped()).containsExactly(Map.entry(5, "zero gradient"));
        assertThat(moved.iterations()).isEqualTo(original.iterations()).isPositive();
        // E sums sqrt(1 - q_i); IRLS fits some workers to q ~ 1 - 1e-10, where the square root turns
        // rounding of q (~1e-15) into ~1e-10 of E.
        assertThat(moved.objective()).containsExactly(original.objective(), within(1e-8));
        assertThat(moved.rank()).isEqualTo(original.rank()).isEqualTo(4);
    }

    @Test
    void zeroAndNonFiniteInputsAreDroppedWithReasonsAndTheRestSolvedAlone() {
        float[][] g = Workers.gaussian(22, 7, 200, 1);
        g[2] = new float[200];
        g[4][17] = Float.NaN;
        g[5][0] = Float.POSITIVE_INFINITY;
        FlagOptions options = Workers.PAPER.withLambda(1);

        FlagSolution solution = FlagSolver.solve(Workers.gram(g), 7, options);

        assertThat(solution.dropped()).containsExactly(
                Map.entry(2, "zero gradient"), Map.entry(4, "non-finite value"), Map.entry(5, "non-finite value"));
        int[] kept = {0, 1, 3, 6};
        float[][] keptRows = new float[kept.length][];
        for (int i = 0; i < kept.length; i++) {
            keptRows[i] = g[kept[i]];
        }
        FlagSolution alone = FlagSolver.solve(Workers.gram(keptRows), kept.length, options);
        assertThat(solution.rank()).isEqualTo(alone.rank()).isEqualTo(2); // ceil(4 / 2): rank follows the kept count
        for (int i = 0; i < kept.length; i++) {
            assertThat(solution.coefficients()[kept[i]]).isEqualTo(alone.coefficients()[i]);
            assertThat(solution.quality()[kept[i]]).isEqualTo(alone.quality()[i]);
            assertThat(solution.weight()[kept[i]]).isEqualTo(alone.weight()[i]);
        }
        for (int dropped : new int[] {2, 4, 5}) {
            assertThat(solution.coefficients()[dropped]).isZero();
            assertThat(solution.quality()[dropped]).isNaN();
            assertThat(solution.weight()[dropped]).isNaN();
        }
    }

    @Test
    void aNonFiniteOffDiagonalEntryDropsBothInputs() {
        double[] gram = Workers.gram(Workers.gaussian(23, 3, 50, 1));
        gram[0 * 3 + 2] = Double.POSITIVE_INFINITY;
        FlagSolution solution = FlagSolver.solve(gram, 3, Workers.PAPER);
        assertThat(solution.dropped()).containsOnlyKeys(0, 2);
        assertThat(solution.coefficients()[1]).isPositive();
    }

    @Test
    void noUsableInputIsAnError() {
        float[][] g = new float[3][10];
        g[1][4] = Float.NaN;
        assertThatThrownBy(() -> FlagSolver.solve(Workers.gram(g), 3, Workers.PAPER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1 input with a finite, non-zero gradient")
                .hasMessageContaining("p = 3");
    }

    @Test
    void malformedArgumentsAreErrorsThatNameTheBound() {
        assertThatThrownBy(() -> FlagSolver.solve(new double[5], 2, Workers.PAPER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the Gram matrix must have p * p = 4 entries (p = 2), got 5");
        assertThatThrownBy(() -> FlagSolver.solve(new double[0], 0, Workers.PAPER))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("flag needs at least one input (p = 0)");
        double[] gram = Workers.gram(Workers.gaussian(24, 8, 20, 1));
        assertThatThrownBy(() -> FlagSolver.solve(gram, 8, Workers.PAPER.withRank(9)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("flag rank r = 9 is out of range 1..8 for p = 8");
    }

    @Test
    void aRankAboveTheKeptCountStillDividesByR() {
        // p = 4 given, two dropped, r = 3: the flag spans both kept inputs, so a = (x_0 + x_1) / 3.
        float[][] g = Workers.gaussian(25, 4, 30, 1);
        g[2] = new float[30];
        g[3][0] = Float.NaN;
        FlagSolution solution = FlagSolver.solve(Workers.gram(g), 4, Workers.PAPER.withRank(3));

        assertThat(solution.rank()).isEqualTo(3);
        assertThat(solution.columns()).isEqualTo(2);
        double[] expected = new double[30];
        for (int i = 0; i < 2; i++) {
            double norm = Workers.norm(Workers.combine(new double[] {1}, new float[][] {g[i]}));
            for (int t = 0; t < 30; t++) {
                expected[t] += g[i][t] / norm / 3;
            }
        }
        g[3] = new float[30]; // its coefficient is 0, but 0 * NaN would poison the check
        double[] a = Workers.combine(solution.coefficients(), g);
        assertThat(solution.coefficients()[3]).isZero();
        assertThat(Workers.distance(a, expected)).isLessThanOrEqualTo(1e-12 * Workers.norm(expected));
        assertThat(solution.quality()[0]).isCloseTo(1, within(1e-12));
    }

    @Test
    void zeroIterationsReturnsTheFlagMean() {
        float[][] g = Workers.clustered(26, 9, 6, 300);
        int r = 3;
        FlagSolution solution = FlagSolver.solve(Workers.gram(g), 9,
                Workers.PAPER.withRank(r).withLambda(5).withIterations(0));

        // Independently: the top-r left singular vectors U_r of X, a = (1/r) U_r U_r^T sum_i x_i.
        int n = 300;
        DMatrixRMaj x = new DMatrixRMaj(n, 9);
        double[] sum = new double[n];
        for (int i = 0; i < 9; i++) {
            double norm = Math.sqrt(Workers.gram(new float[][] {g[i]})[0]);
            for (int t = 0; t < n; t++) {
                x.set(t, i, g[i][t] / norm);
                sum[t] += g[i][t] / norm;
            }
        }
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(n, 9, true, false, true);
        assertThat(svd.decompose(x.copy())).isTrue();
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        SingularOps_DDRM.descendingOrder(u, false, w, null, false);
        double[] expected = new double[n];
        for (int c = 0; c < r; c++) {
            double coordinate = 0;
            for (int t = 0; t < n; t++) {
                coordinate += u.get(t, c) * sum[t];
            }
            for (int t = 0; t < n; t++) {
                expected[t] += u.get(t, c) * coordinate / r;
            }
        }

        double[] a = Workers.combine(solution.coefficients(), g);
        assertThat(Workers.distance(a, expected)).isLessThanOrEqualTo(1e-10 * Workers.norm(expected));
        assertThat(solution.iterations()).isZero();
        assertThat(solution.objective()).hasSize(1);
    }

    @Test
    void normScaleKeepsThePaperDirectionAtTheMedianKeptNorm() {
        float[][] g = Workers.clustered(27, 7, 4, 250);
        g[1] = Workers.scaled(g[1], 40);
        g[5] = new float[250]; // dropped: the median is over the six kept norms
        FlagOptions paper = Workers.PAPER.withLambda(1);
        FlagSolution paperSolution = FlagSolver.solve(Workers.gram(g), 7, paper);
        FlagSolution normSolution = FlagSolver.solve(Workers.gram(g), 7, paper.withScale(FlagOptions.Scale.NORM));

        double[] norms = new double[6];
        for (int i = 0, k = 0; i < 7; i++) {
            if (i != 5) {
                norms[k++] = Math.sqrt(Workers.gram(new float[][] {g[i]})[0]);
            }
        }
        Arrays.sort(norms);
        double median = (norms[2] + norms[3]) / 2;
        double[] aPaper = Workers.combine(paperSolution.coefficients(), g);
        double[] aNorm = Workers.combine(normSolution.coefficients(), g);
        assertThat(Workers.norm(aNorm)).isCloseTo(median, within(1e-12 * median));
        assertThat(Workers.norm(aPaper)).isNotCloseTo(median, within(1e-3 * median));
        double ratio = Workers.norm(aNorm) / Workers.norm(aPaper);
        for (int t = 0; t < aPaper.length; t++) {
            aPaper[t] *= ratio;
        }
        assertThat(Workers.distance(aNorm, aPaper)).isLessThanOrEqualTo(1e-12 * median);
        assertThat(normSolution.quality()).containsExactly(paperSolution.quality());
        assertThat(normSolution.objective()).containsExactly(paperSolution.objective());
    }

    @Test
    void normScaleLeavesAZeroAggregateAtZero() {
        // g_1 = -g_0 exactly: the flag is their common line, and the unit vectors cancel.
        float[][] g = Workers.gaussian(28, 2, 40, 1);
        g[1] = Workers.scaled(g[0], -1);
        FlagSolution solution = FlagSolver.solve(Workers.gram(g), 2,
                FlagOptions.DEFAULTS.withRank(1).withScale(FlagOptions.Scale.NORM));
        assertThat(solution.coefficients()).containsExactly(0, 0);
    }

    @Test
    void resultsAreInvariantToTheGradientsScaleAndRepeatable() {
        float[][] g = Workers.clustered(29, 8, 5, 200);
        float[][] big = new float[8][];
        for (int i = 0; i < 8; i++) {
            big[i] = Workers.scaled(g[i], 1024); // a power of two: exact in float and double
        }
        FlagOptions options = Workers.PAPER.withLambda(1);
        FlagSolution small = FlagSolver.solve(Workers.gram(g), 8, options);
        FlagSolution again = FlagSolver.solve(Workers.gram(g), 8, options);
        FlagSolution large = FlagSolver.solve(Workers.gram(big), 8, options);

        assertThat(again.coefficients()).containsExactly(small.coefficients());
        for (int i = 0; i < 8; i++) {
            assertThat(large.coefficients()[i] * 1024).isEqualTo(small.coefficients()[i]);
        }
        assertThat(large.objective()).containsExactly(small.objective());
    }

    @Test
    void traceQualitiesAndWeightsAreConsistent() {
        float[][] g = Workers.adversarial(30, 300);
        FlagOptions options = Workers.PAPER.withLambda(5).withIterations(25);
        FlagSolution solution = FlagSolver.solve(Workers.gram(g), g.length, options);

        double[] trace = solution.objective();
        assertThat(trace).hasSize(solution.iterations() + 1);
        assertThat(solution.iterations()).isBetween(1, 25);
        for (int t = 1; t < trace.length; t++) {
            assertThat(trace[t]).isLessThanOrEqualTo(trace[t - 1] + 1e-12); // a rise under 1e-12 is no change
        }
        double objective = 0;
        for (int i = 0; i < g.length; i++) {
            double q = solution.quality()[i];
            assertThat(q).isBetween(0.0, 1.0);
            assertThat(solution.weight()[i]).isCloseTo(Math.pow(1 - q + options.eps(), -0.25), within(1e-6));
            objective += Math.sqrt(1 - q);
        }
        // sqrt turns the ~1e-16 rounding of q near 1 into ~1e-8 per worker
        assertThat(trace[trace.length - 1]).isCloseTo(objective, within(1e-7));
        assertThat(solution.rank()).isEqualTo(5);
        assertThat(solution.columns()).isEqualTo(5);
    }
}
