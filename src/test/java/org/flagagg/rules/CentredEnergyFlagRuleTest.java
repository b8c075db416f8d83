package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.flagagg.fa.FlagOptions;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;

/**
 * cfae against a whole-vector formulation: the deviations from the geometric median in R^n, their top
 * principal direction by power iteration in R^n, the energies (u . d_i)^2, robust z-scores, and FA on the
 * workers left (streamed through the plain flag rule).
 */
class CentredEnergyFlagRuleTest {

    private static final FlagOptions OPTIONS = FlagOptions.DEFAULTS;

    /** (u . d_i)^2 for u the top principal direction of the deviations d_i = g_i - geometric median. */
    static double[] energies(float[][] g) {
        double[][] d = Inputs.toDouble(g);
        double[] z = Textbook.geometricMedian(d);
        int n = z.length;
        for (double[] row : d) {
            for (int k = 0; k < n; k++) {
                row[k] -= z[k];
            }
        }
        double[] u = new double[n];
        Arrays.fill(u, 1 / Math.sqrt(n));
        for (int step = 0; step < 2000; step++) {
            double[] next = new double[n];
            for (double[] row : d) {
                double dot = 0;
                for (int k = 0; k < n; k++) {
                    dot += row[k] * u[k];
                }
                for (int k = 0; k < n; k++) {
                    next[k] += dot * row[k];
                }
            }
            double norm = Textbook.norm(next);
            for (int k = 0; k < n; k++) {
                u[k] = next[k] / norm;
            }
        }
        return Arrays.stream(d).mapToDouble(row -> {
            double dot = 0;
            for (int k = 0; k < n; k++) {
                dot += row[k] * u[k];
            }
            return dot * dot;
        }).toArray();
    }

    /** (s - median) / median |s - median|, for scores without ties at the median. */
    static double[] robustZ(double[] s) {
        double median = Textbook.median(s);
        double mad = Textbook.median(Arrays.stream(s).map(v -> Math.abs(v - median)).toArray());
        return Arrays.stream(s).map(v -> (v - median) / mad).toArray();
    }

    static double[] array(Solution s, String key) {
        return s.details().doubles(key);
    }

    /** Honest gaussian workers, the first f replaced by mean - 1.5 std plus independent noise of one std. */
    static float[][] noisyLieColluders(int p, int f, int n, long seed) {
        float[][] g = Inputs.gaussian(p, n, seed);
        Random random = new Random(seed + 1);
        double[][] shifted = new double[f][n];
        for (int k = 0; k < n; k++) {
            double sum = 0;
            double squares = 0;
            for (int i = f; i < p; i++) {
                sum += g[i][k];
                squares += (double) g[i][k] * g[i][k];
            }
            double mean = sum / (p - f);
            double std = Math.sqrt(Math.max(0, (squares - sum * mean) / (p - f - 1)));
            for (int b = 0; b < f; b++) {
                shifted[b][k] = mean - 1.5 * std + std * random.nextGaussian();
            }
        }
        for (int b = 0; b < f; b++) {
            for (int k = 0; k < n; k++) {
                g[b][k] = (float) shifted[b][k];
            }
        }
        return g;
    }

    @Test
    void matchesTheWholeVectorFormulation() {
        int p = 15;
        int f = 3;
        float[][] g = noisyLieColluders(p, f, 1500, 5);
        Solution s = StreamingRun.run(new CentredEnergyFlagRule(f, OPTIONS), g, Kernels.scalar(), 64, 2).solution();

        double[] expectedEnergy = energies(g);
        double[] energy = array(s, "energy");
        double largest = Arrays.stream(expectedEnergy).max().orElseThrow();
        for (int i = 0; i < p; i++) {
            assertThat(energy[i]).as("energy %d", i).isCloseTo(expectedEnergy[i], within(1e-6 * largest));
        }
        double[] quality = CentredFlagRuleTest.reference(g, f, OPTIONS).quality();
        double[] qualityZ = robustZ(quality);
        double[] energyZ = robustZ(expectedEnergy);
        double[] outlyingness = array(s, "outlyingness");
        for (int i = 0; i < p; i++) {
            assertThat(outlyingness[i]).as("outlyingness %d", i)
                    .isCloseTo(Math.max(qualityZ[i], energyZ[i]), within(1e-4 * (1 + Math.abs(outlyingness[i]))));
        }
        Integer[] order = IntStream.range(0, p).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -Math.max(qualityZ[i], energyZ[i])));
        Set<Integer> expectedDropped = new TreeSet<>(Arrays.asList(order).subList(0, f));
        assertThat(new TreeSet<>(s.dropped().keySet())).isEqualTo(expectedDropped);

        float[][] kept = IntStream.range(0, p).filter(i -> !expectedDropped.contains(i)).mapToObj(i -> g[i])
                .toArray(float[][]::new);
        double[] direct = StreamingRun.run(new FlagRule(OPTIONS), kept, Kernels.scalar(), 64, 2).aggregate();
        Approx.assertClose(StreamingRun.run(new CentredEnergyFlagRule(f, OPTIONS), g, Kernels.scalar(), 64, 2)
                .aggregate(), direct, 1e-9, "FA on the kept workers");
    }

    @Test
    void dropsColludersThatAddIndependentNoiseAndIdenticalOnes() {
        int f = 3;
        Solution noisy = StreamingRun.run(new CentredEnergyFlagRule(f, OPTIONS), noisyLieColluders(15, f, 2000, 7),
                Kernels.best(), 64, 3).solution();
        assertThat(new TreeSet<>(noisy.dropped().keySet())).containsExactly(0, 1, 2);
        Solution identical = StreamingRun.run(new CentredEnergyFlagRule(f, OPTIONS),
                CentredFlagRuleTest.lieColluders(15, f, 2000, 8), Kernels.best(), 64, 3).solution();
        assertThat(new TreeSet<>(identical.dropped().keySet())).containsExactly(0, 1, 2);
        assertThat(identical.dropped().get(0)).contains("(cfae)");
    }

    @Test
    void topEnergyIsLambdaTimesTheSquaredEigenvectorEntries() {
        // G = diag(4, 1, 0) + rank-one coupling: eigenvalues known in closed form for the 2 x 2 block.
        double[] g = {3, 1, 0, 1, 3, 0, 0, 0, 1};
        double[] e = CentredEnergyFlagRule.topEnergy(3, g);
        // Top eigenpair of [[3, 1], [1, 3]]: lambda 4, v = (1, 1) / sqrt 2, so e = (2, 2, 0).
        assertThat(e[0]).isCloseTo(2, within(1e-9));
        assertThat(e[1]).isCloseTo(2, within(1e-9));
        assertThat(e[2]).isCloseTo(0, within(1e-9));
        assertThat(CentredEnergyFlagRule.topEnergy(2, new double[4])).containsExactly(0, 0);
    }
}
