package org.flagagg.rules;

import java.util.Arrays;
import java.util.Comparator;

/**
 * Krum scoring from the Gram matrix, shared by Krum, Multi-Krum and Bulyan. The score of input i over a
 * set S is the sum of the squared distances from g_i to its k nearest other members of S. Squared
 * distances come from G: ||g_i - g_j||^2 = G_ii + G_jj - 2 G_ij, clamped at 0 because for nearly equal
 * gradients the cancellation can make it slightly negative. Ties are broken by index everywhere (nearer
 * neighbour first, then lower index; lower score first, then lower index), so results are deterministic.
 */
final class KrumScores {
    private final int p;
    private final double[] distances;
    /** neighbours[i]: the other inputs ordered by distance from i, then by index. */
    private final int[][] neighbours;

    KrumScores(int p, double[] gram) {
        this.p = p;
        this.distances = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = i + 1; j < p; j++) {
                double d = Math.max(0.0, gram[i * p + i] + gram[j * p + j] - 2 * gram[i * p + j]);
                distances[i * p + j] = d;
                distances[j * p + i] = d;
            }
        }
        this.neighbours = new int[p][];
        for (int i = 0; i < p; i++) {
            int row = i;
            neighbours[i] = orderBy(p, j -> distances[row * p + j], row);
        }
    }

    /** Squared distance between inputs i and j (>= 0). */
    double distance(int i, int j) {
        return distances[i * p + j];
    }

    /**
     * Scores of the members of a set: score[i] = sum of the squared distances from i to its k nearest
     * other members, summed from the nearest; +infinity for non-members. Needs k <= members - 1.
     */
    double[] scores(boolean[] members, int k) {
        double[] scores = new double[p];
        for (int i = 0; i < p; i++) {
            if (!members[i]) {
                scores[i] = Double.POSITIVE_INFINITY;
                continue;
            }
            double sum = 0;
            int taken = 0;
            for (int n = 0; n < neighbours[i].length && taken < k; n++) {
                int j = neighbours[i][n];
                if (members[j]) {
                    sum += distances[i * p + j];
                    taken++;
                }
            }
            scores[i] = sum;
        }
        return scores;
    }

    /** Krum's scores over all p inputs, with p - f - 2 neighbours. */
    double[] scores(int f) {
        boolean[] all = new boolean[p];
        Arrays.fill(all, true);
        return scores(all, p - f - 2);
    }

    /** Index of the lowest score; the lowest index among equal scores. */
    static int argmin(double[] scores) {
        int best = 0;
        for (int i = 1; i < scores.length; i++) {
            if (scores[i] < scores[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The m inputs with the lowest scores (lower index first among equal scores), in ascending index order. */
    static int[] lowest(double[] scores, int m) {
        int[] order = orderBy(scores.length, i -> scores[i], -1);
        int[] chosen = Arrays.copyOf(order, m);
        Arrays.sort(chosen);
        return chosen;
    }

    private interface Key {
        double of(int i);
    }

    /** Indices 0..count-1 except {@code skip}, sorted by key then by index. Solve-stage only (boxes). */
    private static int[] orderBy(int count, Key key, int skip) {
        Integer[] boxed = new Integer[skip < 0 ? count : count - 1];
        for (int i = 0, k = 0; i < count; i++) {
            if (i != skip) {
                boxed[k++] = i;
            }
        }
        Arrays.sort(boxed, Comparator.<Integer>comparingDouble(key::of).thenComparingInt(i -> i));
        int[] order = new int[boxed.length];
        for (int k = 0; k < order.length; k++) {
            order[k] = boxed[k];
        }
        return order;
    }
}
