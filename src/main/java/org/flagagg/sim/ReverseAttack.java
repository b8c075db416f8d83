package org.flagagg.sim;

/** reverse: each faulty worker sends its own gradient reversed and amplified, -k * own (k = 10 by default). */
public final class ReverseAttack implements Attack {

    private final double k;

    public ReverseAttack(double k) {
        if (!Double.isFinite(k)) {
            throw new IllegalArgumentException("reverse: k must be a finite number, got " + k);
        }
        this.k = k;
    }

    @Override
    public String name() {
        return "reverse";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        double scale = -k;
        for (int b = 0; b < own.length; b++) {
            float[] src = own[b];
            float[] dst = out[b];
            for (int i = 0; i < len; i++) {
                dst[i] = (float) (scale * src[i]);
            }
        }
    }
}
