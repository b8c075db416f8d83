package org.flagagg.fa;

import java.util.Map;

/**
 * The Flag Aggregator's result over all p inputs given to {@link FlagSolver#solve}: the aggregate is
 * a = sum_i coefficients[i] g_i.
 *
 * @param coefficients c_i for every input; 0 for a dropped one
 * @param quality      q_i = ||Y^T x_i||^2 in [0, 1], the share of x_i the flag reconstructs; NaN if dropped
 * @param weight       the IRLS weight (|1 - q_i| + eps)^(-1/4) at the final flag; NaN if dropped
 * @param dropped      input index -> reason, for the inputs FA set aside (ascending by index)
 * @param objective    E = sum_i sqrt(max(0, 1 - q_i)) at the flag-mean start and after each accepted step
 * @param iterations   accepted IRLS steps (objective.length - 1); a rejected step is not counted
 * @param rank         r, the requested subspace rank; the output is divided by it
 * @param columns      dimension of the flag actually found: min(r, rank of the kept inputs)
 */
public record FlagSolution(
        double[] coefficients,
        double[] quality,
        double[] weight,
        Map<Integer, String> dropped,
        double[] objective,
        int iterations,
        int rank,
        int columns) {
}
