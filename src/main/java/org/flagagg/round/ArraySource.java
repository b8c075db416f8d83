package org.flagagg.round;

/** Gradients held in memory, one float[] per worker, all of one length. */
public final class ArraySource implements GradientSource {
    private final float[][] gradients;

    public ArraySource(float[][] gradients) {
        if (gradients.length == 0) {
            throw new IllegalArgumentException("no gradients");
        }
        for (float[] g : gradients) {
            if (g.length != gradients[0].length) {
                throw new IllegalArgumentException("gradients differ in length: " + g.length + " vs " + gradients[0].length);
            }
        }
        this.gradients = gradients;
    }

    @Override
    public int workers() {
        return gradients.length;
    }

    @Override
    public long dimension() {
        return gradients[0].length;
    }

    @Override
    public void read(int worker, long offset, int len, float[] dst) {
        System.arraycopy(gradients[worker], Math.toIntExact(offset), dst, 0, len);
    }
}
