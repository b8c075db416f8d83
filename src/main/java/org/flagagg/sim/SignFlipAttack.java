package org.flagagg.sim;

/** signflip: each faulty worker sends the negation of its own gradient, -own. */
public final class SignFlipAttack implements Attack {

    @Override
    public String name() {
        return "signflip";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        for (int b = 0; b < own.length; b++) {
            float[] src = own[b];
            float[] dst = out[b];
            for (int i = 0; i < len; i++) {
                dst[i] = -src[i];
            }
        }
    }
}
