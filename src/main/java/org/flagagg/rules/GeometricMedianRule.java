package org.flagagg.rules;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Geometric median, argmin_z sum_i ||g_i - z||, by smoothed Weiszfeld iterations in Gram space. Every
 * iterate is z = sum_j b_j g_j with b >= 0, sum b = 1, and ||g_i - z||^2 = G_ii - 2 (G b)_i + b^T G b,
 * so the n-sized work is only the Gram pass and the final combination.
 *
 * <p>Step: w_i = 1 / max(||g_i - z||, delta), b <- w / sum(w), from b = 1/p (the mean).
 */
public final class GeometricMedianRule implements Rule {

    /**
     * delta = DELTA_RELATIVE x median ||g_i||. Gram-space distances carry an absolute error of about
     * 1e-8 x ||g|| (cancellation in G_ii - 2 (Gb)_i + b^T G b), so distances below 1e-6 x the typical
     * norm are noise: flooring them there keeps the weights meaningful and bounded.
     */
    public static final double DELTA_RELATIVE = 1e-6;
    /** Floor of delta when the median norm is 0 (e.g. all inputs zero), so the weights stay defined. */
    public static final double DELTA_FLOOR = Double.MIN_NORMAL;
    public static final int MAX_ITERATIONS = 1000;
    /**
     * Stop when a step moves z by at most TOLERANCE relative: sum_i |b_new,i - b_i| ||g_i|| (a bound on
     * ||z_new - z||) <= TOLERANCE x sum_i b_new,i ||g_i|| (a bound on ||z_new||, never 0 unless all are 0).
     */
    public static final double TOLERANCE = 1e-12;

    @Override
    public String name() {
        return "geomed";
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
    }

    @Override
    public void validate(int p) {
        RuleChecks.requireInputs(name(), p);
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        RuleChecks.requireGram(name(), p, gram);
        Weiszfeld median = weiszfeld(p, gram);
        Details details = Details.EMPTY
                .with("iterations", median.iterations())
                .with("converged", median.converged())
                .with("objective", median.objective())
                .with("delta", median.delta())
                .with("weights", median.weights());
        return new LinearSolution(RuleChecks.allInputs(p), median.weights(), Map.of(), details);
    }

    /**
     * The outcome of the Gram-space Weiszfeld iteration: the median is z = sum_j weights_j g_j.
     *
     * @param weights    b >= 0, sum b = 1
     * @param iterations steps taken
     * @param converged  whether the last step moved z by at most TOLERANCE relative
     * @param objective  sum_i ||g_i - z||
     * @param delta      the distance floor: distances at or below it are rounding noise
     */
    record Weiszfeld(double[] weights, int iterations, boolean converged, double objective, double delta) {
    }

    /** Geometric-median weights of p inputs from their p x p Gram matrix (shared with the centred FA). */
    static Weiszfeld weiszfeld(int p, double[] gram) {
        double[] norms = new double[p];
        for (int i = 0; i < p; i++) {
            norms[i] = Math.sqrt(Math.max(0.0, gram[i * p + i]));
        }
        double delta = Math.max(DELTA_RELATIVE * medianOf(norms), DELTA_FLOOR);

        double[] b = new double[p];
        Arrays.fill(b, 1.0 / p);
        double[] next = new double[p];
        double[] distances = new double[p];
        double[] scratch = new double[p];
        double objective = distances(p, gram, b, scratch, distances);
        int iterations = 0;
        boolean converged = false;
        while (iterations < MAX_ITERATIONS) {
            // Scaling the weights by the smallest floored distance keeps them in (0, 1]: no overflow.
            double nearest = Double.POSITIVE_INFINITY;
            for (double d : distances) {
                nearest = Math.min(nearest, d);
            }
            double unit = Math.max(nearest, delta);
            double sum = 0;
            for (int i = 0; i < p; i++) {
                next[i] = unit / Math.max(distances[i], delta);
                sum += next[i];
            }
            double change = 0;
            double scale = 0;
            for (int i = 0; i < p; i++) {
                next[i] /= sum;
                change += Math.abs(next[i] - b[i]) * norms[i];
                scale += next[i] * norms[i];
            }
            double[] swap = b;
            b = next;
            next = swap;
            iterations++;
            objective = distances(p, gram, b, scratch, distances);
            if (change <= TOLERANCE * scale) {
                converged = true;
                break;
            }
        }
        return new Weiszfeld(b, iterations, converged, objective, delta);
    }

    /** Fills distances[i] = ||g_i - z|| for z = sum_j b_j g_j and returns their sum (the objective). */
    private static double distances(int p, double[] gram, double[] b, double[] gb, double[] distances) {
        double bgb = 0;
        for (int i = 0; i < p; i++) {
            double s = 0;
            for (int j = 0; j < p; j++) {
                s += gram[i * p + j] * b[j];
            }
            gb[i] = s;
            bgb += b[i] * s;
        }
        double objective = 0;
        for (int i = 0; i < p; i++) {
            distances[i] = Math.sqrt(Math.max(0.0, gram[i * p + i] - 2 * gb[i] + bgb));
            objective += distances[i];
        }
        return objective;
    }

    private static double medianOf(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return SortedStats.median(sorted);
    }
}
