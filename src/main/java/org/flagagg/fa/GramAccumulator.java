package org.flagagg.fa;

import org.flagagg.kernels.Kernels;

/**
 * Folds chunks of p gradients into their p x p Gram matrix G_ij = g_i . g_j, in any chunk order.
 *
 * <p>A chunk is one coordinate range of the gradients: rows[i] holds worker i's values for that range, or
 * null when worker i has no data there (its pairs are skipped, so its row of G is then incomplete and the
 * caller must drop it). Each range must be folded once. Every chunk is summed into a private partial in
 * double and then added to G, so the result depends on the chunking only through the order of those
 * additions: |G_chunked - G_whole| stays within a few ulps times (number of chunks) times
 * sum_k |g_ik g_jk| (tested at 1e-12 relative for the sizes we use). Thread-safe: folds may run
 * concurrently; only the final addition is serialised.
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
            throw new IllegalArgumentException("chunk has " + rows.length + " rows, accumulator has " + p);
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
                throw new IllegalArgumentException("row shorter than the chunk length " + len);
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
}
