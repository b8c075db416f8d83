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
 *
 * <p>Reproducibility. The partials are added in double-double (each sum keeps its rounding error in a
 * second word, Knuth's TwoSum), so the sum of c partials carries an error of about c^2 u^2 and its final
 * rounding to double does not depend on the order the chunks arrived in: the same data in the same
 * chunks gives the same bits, whichever worker was fastest (tested). Partials stay per chunk, so another
 * chunk size may still differ in the last bits (within the bound above).
 */
public final class GramAccumulator {
    private final int p;
    private final Kernels kernels;
    /** G as the sum hi + lo of two words per entry (double-double): order-independent to the last bit. */
    private final double[] gram;
    private final double[] low;
    private long coordinates;

    public GramAccumulator(int p, Kernels kernels) {
        if (p < 1) {
            throw new IllegalArgumentException("need at least one gradient, got " + p);
        }
        this.p = p;
        this.kernels = kernels;
        this.gram = new double[p * p];
        this.low = new double[p * p];
    }

    public GramAccumulator(int p) {
        this(p, Kernels.best());
    }

    public int size() {
        return p;
    }

    /** Folds one chunk of {@code len} coordinates; rows.length == p, null rows are absent workers. */
    public void fold(float[][] rows, int len) {
        fold(rows, len, Math.max(len, 1), (from, count) -> { });
    }

    /** Fills rows[i][0, count) with coordinates [from, from + count) of the chunk, for every present row i. */
    @FunctionalInterface
    public interface BlockReader {
        void read(int from, int count);
    }

    /**
     * Folds one chunk of {@code len} coordinates that {@code reader} brings into {@code rows} one block of
     * {@code block} coordinates at a time (a multiple of {@link Kernels#TILE}), so that a chunk larger than the
     * cache is read once into a cached block: the same bits as folding the whole chunk at once.
     */
    public void fold(float[][] rows, int len, int block, BlockReader reader) {
        if (rows.length != p) {
            throw new IllegalArgumentException("chunk has " + rows.length + " rows, accumulator has p = " + p);
        }
        if (len < 0) {
            throw new IllegalArgumentException("chunk length must be >= 0, got " + len);
        }
        if (block < len && (block <= 0 || block % Kernels.TILE != 0)) {
            throw new IllegalArgumentException("block must be a positive multiple of " + Kernels.TILE + ", got " + block);
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
        int widest = Math.min(len, block);
        for (int c = 0; c < count; c++) {
            if (present[c].length < widest) {
                int worker = index == null ? c : index[c];
                throw new IllegalArgumentException("row " + worker + " has " + present[c].length
                        + " values, fewer than the " + (block < len ? "block" : "chunk") + " length " + widest);
            }
        }
        double[] partial = new double[count * count];
        for (int from = 0; from < len; from += block) {
            int n = Math.min(block, len - from);
            reader.read(from, n);
            kernels.gramFold(present, count, n, partial);
        }
        synchronized (gram) {
            for (int a = 0; a < count; a++) {
                int i = index == null ? a : index[a];
                for (int b = 0; b < count; b++) {
                    int j = index == null ? b : index[b];
                    addTwoSum(i * p + j, partial[a * count + b]);
                }
            }
            coordinates += len;
        }
    }

    /** gram[at] + low[at] += x, keeping the rounding error of the addition in low (Knuth's TwoSum). */
    private void addTwoSum(int at, double x) {
        double a = gram[at];
        double sum = a + x;
        double bVirtual = sum - a;
        double error = (a - (sum - bVirtual)) + (x - bVirtual);
        gram[at] = sum;
        low[at] += error;
    }

    /**
     * Both words of G (hi, lo), row-major p x p copies: a shard's partial Gram matrix as it travels to the
     * coordinator, who {@link #merge merges} them so the sum keeps double-double precision.
     */
    public double[][] export() {
        synchronized (gram) {
            return new double[][] {gram.clone(), low.clone()};
        }
    }

    /**
     * Adds another accumulator's {@link #export} (of the same p, other coordinates) in double-double: callers
     * merge in a fixed order (shard 1, 2, ...), and the rounded sum is the same bits as folding every chunk
     * into one accumulator, as for any arrival order.
     */
    public void merge(double[] hi, double[] lo) {
        if (hi.length != p * p || lo.length != p * p) {
            throw new IllegalArgumentException("a partial Gram matrix of p = " + p + " has " + p * p + " entries per word, got "
                    + hi.length + " and " + lo.length);
        }
        synchronized (gram) {
            for (int at = 0; at < hi.length; at++) {
                addTwoSum(at, hi[at]);
                low[at] += lo[at];
            }
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
        double[] g = new double[p * p];
        synchronized (gram) {
            for (int at = 0; at < g.length; at++) {
                g[at] = gram[at] + low[at];
            }
        }
        return g;
    }

    /** The rows and columns {@code keep} of G (ascending indices), row-major keep.length x keep.length. */
    public double[] gram(int[] keep) {
        int k = keep.length;
        double[] sub = new double[k * k];
        synchronized (gram) {
            for (int a = 0; a < k; a++) {
                for (int b = 0; b < k; b++) {
                    int at = keep[a] * p + keep[b];
                    sub[a * k + b] = gram[at] + low[at];
                }
            }
        }
        return sub;
    }
}
