package org.flagagg.fa;

import org.flagagg.kernels.Kernels;

/**
 * Folds chunks of p gradients into their p x p Gram matrix G_ij = g_i . g_j, in any chunk order.
 *
 * <p>A chunk is one coordinate range of the gradients: rows[i] holds worker i's values for that range, or
 * null when worker i has no data there (its pairs are skipped, so its row of G is then incomplete and the
 * caller must drop it). Each range must be folded once. Thread-safe: folds may run concurrently; only the
 * final addition is serialised.
 *
 * <p>Error bound. Every product g_ik g_jk of two floats is exact in double, so G_ij is a sum of exact
 * terms and only the additions round. Each chunk is folded by {@link Kernels#gramFold} into a private
 * partial (every pair's chain of additions is at most T/2 + 1 long per tile of T = 2048 coordinates, then
 * one addition per tile), and the partials are added to G one chunk after the other. Hence, with m the
 * longest chunk, c the number of chunks folded, u = 2^-53, S_ij = sum_k |g_ik g_jk| and
 * h = T/2 + 1 + ceil(m / T) + c,
 * <pre>  |G_ij - exact_ij| &lt;= h u / (1 - h u) * S_ij     (about 1.3e-13 S_ij for m = 65536, c = 100)</pre>
 * whatever the chunk sizes and order; two chunkings differ by at most the sum of their two bounds.
 * (For any summation order whatsoever the bound holds with h = n - 1, n = total coordinates.)
 */
public final class GramAccumulator {
    private final int p;
    private final Kernels kernels;
    private final double[] gram;
    private long coordinates;

    public GramAccumulator(int p, Kernels kernels) {
        if (p < 1) {
            throw new IllegalArgumentException("need at least one gradient, got " + p);
        }
        this.p = p;
        this.kernels = kernels;
        this.gram = new double[p * p];
    }

    public GramAccumulator(int p) {
        this(p, Kernels.best());
    }

    public int size() {
        return p;
    }

    /** Folds one chunk of {@code len} coordinates; rows.length == p, null rows are absent workers. */
    public void fold(float[][] rows, int len) {
        if (rows.length != p) {
            throw new IllegalArgumentException("chunk has " + rows.length + " rows, accumulator has p = " + p);
        }
        if (len < 0) {
            throw new IllegalArgumentException("chunk length must be >= 0, got " + len);
        }
        int count = 0;
        float[][] present = rows;
        int[] index = null;
        for (float[] row : rows) {
            if (row != null) {
                count++;
            }
        }
        if (count != p) {
            present = new float[count][];
            index = new int[count];
            for (int i = 0, c = 0; i < p; i++) {
                if (rows[i] != null) {
                    present[c] = rows[i];
                    index[c++] = i;
                }
            }
        }
        for (int c = 0; c < count; c++) {
            if (present[c].length < len) {
                int worker = index == null ? c : index[c];
                throw new IllegalArgumentException("row " + worker + " has " + present[c].length
                        + " values, fewer than the chunk length " + len);
            }
        }
        double[] partial = new double[count * count];
        kernels.gramFold(present, count, len, partial);
        synchronized (gram) {
            for (int a = 0; a < count; a++) {
                int i = index == null ? a : index[a];
                for (int b = 0; b < count; b++) {
                    int j = index == null ? b : index[b];
                    gram[i * p + j] += partial[a * count + b];
                }
            }
            coordinates += len;
        }
    }

    /** Coordinates folded so far (over all chunks). */
    public long coordinates() {
        synchronized (gram) {
            return coordinates;
        }
    }

    /** A copy of G, row-major p x p. */
    public double[] gram() {
        synchronized (gram) {
            return gram.clone();
        }
    }

    /** The rows and columns {@code keep} of G (ascending indices), row-major keep.length x keep.length. */
    public double[] gram(int[] keep) {
        int k = keep.length;
        double[] sub = new double[k * k];
        synchronized (gram) {
            for (int a = 0; a < k; a++) {
                for (int b = 0; b < k; b++) {
                    sub[a * k + b] = gram[keep[a] * p + keep[b]];
                }
            }
        }
        return sub;
    }
}
