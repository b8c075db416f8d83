package org.flagagg.rules;

import java.util.Arrays;
import java.util.Map;

/**
 * A solution that aggregates each coordinate on its own: the values of the selected inputs at one
 * coordinate are gathered, sorted and reduced by a {@link PerCoordinate} function. Sorting costs
 * O(s log s) for s selected inputs. Thread-safe: the only mutable state is the scratch array of one
 * {@link #apply} call.
 */
public final class CoordinateWiseSolution implements Solution {

    /** Reduces the values of one coordinate, sorted ascending (the array may be reused afterwards). */
    @FunctionalInterface
    public interface PerCoordinate {
        double of(double[] sorted);
    }

    private final int[] selected;
    private final PerCoordinate function;
    private final Details details;

    public CoordinateWiseSolution(int[] selected, PerCoordinate function, Details details) {
        this.selected = selected;
        this.function = function;
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
        double[] values = new double[count];
        for (int k = 0; k < len; k++) {
            for (int i = 0; i < count; i++) {
                values[i] = rows[i][k];
            }
            Arrays.sort(values);
            out[outOffset + k] = function.of(values);
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
