package org.flagagg.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Direct implementations of the rules on whole vectors, written from the papers' definitions without the
 * streaming machinery: distances from the vectors themselves, per-coordinate sorting of boxed values,
 * full-space Weiszfeld. The tests compare the streaming rules against these.
 */
final class Textbook {

    private Textbook() {
    }

    static double[] mean(double[][] g) {
        int n = g[0].length;
        double[] out = new double[n];
        for (double[] row : g) {
            for (int k = 0; k < n; k++) {
                out[k] += row[k];
            }
        }
        for (int k = 0; k < n; k++) {
            out[k] /= g.length;
        }
        return out;
    }

    interface Column {
        double of(double[] values);
    }

    static double[] perCoordinate(double[][] g, Column column) {
        int n = g[0].length;
        double[] out = new double[n];
        double[] values = new double[g.length];
        for (int k = 0; k < n; k++) {
            for (int i = 0; i < g.length; i++) {
                values[i] = g[i][k];
            }
            out[k] = column.of(values.clone());
        }
        return out;
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static double trimmedMean(double[] values, int f) {
        double[] s = values.clone();
        Arrays.sort(s);
        double sum = 0;
        for (int k = f; k < s.length - f; k++) {
            sum += s[k];
        }
        return sum / (s.length - 2 * f);
    }

    /** Mean of the k values nearest c: order by distance to c, the smaller value first on equal distances. */
    static double meanNearest(double[] values, double c, int k) {
        List<Double> list = new ArrayList<>();
        for (double v : values) {
            list.add(v);
        }
        list.sort(Comparator.<Double>comparingDouble(v -> Math.abs(v - c)).thenComparingDouble(v -> v));
        double sum = 0;
        for (int i = 0; i < k; i++) {
            sum += list.get(i);
        }
        return sum / k;
    }

    static double[] median(double[][] g) {
        return perCoordinate(g, Textbook::median);
    }

    static double[] trimmedMean(double[][] g, int f) {
        return perCoordinate(g, v -> trimmedMean(v, f));
    }

    static double[] phocas(double[][] g, int f) {
        return perCoordinate(g, v -> meanNearest(v, trimmedMean(v, f), v.length - f));
    }

    static double[] meamed(double[][] g, int f) {
        return perCoordinate(g, v -> meanNearest(v, median(v), v.length - f));
    }

    static double squaredDistance(double[] a, double[] b) {
        double s = 0;
        for (int k = 0; k < a.length; k++) {
            double d = a[k] - b[k];
            s += d * d;
        }
        return s;
    }

    /** Krum scores of the members over the member set (k nearest other members); NaN for non-members. */
    static double[] krumScores(double[][] g, List<Integer> members, int k) {
        double[] scores = new double[g.length];
        Arrays.fill(scores, Double.NaN);
        for (int i : members) {
            List<Double> d = new ArrayList<>();
            for (int j : members) {
                if (j != i) {
                    d.add(squaredDistance(g[i], g[j]));
                }
            }
            d.sort(null);
            double s = 0;
            for (int t = 0; t < k && t < d.size(); t++) {
                s += d.get(t);
            }
            scores[i] = s;
        }
        return scores;
    }

    static List<Integer> all(int p) {
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < p; i++) {
            all.add(i);
        }
        return all;
    }

    /** Members sorted by (score, index). */
    static List<Integer> byScore(double[] scores, List<Integer> members) {
        List<Integer> order = new ArrayList<>(members);
        order.sort(Comparator.<Integer>comparingDouble(i -> scores[i]).thenComparingInt(i -> i));
        return order;
    }

    static int krum(double[][] g, int f) {
        int p = g.length;
        return byScore(krumScores(g, all(p), p - f - 2), all(p)).get(0);
    }

    static List<Integer> multiKrum(double[][] g, int f, int m) {
        int p = g.length;
        List<Integer> chosen = new ArrayList<>(byScore(krumScores(g, all(p), p - f - 2), all(p)).subList(0, m));
        chosen.sort(null);
        return chosen;
    }

    static double[] average(double[][] g, List<Integer> rows) {
        double[][] picked = new double[rows.size()][];
        for (int t = 0; t < rows.size(); t++) {
            picked[t] = g[rows.get(t)];
        }
        return mean(picked);
    }

    /** Bulyan's recursive Krum selection, in pick order (at least one neighbour per round). */
    static List<Integer> bulyanSelection(double[][] g, int f) {
        int p = g.length;
        List<Integer> remaining = all(p);
        List<Integer> picks = new ArrayList<>();
        for (int round = 0; round < p - 2 * f; round++) {
            int k = Math.max(1, remaining.size() - f - 2);
            int pick = byScore(krumScores(g, remaining, k), remaining).get(0);
            picks.add(pick);
            remaining.remove(Integer.valueOf(pick));
        }
        return picks;
    }

    static double[] bulyan(double[][] g, int f) {
        List<Integer> picks = bulyanSelection(g, f);
        double[][] selection = new double[picks.size()][];
        for (int t = 0; t < picks.size(); t++) {
            selection[t] = g[picks.get(t)];
        }
        int beta = picks.size() - 2 * f;
        return perCoordinate(selection, v -> meanNearest(v, median(v), beta));
    }

    static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }

    static double objective(double[][] g, double[] z) {
        double s = 0;
        for (double[] row : g) {
            s += Math.sqrt(squaredDistance(row, z));
        }
        return s;
    }

    /**
     * Smoothed Weiszfeld in full space, with the rule's delta but run to a much tighter stop: z <- sum w_i
     * g_i / sum w_i, w_i = 1 / max(||g_i - z||, delta).
     */
    static double[] geometricMedian(double[][] g) {
        int p = g.length;
        int n = g[0].length;
        double[] norms = new double[p];
        for (int i = 0; i < p; i++) {
            norms[i] = norm(g[i]);
        }
        double delta = Math.max(GeometricMedianRule.DELTA_RELATIVE * median(norms), GeometricMedianRule.DELTA_FLOOR);
        double scale = Math.max(median(norms), Double.MIN_NORMAL);
        double[] z = mean(g);
        for (int it = 0; it < 5000; it++) {
            double[] w = new double[p];
            double min = Double.POSITIVE_INFINITY;
            for (int i = 0; i < p; i++) {
                w[i] = Math.max(Math.sqrt(squaredDistance(g[i], z)), delta);
                min = Math.min(min, w[i]);
            }
            double sum = 0;
            for (int i = 0; i < p; i++) {
                w[i] = min / w[i];
                sum += w[i];
            }
            double[] next = new double[n];
            for (int i = 0; i < p; i++) {
                for (int k = 0; k < n; k++) {
                    next[k] += w[i] / sum * g[i][k];
                }
            }
            double step = Math.sqrt(squaredDistance(next, z));
            z = next;
            if (step <= 1e-14 * scale) {
                break;
            }
        }
        return z;
    }
}
