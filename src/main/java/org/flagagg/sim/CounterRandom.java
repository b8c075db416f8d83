package org.flagagg.sim;

/**
 * Counter-based random numbers: the value for (seed, worker, coordinate) is a pure function of those
 * three, so an attack gives the same bits whether a gradient arrives whole or in chunks, in any order.
 *
 * <p>A stream key is derived from (seed, salt, worker); the value at coordinate {@code index} is
 * SplitMix64's output at position {@code index}: {@code mix64(key + (index + 1) * GOLDEN_GAMMA)}, i.e.
 * exactly the {@code index}-th {@code nextLong()} of {@code new java.util.SplittableRandom(key)}, without
 * walking the sequence.
 */
final class CounterRandom {

    static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
    private static final double DOUBLE_UNIT = 0x1.0p-53;
    private static final double FLOAT_UNIT = 0x1.0p-24;

    private CounterRandom() {
    }

    /** Stafford's variant 13 of the MurmurHash3 finaliser, as SplittableRandom uses. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /**
     * The key of faulty worker {@code worker}'s stream. The salt separates attacks that share a seed
     * (the drop mask and the NaN mask are different coin flips).
     */
    static long streamKey(long seed, long salt, int worker) {
        return mix64(mix64(seed ^ salt) + (worker + 1L) * GOLDEN_GAMMA);
    }

    /** 64 random bits at coordinate {@code index} of the stream {@code key}. */
    static long bits(long key, long index) {
        return mix64(key + (index + 1) * GOLDEN_GAMMA);
    }

    /** Uniform in [0, 1) on a 2^-53 grid (what SplittableRandom.nextDouble() would give). */
    static double uniform(long key, long index) {
        return (bits(key, index) >>> 11) * DOUBLE_UNIT;
    }

    /** Uniform in (0, 1): the midpoints of the 2^-53 grid, so an inverse CDF never sees 0 or 1. */
    static double openUniform(long key, long index) {
        return ((bits(key, index) >>> 11) + 0.5) * DOUBLE_UNIT;
    }

    /** Uniform in [0, 1) on a 2^-24 grid: exactly representable as float, so never rounds up to 1. */
    static double uniform24(long key, long index) {
        return (bits(key, index) >>> 40) * FLOAT_UNIT;
    }
}
