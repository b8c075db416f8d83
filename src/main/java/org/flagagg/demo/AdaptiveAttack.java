package org.flagagg.demo;

import java.util.Arrays;
import java.util.List;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Solution;
import org.flagagg.sim.Attack;
import org.flagagg.sim.EmpireAttack;
import org.flagagg.sim.LittleIsEnoughAttack;

/**
 * The adaptive attack (as ByzFL's optimal ALIE and IPM): each round the colluders try every scale of a
 * small fixed grid, run the rule in use on the candidate round offline (its p x p solve on the Gram matrix
 * of what would be sent, then its output on the whole vectors), and send the candidate whose aggregate does
 * the most harm. Only the demo can do this: it sees every gradient and knows the rule.
 * <ul>
 *   <li>{@code adaptive:lie}: lie with z in {@link #Z}, maximising ||aggregate - honest mean||;</li>
 *   <li>{@code adaptive:ipm}: empire (inner-product manipulation) with eps in {@link #EPS}, minimising
 *   the inner product of the aggregate with the honest mean.</li>
 * </ul>
 * Deterministic (no random draw); ties go to the first scale of the grid.
 */
final class AdaptiveAttack {
    static final List<Double> Z = List.of(0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0);
    static final List<Double> EPS = List.of(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0);
    static final String PREFIX = "adaptive:";

    private final boolean lie;
    private final Rule rule;

    private AdaptiveAttack(boolean lie, Rule rule) {
        this.lie = lie;
        this.rule = rule;
    }

    static boolean isAdaptive(String spec) {
        return spec.trim().toLowerCase(java.util.Locale.ROOT).startsWith(PREFIX);
    }

    /** {@code adaptive:lie} or {@code adaptive:ipm} against {@code rule}. */
    static AdaptiveAttack parse(String spec, Rule rule) {
        String kind = spec.trim().toLowerCase(java.util.Locale.ROOT).substring(PREFIX.length()).trim();
        return switch (kind) {
            case "lie" -> new AdaptiveAttack(true, rule);
            case "ipm" -> new AdaptiveAttack(false, rule);
            default -> throw new IllegalArgumentException("unknown adaptive attack '" + spec
                    + "' (adaptive:lie or adaptive:ipm)");
        };
    }

    private Attack candidate(double scale) {
        return lie ? new LittleIsEnoughAttack(scale) : new EmpireAttack(scale);
    }

    /**
     * Picks the most harmful scale for this round and writes the colluders' gradients.
     *
     * @param honest the honest gradients (slots f..p-1 of the round), whole vectors of length d
     * @param own    the colluders' true gradients (slots 0..f-1)
     * @param out    receives the colluders' gradients, out[b] of length d
     * @return the scale chosen (z or eps)
     */
    double apply(float[][] honest, float[][] own, float[][] out) {
        int f = own.length;
        int h = honest.length;
        int p = f + h;
        int d = honest[0].length;
        if (f == 0) {
            return Double.NaN;
        }
        double[] mean = new double[d];
        for (float[] g : honest) {
            for (int k = 0; k < d; k++) {
                mean[k] += g[k];
            }
        }
        boolean finite = true;
        for (int k = 0; k < d; k++) {
            mean[k] /= h;
            finite &= Double.isFinite(mean[k]);
        }
        List<Double> grid = lie ? Z : EPS;
        if (!finite) {
            // A diverged model: nothing to measure harm against (the engine drops non-finite gradients).
            candidate(grid.get(0)).apply(0, honest, own, d, out);
            return grid.get(0);
        }
        float[][] round = new float[p][];
        System.arraycopy(honest, 0, round, f, h);
        double[] gram = new double[p * p];
        for (int i = f; i < p; i++) {
            for (int j = i; j < p; j++) {
                gram[i * p + j] = gram[j * p + i] = dot(round[i], round[j]);
            }
        }
        float[][] trial = new float[f][d];
        double bestHarm = Double.NEGATIVE_INFINITY;
        double best = grid.get(0);
        double[] aggregate = new double[d];
        for (double scale : grid) {
            candidate(scale).apply(0, honest, own, d, trial);
            System.arraycopy(trial, 0, round, 0, f);
            for (int i = 0; i < f; i++) {
                for (int j = 0; j < p; j++) {
                    gram[i * p + j] = gram[j * p + i] = dot(round[i], round[j]);
                }
            }
            aggregate(round, gram, aggregate);
            double harm = lie ? distance(aggregate, mean) : -dot(aggregate, mean);
            if (harm > bestHarm) {
                bestHarm = harm;
                best = scale;
            }
        }
        candidate(best).apply(0, honest, own, d, out);
        return best;
    }

    /** The rule's aggregate of one whole round, as the engine computes it (solve on the Gram, then the output). */
    private void aggregate(float[][] round, double[] gram, double[] out) {
        int p = round.length;
        Solution solution = rule.solve(p, rule.needsGram() ? gram : null);
        int[] selected = solution.selected();
        float[][] rows = new float[selected.length][];
        for (int k = 0; k < selected.length; k++) {
            rows[k] = round[selected[k]];
        }
        Arrays.fill(out, 0);
        solution.apply(rows, out.length, out, 0);
    }

    private static double dot(float[] a, float[] b) {
        double sum = 0;
        for (int k = 0; k < a.length; k++) {
            sum += (double) a[k] * b[k];
        }
        return sum;
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int k = 0; k < a.length; k++) {
            sum += a[k] * b[k];
        }
        return sum;
    }

    private static double distance(double[] a, double[] b) {
        double sum = 0;
        for (int k = 0; k < a.length; k++) {
            double x = a[k] - b[k];
            sum += x * x;
        }
        return Math.sqrt(sum);
    }
}
