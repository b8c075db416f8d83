package org.flagagg.sim;

/**
 * duplicate: every faulty worker sends a copy of one honest worker's gradient (index {@code target}),
 * so that worker's vote counts f + 1 times.
 */
public final class DuplicateAttack implements Attack {

    private final int target;

    public DuplicateAttack(int target) {
        if (target < 0) {
            throw new IllegalArgumentException("duplicate: target must be an honest worker index >= 0, got " + target);
        }
        this.target = target;
    }

    @Override
    public String name() {
        return "duplicate";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        if (target >= honest.length) {
            throw new IllegalArgumentException("duplicate: target " + target + " is not an honest worker (there are "
                    + honest.length + ", indices 0.." + (honest.length - 1) + ")");
        }
        float[] src = honest[target];
        for (int b = 0; b < out.length; b++) {
            System.arraycopy(src, 0, out[b], 0, len);
        }
    }
}
