package org.flagagg.round;

import java.util.Map;
import org.flagagg.rules.Details;

/**
 * What an aggregation did, in worker indices (0..workers-1, the input order). The edge writes it as the
 * {@code aggregate --report} JSON (engine.RoundReport).
 *
 * @param kept         workers the rule saw (all but those with non-finite values), ascending
 * @param selected     workers whose data the output used, ascending
 * @param dropped      worker -> reason, for workers set aside before or by the rule
 * @param coefficients the aggregate's coefficients over {@code selected} when it is a linear combination
 * @param details      the rule's own diagnostics; per-input arrays follow {@code kept}
 */
public record AggregationResult(String rule, int workers, long dimension, int[] kept, int[] selected,
        Map<Integer, String> dropped, double[] coefficients, Details details, Timings timings, String kernels) {

    /** Wall time of each phase, in milliseconds. */
    public record Timings(double firstPassMs, double solveMs, double outputPassMs) {
    }
}
