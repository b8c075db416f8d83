package org.flagagg.sim;

/**
 * drop (partial drop): each faulty worker sends its own gradient with some coordinates zeroed, as if
 * parts of the message were lost. Coordinate j of faulty worker b is zeroed when the counter-based
 * uniform u(seed, b, j) < fraction, so each coordinate is dropped with probability {@code fraction}
 * (default 0.1), independently, and chunks drop the same coordinates as whole vectors.
 */
public final class DropAttack implements Attack {

    static final long SALT = 0x44524f5044524f50L;

    private final long seed;
    private final double fraction;

    public DropAttack(long seed, double fraction) {
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("drop: fraction must be in [0, 1], got " + fraction);
        }
        this.seed = seed;
        this.fraction = fraction;
    }

    @Override
    public String name() {
        return "drop";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        for (int b = 0; b < own.length; b++) {
            long key = CounterRandom.streamKey(seed, SALT, b);
            float[] src = own[b];
            float[] dst = out[b];
            for (int i = 0; i < len; i++) {
                dst[i] = CounterRandom.uniform(key, offset + i) < fraction ? 0f : src[i];
            }
        }
    }
}
