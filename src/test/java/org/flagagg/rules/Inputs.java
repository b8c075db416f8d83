package org.flagagg.rules;

import java.util.Random;

/**
 * Seeded test inputs. Honest gradients are mu + noise (a common direction plus worker noise). In the
 * adversarial sets the f Byzantine workers are the FIRST f indices, so lowest-index tie-breaking can
 * never favour an honest worker by accident.
 */
final class Inputs {

    private Inputs() {
    }

    static float[][] gaussian(int p, int n, long seed) {
        Random random = new Random(seed);
        float[] mu = new float[n];
        for (int k = 0; k < n; k++) {
            mu[k] = (float) random.nextGaussian();
        }
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            for (int k = 0; k < n; k++) {
                g[i][k] = (float) (mu[k] + random.nextGaussian());
            }
        }
        return g;
    }

    /** The first f workers send -10 x their own gradient. */
    static float[][] reversed(float[][] honest, int f) {
        float[][] g = copy(honest);
        for (int i = 0; i < f; i++) {
            for (int k = 0; k < g[i].length; k++) {
                g[i][k] = -10f * honest[i][k];
            }
        }
        return g;
    }

    /** The first f workers send 1e6 x their own gradient. */
    static float[][] huge(float[][] honest, int f) {
        float[][] g = copy(honest);
        for (int i = 0; i < f; i++) {
            for (int k = 0; k < g[i].length; k++) {
                g[i][k] = 1e6f * honest[i][k];
            }
        }
        return g;
    }

    /** The first f workers all send the same vector: minus the mean of the honest workers, plus 1. */
    static float[][] colluders(float[][] honest, int f) {
        float[][] g = copy(honest);
        int p = honest.length;
        int n = honest[0].length;
        float[] shared = new float[n];
        for (int k = 0; k < n; k++) {
            double sum = 0;
            for (int i = f; i < p; i++) {
                sum += honest[i][k];
            }
            shared[k] = (float) (-sum / (p - f) + 1.0);
        }
        for (int i = 0; i < f; i++) {
            g[i] = shared.clone();
        }
        return g;
    }

    /**
     * Honest workers that are near-duplicates of one large vector (entries ~1000, differing from it in a
     * few coordinates by a few ulps), so their squared distances (~1e-8) are far below the rounding of
     * G_ii + G_jj - 2 G_ij (~1e-16 x n x 1e6): the Gram-space distances are pure noise and must be clamped.
     * The first f workers send the reversed base.
     */
    static float[][] nearDuplicates(int p, int f, int n, long seed) {
        Random random = new Random(seed);
        float[] base = new float[n];
        for (int k = 0; k < n; k++) {
            base[k] = (float) (1000 * random.nextGaussian());
        }
        float[][] g = new float[p][];
        for (int i = 0; i < p; i++) {
            g[i] = base.clone();
            if (i < f) {
                for (int k = 0; k < n; k++) {
                    g[i][k] = -base[k];
                }
                continue;
            }
            for (int bump = 0; bump < 3; bump++) {
                int k = random.nextInt(n);
                g[i][k] = random.nextBoolean() ? Math.nextUp(g[i][k]) : Math.nextDown(g[i][k]);
            }
        }
        return g;
    }

    static float[][] permute(float[][] g, int[] permutation) {
        float[][] out = new float[g.length][];
        for (int i = 0; i < g.length; i++) {
            out[i] = g[permutation[i]];
        }
        return out;
    }

    static int[] randomPermutation(int p, long seed) {
        Random random = new Random(seed);
        int[] perm = new int[p];
        for (int i = 0; i < p; i++) {
            perm[i] = i;
        }
        for (int i = p - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }

    static float[][] copy(float[][] g) {
        float[][] out = new float[g.length][];
        for (int i = 0; i < g.length; i++) {
            out[i] = g[i].clone();
        }
        return out;
    }

    static double[][] toDouble(float[][] g) {
        double[][] out = new double[g.length][g[0].length];
        for (int i = 0; i < g.length; i++) {
            for (int k = 0; k < g[i].length; k++) {
                out[i][k] = g[i][k];
            }
        }
        return out;
    }
}
