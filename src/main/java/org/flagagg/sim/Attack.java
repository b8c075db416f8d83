package org.flagagg.sim;

/**
 * A Byzantine behaviour: what the f faulty workers send instead of their true gradients. Deterministic
 * for a seed, and the same whether applied to whole vectors or chunk by chunk (the chunk form sees the
 * honest workers' values at the same coordinates, so colluding attacks work on streams too).
 */
public interface Attack {

    /** Canonical lower-case name (see {@link Attacks#NAMES}). */
    String name();

    /**
     * Writes the faulty workers' values for coordinates [offset, offset + len).
     *
     * @param offset  index of the first coordinate of this chunk in the whole gradient
     * @param honest  the honest workers' values at these coordinates (honest.length >= 1), [0, len)
     * @param own     the faulty workers' own true values at these coordinates, [0, len)
     * @param out     out[b][0, len) receives faulty worker b's values; out.length == own.length
     */
    void apply(long offset, float[][] honest, float[][] own, int len, float[][] out);

    /**
     * Applies the attack to whole gradients: offset 0, every coordinate at once.
     *
     * @param honest the honest workers' gradients, all of one length d (at least one)
     * @param own    the faulty workers' true gradients, each of length d (may be empty: no faulty worker)
     * @return the faulty workers' gradients, new arrays of length d, one per row of {@code own}
     */
    default float[][] applyWhole(float[][] honest, float[][] own) {
        if (honest == null || honest.length == 0) {
            throw new IllegalArgumentException(name() + ": needs at least one honest gradient, got none");
        }
        int d = honest[0].length;
        for (int h = 0; h < honest.length; h++) {
            if (honest[h].length != d) {
                throw new IllegalArgumentException(name() + ": honest gradient " + h + " has length "
                        + honest[h].length + ", expected " + d);
            }
        }
        for (int b = 0; b < own.length; b++) {
            if (own[b].length != d) {
                throw new IllegalArgumentException(name() + ": faulty gradient " + b + " has length "
                        + own[b].length + ", expected " + d);
            }
        }
        float[][] out = new float[own.length][d];
        apply(0, honest, own, d, out);
        return out;
    }
}
