package org.flagagg.sim;

/** none: the faulty workers send their own true gradients (a baseline with the same worker count). */
public final class NoAttack implements Attack {

    @Override
    public String name() {
        return "none";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        for (int b = 0; b < own.length; b++) {
            System.arraycopy(own[b], 0, out[b], 0, len);
        }
    }
}
