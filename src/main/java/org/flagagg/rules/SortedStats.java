package org.flagagg.rules;

/**
 * Per-coordinate statistics over the values of one coordinate, sorted ascending. Allocation-free: these
 * run once per coordinate in the output pass.
 */
final class SortedStats {

    private SortedStats() {
    }

    /** Median; the mean of the two middle values for an even count. */
    static double median(double[] sorted) {
        int n = sorted.length;
        int half = n >>> 1;
        return (n & 1) == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
    }

    /** Mean of sorted[from, to). */
    static double mean(double[] sorted, int from, int to) {
        double sum = 0;
        for (int k = from; k < to; k++) {
            sum += sorted[k];
        }
        return sum / (to - from);
    }

    /** Mean after dropping the f smallest and the f largest values (needs length > 2f). */
    static double trimmedMean(double[] sorted, int f) {
        return mean(sorted, f, sorted.length - f);
    }

    /**
     * Mean of the k values nearest {@code center}. The k nearest values of a sorted array form a window
     * [lo, lo + k); a binary search finds it in O(log n). When two values are equally far from the
     * center the smaller one is kept, so the result is deterministic.
     */
    static double meanNearest(double[] sorted, double center, int k) {
        int lo = 0;
        int hi = sorted.length - k;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            // Slide right only when the value leaving the window is strictly farther than the one entering.
            if (center - sorted[mid] > sorted[mid + k] - center) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return mean(sorted, lo, lo + k);
    }
}
