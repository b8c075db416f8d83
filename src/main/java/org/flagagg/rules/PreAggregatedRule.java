package org.flagagg.rules;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A rule run on pre-aggregated inputs (--pre): a {@link Mixing} turns the p inputs into m mixed ones,
 * y = M g, and the rule underneath aggregates those. Nothing n-sized is materialised: the rule sees the
 * Gram matrix of the mixed inputs, M G M^T, and its solution is mapped back to the p inputs. A linear
 * solution with coefficients c over the mixed inputs becomes the coefficients M^T c over the inputs; a
 * coordinate-wise one mixes the p values of each coordinate (in double) before its per-coordinate function.
 *
 * <p>Named "pre+rule" (e.g. "nnm+flag"). An input counts as dropped when it no longer contributes and a
 * mixed input containing it was dropped by the rule (the reason names that mixed input). The rule's own
 * details are nested under "mixed": their per-input arrays index mixed inputs, not workers.
 */
public final class PreAggregatedRule implements Rule {
    private final Mixing mixing;
    private final Rule rule;

    PreAggregatedRule(Mixing mixing, Rule rule) {
        this.mixing = mixing;
        this.rule = rule;
    }

    @Override
    public String name() {
        return mixing.name() + "+" + rule.name();
    }

    /** Always a second pass: the mapped-back solution depends on the data even for mean. */
    @Override
    public Set<Pass> passes() {
        Set<Pass> passes = EnumSet.of(Pass.SECOND_PASS);
        if (mixing.needsGram() || rule.needsGram()) {
            passes.add(Pass.GRAM);
        }
        return passes;
    }

    @Override
    public void validate(int p) {
        mixing.validate(p);
        rule.validate(mixing.outputs(p));
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        if (needsGram()) {
            RuleChecks.requireGram(name(), p, gram);
        }
        Mixing.Matrix matrix = mixing.matrix(p, gram);
        double[][] m = matrix.rows();
        Solution inner = rule.solve(m.length, rule.needsGram() ? mixedGram(m, gram, p) : null);
        Details details = Details.EMPTY.with("pre", matrix.details())
                .with("mixed", inner.details() == null ? Details.EMPTY : inner.details());
        int[] innerSelected = inner.selected();
        double[] c = inner.coefficients();
        boolean[] contributes = new boolean[p];
        if (c != null) {
            double[] coefficients = new double[p];
            for (int k = 0; k < innerSelected.length; k++) {
                double[] row = m[innerSelected[k]];
                for (int j = 0; j < p; j++) {
                    coefficients[j] += row[j] * c[k];
                }
            }
            for (int j = 0; j < p; j++) {
                contributes[j] = coefficients[j] != 0;
            }
            return LinearSolution.ofDense(coefficients, dropped(m, inner, contributes), details);
        }
        if (!(inner instanceof CoordinateWiseSolution coordinateWise)) {
            throw new IllegalStateException(rule.name() + " returned a solution --pre cannot map back: "
                    + inner.getClass().getSimpleName());
        }
        for (int b : innerSelected) {
            for (int j = 0; j < p; j++) {
                contributes[j] |= m[b][j] != 0;
            }
        }
        return new Mixed(m, innerSelected, contributes, coordinateWise.function(), dropped(m, inner, contributes),
                details);
    }

    /** M G M^T, symmetrised. */
    static double[] mixedGram(double[][] m, double[] gram, int p) {
        int rows = m.length;
        double[][] mg = new double[rows][p];
        for (int b = 0; b < rows; b++) {
            for (int j = 0; j < p; j++) {
                double sum = 0;
                for (int k = 0; k < p; k++) {
                    sum += m[b][k] * 0.5 * (gram[k * p + j] + gram[j * p + k]);
                }
                mg[b][j] = sum;
            }
        }
        double[] out = new double[rows * rows];
        for (int a = 0; a < rows; a++) {
            for (int b = a; b < rows; b++) {
                double sum = 0;
                for (int j = 0; j < p; j++) {
                    sum += mg[a][j] * m[b][j];
                }
                out[a * rows + b] = sum;
                out[b * rows + a] = sum;
            }
        }
        return out;
    }

    /** Inputs that no longer contribute, with the reason of a dropped mixed input that contained them. */
    private Map<Integer, String> dropped(double[][] m, Solution inner, boolean[] contributes) {
        Map<Integer, String> dropped = new TreeMap<>();
        inner.dropped().forEach((b, reason) -> {
            for (int j = 0; j < contributes.length; j++) {
                if (!contributes[j] && m[b][j] != 0) {
                    dropped.putIfAbsent(j, mixing.name() + " mixed input " + b + ": " + reason);
                }
            }
        });
        return dropped;
    }

    /**
     * A coordinate-wise solution over mixed inputs: per coordinate, the selected mixed values
     * y_b = sum_j M_bj g_j (sparse rows), sorted, reduced by the rule's function. Thread-safe: scratch per call.
     */
    private static final class Mixed implements Solution {
        private final int[] selected;
        /** Per selected mixed input: positions in {@link #selected} and weights of its non-zero entries. */
        private final int[][] columns;
        private final double[][] weights;
        private final CoordinateWiseSolution.PerCoordinate function;
        private final Map<Integer, String> dropped;
        private final Details details;

        Mixed(double[][] m, int[] mixedSelected, boolean[] contributes, CoordinateWiseSolution.PerCoordinate function,
                Map<Integer, String> dropped, Details details) {
            int p = contributes.length;
            this.selected = java.util.stream.IntStream.range(0, p).filter(j -> contributes[j]).toArray();
            this.columns = new int[mixedSelected.length][];
            this.weights = new double[mixedSelected.length][];
            for (int k = 0; k < mixedSelected.length; k++) {
                double[] row = m[mixedSelected[k]];
                int[] cols = java.util.stream.IntStream.range(0, selected.length)
                        .filter(pos -> row[selected[pos]] != 0).toArray();
                columns[k] = cols;
                weights[k] = Arrays.stream(cols).mapToDouble(pos -> row[selected[pos]]).toArray();
            }
            this.function = function;
            this.dropped = dropped;
            this.details = details;
        }

        @Override
        public int[] selected() {
            return selected;
        }

        @Override
        public double[] coefficients() {
            return null;
        }

        @Override
        public void apply(float[][] rows, int len, double[] out, int outOffset) {
            if (rows.length < selected.length) {
                throw new IllegalArgumentException("chunk has " + rows.length + " rows, solution reads " + selected.length);
            }
            double[] values = new double[columns.length];
            for (int i = 0; i < len; i++) {
                for (int k = 0; k < columns.length; k++) {
                    int[] cols = columns[k];
                    double[] w = weights[k];
                    double sum = 0;
                    for (int t = 0; t < cols.length; t++) {
                        sum += w[t] * rows[cols[t]][i];
                    }
                    values[k] = sum;
                }
                Arrays.sort(values);
                out[outOffset + i] = function.of(values);
            }
        }

        @Override
        public Map<Integer, String> dropped() {
            return dropped;
        }

        @Override
        public Details details() {
            return details;
        }
    }
}
