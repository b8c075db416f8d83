package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.flagagg.fa.FlagOptions;
import org.flagagg.rules.RuleConfig;
import org.flagagg.rules.Rules;
import org.flagagg.sim.EmpireAttack;
import org.flagagg.sim.LittleIsEnoughAttack;
import org.junit.jupiter.api.Test;

/** The adaptive attack's choice against the harm of every candidate, computed here on whole vectors. */
class AdaptiveAttackTest {
    static final int F = 3;
    static final int H = 9;
    static final int D = 400;

    static float[][] gradients(int rows, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[][] g = new float[rows][D];
        for (float[] row : g) {
            for (int k = 0; k < D; k++) {
                row[k] = (float) (0.3 + random.nextGaussian());
            }
        }
        return g;
    }

    static double[] honestMean(float[][] honest) {
        double[] mean = new double[D];
        for (float[] g : honest) {
            for (int k = 0; k < D; k++) {
                mean[k] += g[k] / (double) honest.length;
            }
        }
        return mean;
    }

    /** The round as the rule sees it: colluders (slots 0..f-1), then the honest workers. */
    static float[][] round(float[][] colluders, float[][] honest) {
        float[][] all = new float[colluders.length + honest.length][];
        System.arraycopy(colluders, 0, all, 0, colluders.length);
        System.arraycopy(honest, 0, all, colluders.length, honest.length);
        return all;
    }

    /** Coordinate-wise median, written out (the mean of the two middle values for an even count). */
    static double[] median(float[][] rows) {
        double[] out = new double[D];
        double[] column = new double[rows.length];
        for (int k = 0; k < D; k++) {
            for (int i = 0; i < rows.length; i++) {
                column[i] = rows[i][k];
            }
            Arrays.sort(column);
            int n = column.length;
            out[k] = n % 2 == 1 ? column[n / 2] : 0.5 * (column[n / 2 - 1] + column[n / 2]);
        }
        return out;
    }

    static float[][] colluders(boolean lie, double scale, float[][] honest, float[][] own) {
        float[][] out = new float[F][D];
        (lie ? new LittleIsEnoughAttack(scale) : new EmpireAttack(scale)).apply(0, honest, own, D, out);
        return out;
    }

    /** The first scale of the grid with the largest harm. */
    static double mostHarmful(java.util.List<Double> grid, java.util.function.DoubleUnaryOperator harm) {
        double best = Double.NEGATIVE_INFINITY;
        double scale = Double.NaN;
        for (double s : grid) {
            double h = harm.applyAsDouble(s);
            if (h > best) {
                best = h;
                scale = s;
            }
        }
        return scale;
    }

    @Test
    void againstTheMeanLiePicksTheLargestZAndIpmTheLargestEps() {
        // The mean moves by f z sigma / p and its inner product with mu falls as (h - f eps) / p: both monotone.
        float[][] honest = gradients(H, 1);
        float[][] own = gradients(F, 2);
        var mean = Rules.create(RuleConfig.of("mean"));
        float[][] out = new float[F][D];
        assertThat(AdaptiveAttack.parse("adaptive:lie", mean).apply(honest, own, out)).isEqualTo(8.0);
        assertThat(out).isDeepEqualTo(colluders(true, 8.0, honest, own));
        assertThat(AdaptiveAttack.parse(" Adaptive:IPM ", mean).apply(honest, own, out)).isEqualTo(10.0);
        assertThat(out).isDeepEqualTo(colluders(false, 10.0, honest, own));
    }

    @Test
    void againstTheMedianItPicksTheScaleThatHarmsTheMedianMost() {
        var median = Rules.create(RuleConfig.of("median"));
        for (long seed = 3; seed < 6; seed++) {
            float[][] honest = gradients(H, seed);
            float[][] own = gradients(F, seed + 100);
            double[] mu = honestMean(honest);
            double lieScale = mostHarmful(AdaptiveAttack.Z, z -> {
                double[] agg = median(round(colluders(true, z, honest, own), honest));
                double distance = 0;
                for (int k = 0; k < D; k++) {
                    distance += (agg[k] - mu[k]) * (agg[k] - mu[k]);
                }
                return distance;
            });
            double ipmScale = mostHarmful(AdaptiveAttack.EPS, eps -> {
                double[] agg = median(round(colluders(false, eps, honest, own), honest));
                double inner = 0;
                for (int k = 0; k < D; k++) {
                    inner += agg[k] * mu[k];
                }
                return -inner;
            });
            float[][] out = new float[F][D];
            assertThat(AdaptiveAttack.parse("adaptive:lie", median).apply(honest, own, out)).as("seed %d", seed)
                    .isEqualTo(lieScale);
            assertThat(AdaptiveAttack.parse("adaptive:ipm", median).apply(honest, own, out)).as("seed %d", seed)
                    .isEqualTo(ipmScale);
        }
    }

    @Test
    void againstCfaItStillPicksAScaleOfTheGrid() {
        // cfa drops the identical colluders whatever the scale: every candidate leaves FA on the honest; ties
        // go to the first scale.
        var cfa = Rules.create(new RuleConfig("cfa", F, 0, FlagOptions.DEFAULTS));
        float[][] out = new float[F][D];
        assertThat(AdaptiveAttack.parse("adaptive:lie", cfa).apply(gradients(H, 7), gradients(F, 8), out))
                .isEqualTo(AdaptiveAttack.Z.get(0));
    }

    @Test
    void aDivergedRoundFallsBackToTheFirstScale() {
        float[][] honest = gradients(H, 9);
        honest[2][5] = Float.NaN;
        float[][] out = new float[F][D];
        assertThat(AdaptiveAttack.parse("adaptive:ipm", Rules.create(RuleConfig.of("flag"))).apply(honest,
                gradients(F, 10), out)).isEqualTo(AdaptiveAttack.EPS.get(0));
    }

    @Test
    void anUnknownKindIsAClearError() {
        assertThat(AdaptiveAttack.isAdaptive("adaptive:lie")).isTrue();
        assertThat(AdaptiveAttack.isAdaptive("lie")).isFalse();
        assertThatThrownBy(() -> AdaptiveAttack.parse("adaptive:empire", Rules.create(RuleConfig.of("mean"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown adaptive attack 'adaptive:empire' (adaptive:lie or adaptive:ipm)");
    }
}
