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
}
