package org.flagagg.rules;

import java.util.ArrayList;
import java.util.List;

/**
 * A fixed sequence of compare-exchanges that sorts p values (Batcher's odd-even merge sort), applied to
 * a block of coordinates at once: row r of the block holds wire r's values at consecutive coordinates, and
 * each compare-exchange is a min/max over two rows, a plain loop the JIT vectorises across coordinates.
 * This replaces a general sort per coordinate; p is fixed for a round, so the network is built once.
 *
 * <p>{@link #placing} drops the compare-exchanges that cannot reach the sorted positions a reduction
 * reads (the median needs only the middle ones). Math.min/max order -0.0 before +0.0 like Arrays.sort
 * does, so the sorted rows hold exactly the values, bit for bit, that sorting each coordinate would give.
 * Values are finite (non-finite inputs are rejected before any rule runs). Immutable, thread-safe.
 */
final class SortingNetwork {
    private final int p;
    /** Compare-exchange c puts the smaller value on wire lo[c] and the larger on hi[c] (lo[c] < hi[c]). */
    private final int[] lo;
    private final int[] hi;

    private SortingNetwork(int p, int[] lo, int[] hi) {
        this.p = p;
        this.lo = lo;
        this.hi = hi;
    }

    /**
     * The network that places sorted positions [from, to) of p values correctly (0 <= from < to <= p):
     * Batcher's network without the compare-exchanges that no wire in [from, to) depends on.
     */
    static SortingNetwork placing(int p, int from, int to) {
        if (p < 1 || from < 0 || to > p || from >= to) {
            throw new IllegalArgumentException("positions [" + from + ", " + to + ") of " + p + " values");
        }
        List<int[]> all = batcher(p);
        // Walk backwards: a compare-exchange matters if either wire is still needed, and then both are.
        boolean[] needed = new boolean[p];
        for (int w = from; w < to; w++) {
            needed[w] = true;
        }
        List<int[]> kept = new ArrayList<>(); // last first
        for (int c = all.size() - 1; c >= 0; c--) {
            int[] pair = all.get(c);
            if (needed[pair[0]] || needed[pair[1]]) {
                needed[pair[0]] = true;
                needed[pair[1]] = true;
                kept.add(pair);
            }
        }
        int size = kept.size();
        int[] lo = new int[size];
        int[] hi = new int[size];
        for (int c = 0; c < size; c++) {
            lo[c] = kept.get(size - 1 - c)[0];
            hi[c] = kept.get(size - 1 - c)[1];
        }
        return new SortingNetwork(p, lo, hi);
    }

    /**
     * Batcher's odd-even merge sort for any p: the network for the next power of two without the
     * compare-exchanges that touch a wire >= p (such a wire would hold +infinity and never move).
     */
    private static List<int[]> batcher(int p) {
        List<int[]> pairs = new ArrayList<>();
        for (int size = 1; size < p; size <<= 1) {
            for (int gap = size; gap >= 1; gap >>= 1) {
                for (int j = gap % size; j + gap < p; j += 2 * gap) {
                    for (int i = 0; i < gap && i + j + gap < p; i++) {
                        // Only pairs inside one merged run of 2 * size.
                        if ((i + j) / (2 * size) == (i + j + gap) / (2 * size)) {
                            pairs.add(new int[] {i + j, i + j + gap});
                        }
                    }
                }
            }
        }
        return pairs;
    }

    int p() {
        return p;
    }

    /** Number of compare-exchanges. */
    int size() {
        return lo.length;
    }

    /** The wire compare-exchange c leaves the smaller value on (for benchmarks of other loop forms). */
    int lo(int c) {
        return lo[c];
    }

    /** The wire compare-exchange c leaves the larger value on. */
    int hi(int c) {
        return hi[c];
    }

    /** Sorts columns 0 .. width-1 of block[0 .. p-1] in place (at the positions this network places). */
    void sort(float[][] block, int width) {
        for (int c = 0; c < lo.length; c++) {
            float[] a = block[lo[c]];
            float[] b = block[hi[c]];
            for (int k = 0; k < width; k++) {
                float x = a[k];
                float y = b[k];
                a[k] = Math.min(x, y);
                b[k] = Math.max(x, y);
            }
        }
    }
}
