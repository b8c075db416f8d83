package org.flagagg.fa;

import java.util.Random;

/** Seeded float32 gradient sets for the FA tests, and the plain double-loop algebra around them. */
final class Workers {

    /** The defaults with the authors' output formula: the tests of the paper's math pass it explicitly. */
    static final FlagOptions PAPER = FlagOptions.DEFAULTS.withScale(FlagOptions.Scale.PAPER);

    private Workers() {
    }

    static float[][] gaussian(long seed, int p, int n, double scale) {
        Random random = new Random(seed);
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            for (int t = 0; t < n; t++) {
                g[i][t] = (float) (scale * random.nextGaussian());
            }
        }
        return g;
    }

    /** {@code honest} noisy copies of one direction, then {@code p - honest} unrelated larger ones. */
    static float[][] clustered(long seed, int p, int honest, int n) {
        Random random = new Random(seed);
        double[] base = new double[n];
        for (int t = 0; t < n; t++) {
            base[t] = random.nextGaussian();
        }
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            for (int t = 0; t < n; t++) {
                g[i][t] = (float) (i < honest ? base[t] + 0.3 * random.nextGaussian() : 3 * random.nextGaussian());
            }
        }
        return g;
    }

    /** Four random workers, then an exact duplicate and three scaled duplicates (x2, x3, x-0.5). */
    static float[][] rankDeficient(long seed, int n) {
        float[][] base = gaussian(seed, 4, n, 1);
        float[][] g = new float[8][];
        System.arraycopy(base, 0, g, 0, 4);
        g[4] = base[0].clone();
        g[5] = scaled(base[1], 2);
        g[6] = scaled(base[2], 3);
        g[7] = scaled(base[3], -0.5f);
        return g;
    }

    /**
     * Six honest workers around one direction, one reversing their mean x10, one with entries ~1e15
     * (finite in float, squared norm ~1e33 in double), one with entries ~1e-20, and one reversing honest
     * worker 0 x10. Both reversed ones are float-rounded copies of vectors in the honest span.
     */
    static float[][] adversarial(long seed, int n) {
        float[][] g = clustered(seed, 6, 6, n);
        float[][] out = new float[10][];
        System.arraycopy(g, 0, out, 0, 6);
        float[] reversed = new float[n];
        for (int t = 0; t < n; t++) {
            double mean = 0;
            for (int i = 0; i < 6; i++) {
                mean += g[i][t];
            }
            reversed[t] = (float) (-10 * mean / 6);
        }
        out[6] = reversed;
        out[7] = gaussian(seed + 1, 1, n, 1e15)[0];
        out[8] = gaussian(seed + 2, 1, n, 1e-20)[0];
        out[9] = scaled(g[0], -10);
        return out;
    }

    /**
     * The case that exposed the objective's old residual floor: eight Gaussian workers and one uniform in
     * [0, 1), whose common offset makes it the one a low-rank flag captures (1 - q_i reaches ~1e-11).
     */
    static float[][] oneUniform(long seed, int n) {
        float[][] g = gaussian(seed, 9, n, 1);
        java.util.Random random = new java.util.Random(seed + 1);
        for (int t = 0; t < n; t++) {
            g[8][t] = random.nextFloat();
        }
        return g;
    }

    /** p workers spread over only {@code directions} distinct directions (scaled copies, signs included). */
    static float[][] fewDirections(long seed, int p, int directions, int n) {
        float[][] base = gaussian(seed, directions, n, 1);
        float[] factors = {1, 2, -0.5f, 4, -3};
        float[][] g = new float[p][];
        for (int i = 0; i < p; i++) {
            g[i] = scaled(base[i % directions], factors[(i / directions) % factors.length]);
        }
        return g;
    }

    /** Five random workers, then g0 + g1 and g2 - 0.5 g3: combinations of others, rounded to float. */
    static float[][] combinations(long seed, int n) {
        float[][] g = new float[7][];
        System.arraycopy(gaussian(seed, 5, n, 1), 0, g, 0, 5);
        g[5] = new float[n];
        g[6] = new float[n];
        for (int t = 0; t < n; t++) {
            g[5][t] = g[0][t] + g[1][t];
            g[6][t] = g[2][t] - 0.5f * g[3][t];
        }
        return g;
    }

    /**
     * Six workers in the span of three directions, each pushed off it by a random direction of relative
     * size 1e-5, 1e-4 or 1e-3 (so 1 - q_i for the 3-flag is ~1e-10, 1e-8, 1e-6), and two unrelated ones.
     */
    static float[][] nearFlag(long seed, int n) {
        float[][] base = gaussian(seed, 3, n, 1);
        float[][] off = gaussian(seed + 1, 6, n, 1);
        java.util.Random random = new java.util.Random(seed + 2);
        double[] sizes = {1e-5, 1e-4, 1e-3};
        float[][] g = new float[8][];
        for (int i = 0; i < 6; i++) {
            double[] mix = {random.nextGaussian(), random.nextGaussian(), random.nextGaussian()};
            double size = sizes[i % 3];
            g[i] = new float[n];
            for (int t = 0; t < n; t++) {
                double inFlag = mix[0] * base[0][t] + mix[1] * base[1][t] + mix[2] * base[2][t];
                g[i][t] = (float) (inFlag + size * off[i][t]);
            }
        }
        float[][] others = gaussian(seed + 3, 2, n, 1);
        g[6] = others[0];
        g[7] = others[1];
        return g;
    }

    static float[] scaled(float[] v, float factor) {
        float[] out = new float[v.length];
        for (int t = 0; t < v.length; t++) {
            out[t] = v[t] * factor;
        }
        return out;
    }

    /** G_ij = g_i . g_j in double, row-major. */
    static double[] gram(float[][] g) {
        int p = g.length;
        double[] gram = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                double sum = 0;
                for (int t = 0; t < g[i].length; t++) {
                    sum += (double) g[i][t] * g[j][t];
                }
                gram[i * p + j] = sum;
            }
        }
        return gram;
    }

    /** sum_i c_i g_i in double. */
    static double[] combine(double[] c, float[][] g) {
        double[] a = new double[g[0].length];
        for (int i = 0; i < g.length; i++) {
            for (int t = 0; t < a.length; t++) {
                a[t] += c[i] * g[i][t];
            }
        }
        return a;
    }

    static double norm(double[] v) {
        double s = 0;
        for (double d : v) {
            s += d * d;
        }
        return Math.sqrt(s);
    }

    static double distance(double[] a, double[] b) {
        double s = 0;
        for (int t = 0; t < a.length; t++) {
            s += (a[t] - b[t]) * (a[t] - b[t]);
        }
        return Math.sqrt(s);
    }
}
