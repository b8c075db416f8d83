package org.flagagg.rules;

import java.util.Map;

/** The outcome of a rule's p x p stage, applied chunk by chunk to produce the aggregate. */
public interface Solution {

    /** Ascending indices (into the rule's 0..p-1 inputs) of the inputs {@link #apply} reads. */
    int[] selected();

    /**
     * Coefficients over {@link #selected()} when the aggregate is the fixed linear combination
     * sum_k c_k g_selected[k]; null for coordinate-wise rules.
     */
    double[] coefficients();

    /**
     * One chunk of the aggregate: rows[k] holds input selected()[k]'s values at the chunk's coordinates;
     * writes len values to out[outOffset ..]. May be called from several threads at once.
     */
    void apply(float[][] rows, int len, double[] out, int outOffset);

    /** Inputs the rule itself set aside (index -> reason), e.g. zero gradients for FA. */
    Map<Integer, String> dropped();

    /** Rule-specific diagnostics for reports: quality, weights, scores, iterations, objective trace. */
    Details details();
}
