package org.flagagg.rules;

/**
 * Per-coordinate statistics over the values of one coordinate, sorted ascending. Allocation-free: these
 * run once per coordinate in the output pass. {@link #MEDIAN} and {@link #trimmedMean(int)} also reduce
 * a whole sorted block with loops across coordinates, with the same operations in the same order.
 */
final class SortedStats {

    /** The median, reading only the middle sorted position(s). */
    static final CoordinateWiseSolution.PerCoordinate MEDIAN = new CoordinateWiseSolution.PerCoordinate() {
        @Override
        public double of(double[] sorted) {
            return median(sorted);
        }

        @Override
        public int from(int p) {
            return (p - 1) >>> 1;
        }

        @Override
        public int to(int p) {
            return (p >>> 1) + 1;
        }

        @Override
        public void ofColumns(float[][] sorted, int p, int width, double[] column, double[] out, int outOffset) {
            float[] upper = sorted[p >>> 1];
            if ((p & 1) == 1) {
                for (int k = 0; k < width; k++) {
                    out[outOffset + k] = upper[k];
                }
            } else {
                float[] lower = sorted[(p >>> 1) - 1];
                for (int k = 0; k < width; k++) {
                    out[outOffset + k] = ((double) lower[k] + upper[k]) / 2;
                }
            }
        }
    };

    private SortedStats() {
    }

    /** The trimmed mean dropping f values at each end, reading only the sorted positions it keeps. */
    static CoordinateWiseSolution.PerCoordinate trimmedMean(int f) {
        return new CoordinateWiseSolution.PerCoordinate() {
            @Override
            public double of(double[] sorted) {
                return trimmedMean(sorted, f);
            }

            @Override
            public int from(int p) {
                return f;
            }

            @Override
            public int to(int p) {
                return p - f;
            }

            @Override
            public void ofColumns(float[][] sorted, int p, int width, double[] column, double[] out, int outOffset) {
                // As mean(): from 0, add the kept values in ascending order, divide by their count.
                java.util.Arrays.fill(out, outOffset, outOffset + width, 0.0);
                for (int r = f; r < p - f; r++) {
                    float[] row = sorted[r];
                    for (int k = 0; k < width; k++) {
                        out[outOffset + k] += row[k];
                    }
                }
                double count = p - 2 * f;
                for (int k = 0; k < width; k++) {
                    out[outOffset + k] /= count;
                }
            }
        };
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
