package org.flagagg.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.flagagg.fa.FlagOptions;

/**
 * cfae, the centred Flag Aggregator with two outlier scores (issue 18: the combination the note
 * fa-under-attack.md calls untested). From the Gram matrix, as cfa: the geometric-median centre, the
 * centred Gram matrix G~ and each worker's centred quality q~_i. Besides, each worker's projection energy
 * e_i = lambda_1 v_i^2 on the top principal direction of the deviations (lambda_1, v the top eigenpair of
 * G~; the spectral signature of Tran et al. 2018), which does not need the colluders to be identical.
 * Each score becomes a robust z-score, (s_i - median s) / MAD s, and a worker's outlyingness is the larger
 * of its two; the f most outlying are dropped (ties: lower index) and the output is FA on the rest with
 * r = ceil((p - f) / 2) and the configured lambda, iterations and scale.
 *
 * <p>Why both: identical colluders (lie, empire) have q~ = 1 whatever their size; colluders that add
 * independent noise (lienoise) lose that but still share a shift, which is the top principal direction.
 */
public final class CentredEnergyFlagRule extends CentredRule {
    /** Power iteration: at most this many steps, stopping when v moves less than POWER_TOLERANCE. */
    static final int POWER_ITERATIONS = 1000;
    static final double POWER_TOLERANCE = 1e-12;

    private final CentredFlagRule centred;

    public CentredEnergyFlagRule(int f, FlagOptions options) {
        super(f, options);
        this.centred = new CentredFlagRule(f, options);
    }

    @Override
    public String name() {
        return "cfae";
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        RuleChecks.requireGram(name(), p, gram);
        GeometricMedianRule.Weiszfeld centre = GeometricMedianRule.weiszfeld(p, gram);
        double[] deviations = CentredFlagRule.centredGram(p, gram, centre.weights());
        double[] quality = centred.centredQuality(p, deviations, centre.delta(), new boolean[p]);
        double[] energy = topEnergy(p, deviations);
        double[] qualityZ = robustZ(quality);
        double[] energyZ = robustZ(energy);
        double[] score = new double[p];
        for (int i = 0; i < p; i++) {
            score[i] = Math.max(qualityZ[i], energyZ[i]);
        }

        Map<Integer, String> dropped = new TreeMap<>();
        boolean[] isDropped = new boolean[p];
        List<Details> droppedDetails = new ArrayList<>();
        for (int i : CentredFlagRule.largest(score, f)) {
            isDropped[i] = true;
            String reason = String.format(Locale.ROOT, "centred quality %.3f (z %.1f), energy z %.1f: among the %d "
                    + "most outlying (cfae)", quality[i], qualityZ[i], energyZ[i], f);
            dropped.put(i, reason);
            droppedDetails.add(Details.EMPTY.with("input", i).with("score", score[i]).with("reason", reason));
        }
        CentredFlagRule.Kept rest = CentredFlagRule.flagOnKept(p, gram, isDropped, options);
        dropped.putAll(rest.dropped());
        Details details = Details.EMPTY
                .with("f", f)
                .with("centredQuality", quality)
                .with("energy", energy)
                .with("outlyingness", score)
                .with("dropped", droppedDetails)
                .with("kept", rest.kept())
                .with("flag", rest.flag());
        return LinearSolution.ofDense(rest.coefficients(), dropped, details);
    }

    /**
     * e_i = lambda_1 v_i^2: the squared length of deviation i's projection on the top principal direction
     * D v / sqrt(lambda_1) of the deviations D (G~ = D^T D), by power iteration from v = diag(G~).
     */
    static double[] topEnergy(int p, double[] g) {
        double[] v = new double[p];
        double norm = 0;
        for (int i = 0; i < p; i++) {
            v[i] = Math.max(0, g[i * p + i]);
            norm += v[i] * v[i];
        }
        double[] energy = new double[p];
        if (!(norm > 0)) {
            return energy;
        }
        scale(v, 1 / Math.sqrt(norm));
        double lambda = 0;
        double[] w = new double[p];
        for (int step = 0; step < POWER_ITERATIONS; step++) {
            lambda = multiply(p, g, v, w);
            double length = Math.sqrt(dot(w, w));
            if (!(length > 0)) {
                return energy;
            }
            scale(w, 1 / length);
            double moved = 0;
            for (int i = 0; i < p; i++) {
                moved = Math.max(moved, Math.abs(w[i] - v[i]));
            }
            System.arraycopy(w, 0, v, 0, p);
            if (moved <= POWER_TOLERANCE) {
                break;
            }
        }
        for (int i = 0; i < p; i++) {
            energy[i] = Math.max(0, lambda) * v[i] * v[i];
        }
        return energy;
    }

    /** w = G v; returns v^T G v. */
    private static double multiply(int p, double[] g, double[] v, double[] w) {
        for (int i = 0; i < p; i++) {
            double sum = 0;
            for (int j = 0; j < p; j++) {
                sum += g[i * p + j] * v[j];
            }
            w[i] = sum;
        }
        return dot(v, w);
    }

    private static double dot(double[] x, double[] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            sum += x[i] * y[i];
        }
        return sum;
    }

    private static void scale(double[] x, double factor) {
        for (int i = 0; i < x.length; i++) {
            x[i] *= factor;
        }
    }

    /**
     * (s_i - median) / MAD, the MAD (median absolute deviation) floored at 1e-12 of the largest |s| so
     * ties at the median (MAD 0) give large but finite z-scores.
     */
    static double[] robustZ(double[] s) {
        double median = SortedStats.median(sorted(s));
        double[] absolute = new double[s.length];
        double largest = 0;
        for (int i = 0; i < s.length; i++) {
            absolute[i] = Math.abs(s[i] - median);
            largest = Math.max(largest, Math.abs(s[i]));
        }
        double mad = Math.max(SortedStats.median(sorted(absolute)), Math.max(1e-12 * largest, Double.MIN_NORMAL));
        double[] z = new double[s.length];
        for (int i = 0; i < s.length; i++) {
            z[i] = (s[i] - median) / mad;
        }
        return z;
    }

    private static double[] sorted(double[] values) {
        double[] copy = values.clone();
        Arrays.sort(copy);
        return copy;
    }
}
