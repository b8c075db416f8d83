package org.flagagg.sim;

/**
 * lie, "A Little Is Enough" (Baruch, Baruch and Goldberg, NeurIPS 2019). All f colluders send the same
 * vector, coordinate by coordinate {@code mu_j - z * sigma_j}, where mu_j and sigma_j are the mean and the
 * sample standard deviation (divisor n_h - 1) of the n_h honest workers' values at coordinate j. The
 * attack is omniscient: the colluders see every honest gradient of the round (the {@code honest} rows).
 *
 * <p>z is the paper's z_max unless overridden: with p = n_h + f workers, the attackers need
 * s = floor(p / 2 + 1) - f honest "supporters" whose values lie farther from the mean than theirs, so
 * z = Phi^-1((p - s) / p). With f >= 1, s <= p / 2, hence (p - s) / p >= 1/2 and z >= 0: the colluders
 * sit z standard deviations below the honest mean. When f is a majority, s <= 0 and the formula gives
 * Phi^-1(>= 1) = infinity; s is clamped to [1, p - 1] so z stays finite (z = Phi^-1((p - 1) / p)).
 * With one honest worker sigma is 0 and the colluders send that worker's values.
 */
public final class LittleIsEnoughAttack implements Attack {

    private final double zOverride;

    /** @param zOverride the z to use, or NaN for the paper's z_max from p and f */
    public LittleIsEnoughAttack(double zOverride) {
        if (Double.isInfinite(zOverride)) {
            throw new IllegalArgumentException("lie: z must be a finite number (or NaN for z_max), got " + zOverride);
        }
        this.zOverride = zOverride;
    }

    @Override
    public String name() {
        return "lie";
    }

    /** The number of supporters s = floor(p / 2 + 1) - f before clamping (may be <= 0). */
    public static int supporters(int p, int f) {
        return p / 2 + 1 - f;
    }

    /**
     * The paper's z_max = Phi^-1((p - s) / p), s = floor(p / 2 + 1) - f clamped to [1, p - 1].
     *
     * @param p all workers, honest and faulty (>= 2)
     * @param f faulty workers (1 <= f < p)
     */
    public static double zMax(int p, int f) {
        if (p < 2 || f < 1 || f >= p) {
            throw new IllegalArgumentException("lie needs p >= 2 workers and 1 <= f < p faulty ones (p = " + p
                    + ", f = " + f + ")");
        }
        int s = Math.max(1, Math.min(p - 1, supporters(p, f)));
        return NormalQuantile.inverseCdf((double) (p - s) / p);
    }

    /** The z used with {@code honestCount} honest and {@code faultyCount} faulty workers. */
    public double z(int honestCount, int faultyCount) {
        return Double.isNaN(zOverride) ? zMax(honestCount + faultyCount, faultyCount) : zOverride;
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        int f = own.length;
        if (f == 0) {
            return;
        }
        double z = z(honest.length, f);
        double[] stats = new double[2];
        for (int i = 0; i < len; i++) {
            honestStats(honest, i, stats);
            float v = (float) (stats[0] - z * stats[1]);
            for (int b = 0; b < f; b++) {
                out[b][i] = v;
            }
        }
    }

    /**
     * The honest values' mean (stats[0]) and sample standard deviation (stats[1], divisor n_h - 1; 0 for
     * one honest worker) at coordinate i, in two passes in double.
     */
    static void honestStats(float[][] honest, int i, double[] stats) {
        int n = honest.length;
        double sum = 0;
        for (int h = 0; h < n; h++) {
            sum += honest[h][i];
        }
        double mean = sum / n;
        double sq = 0;
        for (int h = 0; h < n; h++) {
            double dev = honest[h][i] - mean;
            sq += dev * dev;
        }
        stats[0] = mean;
        stats[1] = n > 1 ? Math.sqrt(sq / (n - 1)) : 0;
    }
}
