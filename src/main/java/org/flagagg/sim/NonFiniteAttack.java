package org.flagagg.sim;

/**
 * nan: NaN/Inf injection, a faulty worker whose arithmetic blew up. Coordinate j of faulty worker b is
 * replaced by the mode's value (NaN, +Inf or -Inf) when the counter-based uniform u(seed, b, j) <
 * fraction, and keeps the worker's own value otherwise. With the default fraction 1 every value is
 * replaced (u < 1 always), so no random numbers are drawn.
 */
public final class NonFiniteAttack implements Attack {

    static final long SALT = 0x4e414e4e414e4e41L;

    private final long seed;
    private final AttackConfig.NonFinite mode;
    private final double fraction;

    public NonFiniteAttack(long seed, AttackConfig.NonFinite mode, double fraction) {
        if (mode == null) {
            throw new IllegalArgumentException("nan: mode must be nan, inf or -inf");
        }
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("nan: fraction must be in [0, 1], got " + fraction);
        }
        this.seed = seed;
        this.mode = mode;
        this.fraction = fraction;
    }

    @Override
    public String name() {
        return "nan";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        float value = mode.value;
        for (int b = 0; b < own.length; b++) {
            float[] src = own[b];
            float[] dst = out[b];
            if (fraction >= 1) {
                java.util.Arrays.fill(dst, 0, len, value);
                continue;
            }
            long key = CounterRandom.streamKey(seed, SALT, b);
            for (int i = 0; i < len; i++) {
                dst[i] = CounterRandom.uniform(key, offset + i) < fraction ? value : src[i];
            }
        }
    }
}
