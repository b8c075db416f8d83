package org.flagagg.sim;

import java.util.Arrays;

/** zero: the faulty workers send all-zero gradients (a crashed or silent worker that still answers). */
public final class ZeroAttack implements Attack {

    @Override
    public String name() {
        return "zero";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        for (int b = 0; b < out.length; b++) {
            Arrays.fill(out[b], 0, len, 0f);
        }
    }
}
