package org.flagagg.sim;

/**
 * random: each faulty worker sends noise unrelated to any gradient, uniform in [low, high) (default
 * [0, 1), like torch.rand in the authors' code) or gaussian(mean, std). The value at coordinate j of
 * faulty worker b depends only on (seed, b, j), so chunks give the same values as whole vectors.
 */
public final class RandomAttack implements Attack {

    static final long SALT = 0x52414e444f4d4e5aL;

    private final long seed;
    private final AttackConfig.Noise noise;

    public RandomAttack(long seed, AttackConfig.Noise noise) {
        if (noise == null) {
            throw new IllegalArgumentException("random: noise must not be null");
        }
        this.seed = seed;
        this.noise = noise;
    }

    @Override
    public String name() {
        return "random";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        boolean gaussian = noise.distribution() == AttackConfig.Distribution.GAUSSIAN;
        for (int b = 0; b < out.length; b++) {
            long key = CounterRandom.streamKey(seed, SALT, b);
            float[] dst = out[b];
            if (gaussian) {
                double mean = noise.mean();
                double std = noise.std();
                for (int i = 0; i < len; i++) {
                    double u = CounterRandom.openUniform(key, offset + i);
                    dst[i] = (float) (mean + std * NormalQuantile.inverseCdf(u));
                }
            } else {
                double low = noise.low();
                double width = noise.high() - noise.low();
                for (int i = 0; i < len; i++) {
                    dst[i] = (float) (low + width * CounterRandom.uniform24(key, offset + i));
                }
            }
        }
    }
}
