package org.flagagg.rules;

import java.util.Map;

/**
 * A solution that aggregates each coordinate on its own: the values of the selected inputs at one
 * coordinate, sorted, are reduced by a {@link PerCoordinate} function. The chunk is cut into blocks of
 * coordinates, each copied out and sorted by a {@link SortingNetwork} across all its coordinates at once
 * (min/max loops over rows, vectorised), then reduced column by column. Thread-safe: the only mutable
 * state is the scratch of one {@link #apply} call.
 */
public final class CoordinateWiseSolution implements Solution {
    /** Floats of scratch per block: 32 KiB, so a block stays in L1 while the network sweeps it. */
    private static final int BLOCK_FLOATS = 8192;
    /** Bounds of a block's width: wide enough for full vectors, no wider than a chunk usually is. */
    private static final int MIN_WIDTH = 16;
    private static final int MAX_WIDTH = 1024;

    /**
     * Reduces the values of one coordinate, sorted ascending (the array may be reused afterwards). A
     * function that reads only some sorted positions says so through {@link #from} and {@link #to}, and
     * may reduce a whole sorted block with a loop across coordinates ({@link #ofColumns}).
     */
    @FunctionalInterface
    public interface PerCoordinate {
        double of(double[] sorted);

        /** First sorted position {@link #of} reads among p values. */
        default int from(int p) {
            return 0;
        }

        /** One past the last sorted position {@link #of} reads among p values. */
        default int to(int p) {
            return p;
        }

        /**
         * out[outOffset + k] = of(column k) for k < width, where sorted[r][k] is the r-th smallest of
         * coordinate k's p values for r in [from(p), to(p)) (other rows are unspecified). {@code column}
         * is scratch of length p.
         */
        default void ofColumns(float[][] sorted, int p, int width, double[] column, double[] out, int outOffset) {
            for (int k = 0; k < width; k++) {
                for (int r = 0; r < p; r++) {
                    column[r] = sorted[r][k];
                }
                out[outOffset + k] = of(column);
            }
        }
    }

    private final int[] selected;
    private final PerCoordinate function;
    private final SortingNetwork network;
    private final int blockWidth;
    private final Details details;

    public CoordinateWiseSolution(int[] selected, PerCoordinate function, Details details) {
        int p = selected.length;
        this.selected = selected;
        this.function = function;
        this.network = SortingNetwork.placing(p, function.from(p), function.to(p));
        this.blockWidth = Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, BLOCK_FLOATS / p / MIN_WIDTH * MIN_WIDTH));
        this.details = details;
    }

    @Override
    public int[] selected() {
        return selected;
    }

    /** Null: a coordinate-wise aggregate is not a fixed linear combination. */
    @Override
    public double[] coefficients() {
        return null;
    }

    @Override
    public void apply(float[][] rows, int len, double[] out, int outOffset) {
        int count = selected.length;
        if (rows.length < count) {
            throw new IllegalArgumentException("chunk has " + rows.length + " rows, solution reads " + count);
        }
        int width = Math.min(blockWidth, len);
        float[][] block = new float[count][width];
        double[] column = new double[count];
        for (int start = 0; start < len; start += width) {
            int w = Math.min(width, len - start);
            for (int i = 0; i < count; i++) {
                System.arraycopy(rows[i], start, block[i], 0, w);
            }
            network.sort(block, w);
            function.ofColumns(block, count, w, column, out, outOffset + start);
        }
    }

    /** The per-coordinate reduction, for {@link PreAggregatedRule} to apply to mixed values. */
    PerCoordinate function() {
        return function;
    }

    @Override
    public Map<Integer, String> dropped() {
        return Map.of();
    }

    @Override
    public Details details() {
        return details;
    }
}
