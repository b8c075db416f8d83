package org.flagagg.sim;

/**
 * lienoise: the lie shift plus independent noise per colluder, the attack that hides colluders from
 * detectors of one shared deviation (the hole of cfa in the note fa-under-attack.md). Faulty worker b
 * sends, at coordinate j, {@code mu_j - z sigma_j + std * sigma_j * xi_b,j}: mu, sigma and z exactly as
 * {@link LittleIsEnoughAttack} (z_max unless given), xi_b,j standard normal from the counter stream of
 * (seed, b, j), so the colluders spread around the shifted point as much as honest workers spread around
 * the mean (for std = 1) and chunks give the same values as whole vectors.
 */
public final class LieNoiseAttack implements Attack {

    static final long SALT = 0x4c49454e4f495345L;

    private final LittleIsEnoughAttack lie;
    private final long seed;
    private final double std;

    /**
     * @param zOverride the z of the shift, or NaN for z_max
     * @param std       the noise's standard deviation in units of sigma_j, finite and >= 0
     */
    public LieNoiseAttack(long seed, double zOverride, double std) {
        if (!Double.isFinite(std) || std < 0) {
            throw new IllegalArgumentException("lienoise: std must be finite and >= 0, got " + std);
        }
        this.lie = new LittleIsEnoughAttack(zOverride);
        this.seed = seed;
        this.std = std;
    }

    @Override
    public String name() {
        return "lienoise";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        int f = own.length;
        if (f == 0) {
            return;
        }
        double z = lie.z(honest.length, f);
        long[] keys = new long[f];
        for (int b = 0; b < f; b++) {
            keys[b] = CounterRandom.streamKey(seed, SALT, b);
        }
        double[] stats = new double[2];
        for (int i = 0; i < len; i++) {
            LittleIsEnoughAttack.honestStats(honest, i, stats);
            double shifted = stats[0] - z * stats[1];
            double spread = std * stats[1];
            for (int b = 0; b < f; b++) {
                double xi = NormalQuantile.inverseCdf(CounterRandom.openUniform(keys[b], offset + i));
                out[b][i] = (float) (shifted + spread * xi);
            }
        }
    }
}
