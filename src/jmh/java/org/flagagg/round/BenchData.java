package org.flagagg.round;

import java.util.SplittableRandom;

/** Synthetic gradients for benchmarks: 3/4 of the workers share a direction, the rest are noise. */
final class BenchData {
    private BenchData() {
    }

    static float[][] gradients(int p, int n) {
        SplittableRandom random = new SplittableRandom(42);
        float[] direction = new float[n];
        for (int k = 0; k < n; k++) {
            direction[k] = (float) random.nextGaussian();
        }
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            boolean honest = i < 3 * p / 4;
            for (int k = 0; k < n; k++) {
                g[i][k] = (honest ? direction[k] : 0f) + (float) random.nextGaussian() * 0.5f;
            }
        }
        return g;
    }
}
