package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.flagagg.fa.FlagOptions;
import org.flagagg.fa.FlagSolution;
import org.flagagg.fa.FlagSolver;
import org.flagagg.fa.FullSpaceFlag;
import org.junit.jupiter.api.Test;

/**
 * A Gram matrix on which EJML's symmetric QR gives up: nnm's mixed gradients at p = 256 (RuleSolveBench's
 * input), near-parallel. FA must still solve it (FlagSolver falls back to an SVD), and agree with the
 * full-space formulation of the math note on the mixed vectors themselves.
 */
class NearParallelFlagTest {

    @Test
    void nearParallelGradientsWhereSymmetricQrGivesUpStillAgreeWithTheFullSpaceFlag() {
        int p = 256;
        int f = p / 5;
        double[][] g = colluding(p, f, 4 * p);
        double[][] m = Mixing.parse("nnm", f).matrix(p, gram(g)).rows();
        double[][] mixed = new double[p][g[0].length];
        for (int b = 0; b < p; b++) {
            for (int j = 0; j < p; j++) {
                for (int t = 0; t < g[0].length; t++) {
                    mixed[b][t] += m[b][j] * g[j][t];
                }
            }
        }
        double[] gram = PreAggregatedRule.mixedGram(m, gram(g), p);

        // The input really reaches the fallback: the symmetric QR fails on the normalised Gram matrix.
        double[] k = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                k[i * p + j] = gram[i * p + j] / Math.sqrt(gram[i * p + i] * gram[j * p + j]);
            }
        }
        assertThat(DecompositionFactory_DDRM.eig(p, true, true).decompose(new DMatrixRMaj(p, p, true, k)))
                .as("EJML's symmetric QR on this K").isFalse();

        FlagOptions options = new FlagOptions(0, 0, 10, 1e-10, 1e-7, FlagOptions.Scale.PAPER);
        FlagSolution gramSide = FlagSolver.solve(gram, p, options);
        FullSpaceFlag.Result full = FullSpaceFlag.run(mixed, (p + 1) / 2, 0, 10, 1e-10, 1e-7);
        assertThat(gramSide.iterations()).isEqualTo(full.iterations());
        assertThat(gramSide.objective()).containsExactly(full.objective(), within(1e-9 * Math.max(1, full.objective()[0])));
        for (int i = 0; i < p; i++) {
            assertThat(gramSide.quality()[i]).as("quality %d", i).isCloseTo(full.quality()[i], within(1e-9));
        }
    }

    /** p gradients in dimension n: the first f on one shifted point, the rest honest noise around a mean. */
    private static double[][] colluding(int p, int f, int n) {
        SplittableRandom random = new SplittableRandom(p);
        double[] honest = random.doubles(n).toArray();
        double[] shift = random.doubles(n).toArray();
        double[][] g = new double[p][n];
        for (int i = 0; i < p; i++) {
            for (int t = 0; t < n; t++) {
                g[i][t] = i < f ? honest[t] - 3 * shift[t] : honest[t] + random.nextGaussian();
            }
        }
        return g;
    }

    private static double[] gram(double[][] g) {
        int p = g.length;
        double[] out = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                double s = 0;
                for (int t = 0; t < g[i].length; t++) {
                    s += g[i][t] * g[j][t];
                }
                out[i * p + j] = s;
            }
        }
        return out;
    }
}
