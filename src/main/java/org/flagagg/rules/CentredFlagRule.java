package org.flagagg.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.flagagg.fa.FlagOptions;
import org.flagagg.fa.FlagSolution;
import org.flagagg.fa.FlagSolver;

/**
 * Centred Flag Aggregator (issue 18; the shared note fa-under-attack.md), all from the Gram matrix:
 * <ol>
 *   <li>a robust centre z = sum_j b_j g_j, the geometric median by smoothed Weiszfeld in Gram space
 *   ({@link GeometricMedianRule#weiszfeld});</li>
 *   <li>the Gram matrix of the deviations g_i - z: G~ = G - 1 h^T - h 1^T + s 1 1^T, h = G b, s = b^T G b;</li>
 *   <li>each worker's centred quality q~_i: FA with r = 1 on G~ (its quality ||Y^T x~_i||^2); a deviation
 *   no larger than the Weiszfeld distance floor delta (rounding noise) counts as quality 1;</li>
 *   <li>the f workers with the largest q~ are dropped (ties: lower index first), and the output is FA on
 *   the remaining p - f with r = ceil((p - f) / 2) and the configured lambda, iterations and scale.</li>
 * </ol>
 * Colluders that send one shared deviation make the rank-1 flag pass through them (q~ ~ 1), so they are
 * the ones dropped. Known hole: colluders that add independent noise each are not detected.
 *
 * <p>acfa ({@link #adaptive}) drops only what stands out: of the f highest, the workers whose deviation
 * the rank-1 flag fits to within 1% (q~ >= {@link #FITTED}), and only when at least two workers are fitted
 * so (a shared deviation; the flag median may pass through one lone worker). Honest workers carry their
 * own minibatch noise, so none is fitted that closely; it drops 0..f, never more than f.
 */
public final class CentredFlagRule extends CentredRule {
    /** acfa: a centred quality this high means the deviation is (up to 1% of its energy) a shared one. */
    static final double FITTED = 0.99;

    private final boolean adaptive;

    public CentredFlagRule(int f, FlagOptions options) {
        this(f, options, false);
    }

    private CentredFlagRule(int f, FlagOptions options, boolean adaptive) {
        super(f, options);
        this.adaptive = adaptive;
    }

    /** acfa: cfa with an adaptive drop count (see the class comment). */
    public static CentredFlagRule adaptive(int f, FlagOptions options) {
        return new CentredFlagRule(f, options, true);
    }

    @Override
    public String name() {
        return adaptive ? "acfa" : "cfa";
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        RuleChecks.requireGram(name(), p, gram);
        GeometricMedianRule.Weiszfeld centre = GeometricMedianRule.weiszfeld(p, gram);
        double[] centred = centredGram(p, gram, centre.weights());
        boolean[] zeroDeviation = new boolean[p];
        double[] quality = centredQuality(p, centred, centre.delta(), zeroDeviation);

        Map<Integer, String> dropped = new TreeMap<>();
        boolean[] isDropped = new boolean[p];
        List<Details> droppedDetails = new ArrayList<>();
        int fitted = (int) Arrays.stream(quality).filter(q -> q >= FITTED).count();
        for (int i : largest(quality, f)) {
            if (adaptive && (fitted < 2 || quality[i] < FITTED)) {
                continue;
            }
            isDropped[i] = true;
            String noDeviation = zeroDeviation[i] ? " (no deviation from the centre)" : "";
            String reason = adaptive
                    ? String.format(Locale.ROOT, "centred quality %.3f%s >= %.2f, shared by %d workers, among the %d highest (acfa)",
                            quality[i], noDeviation, FITTED, fitted, f)
                    : String.format(Locale.ROOT, "centred quality %.3f%s among the %d highest (cfa)", quality[i], noDeviation, f);
            dropped.put(i, reason);
            droppedDetails.add(Details.EMPTY.with("input", i).with("quality", quality[i]).with("reason", reason));
        }
        Kept rest = flagOnKept(p, gram, isDropped, options);
        dropped.putAll(rest.dropped());

        Details details = Details.EMPTY
                .with("f", f)
                .with("centredQuality", quality)
                .with("centre", Details.EMPTY
                        .with("weights", centre.weights())
                        .with("iterations", centre.iterations())
                        .with("converged", centre.converged())
                        .with("objective", centre.objective())
                        .with("delta", centre.delta()))
                .with("dropped", droppedDetails)
                .with("kept", rest.kept())
                .with("flag", rest.flag());
        if (adaptive) {
            details = details.with("fittedThreshold", FITTED).with("fitted", fitted);
        }
        return LinearSolution.ofDense(rest.coefficients(), dropped, details);
    }

    /** The indices of the f largest scores, largest first (ties: the lower index first). */
    static int[] largest(double[] score, int f) {
        return IntStream.range(0, score.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -score[i]).thenComparingInt(i -> i))
                .limit(f).mapToInt(Integer::intValue).toArray();
    }

    /**
     * FA on the inputs left after a selection, over all p: kept (ascending), coefficients (0 for the
     * others), FA's own drops (zero gradients) by input, and FA's details with quality and weight spread
     * over all p (NaN for the inputs not kept).
     */
    record Kept(int[] kept, double[] coefficients, Map<Integer, String> dropped, Details flag) {
    }

    /** FA with r = ceil(k / 2) on the inputs not in {@code isDropped}; see {@link Kept}. */
    static Kept flagOnKept(int p, double[] gram, boolean[] isDropped, FlagOptions options) {
        int[] kept = IntStream.range(0, p).filter(i -> !isDropped[i]).toArray();
        int m = kept.length;
        double[] sub = new double[m * m];
        for (int a = 0; a < m; a++) {
            for (int c = 0; c < m; c++) {
                sub[a * m + c] = gram[kept[a] * p + kept[c]];
            }
        }
        FlagSolution flag = FlagSolver.solve(sub, m, options.withRank(0));
        double[] coefficients = new double[p];
        double[] flagQuality = new double[p];
        double[] flagWeight = new double[p];
        Arrays.fill(flagQuality, Double.NaN);
        Arrays.fill(flagWeight, Double.NaN);
        for (int a = 0; a < m; a++) {
            coefficients[kept[a]] = flag.coefficients()[a];
            flagQuality[kept[a]] = flag.quality()[a];
            flagWeight[kept[a]] = flag.weight()[a];
        }
        Map<Integer, String> dropped = new TreeMap<>();
        flag.dropped().forEach((a, reason) -> dropped.put(kept[a], reason));
        FlagSolution spread = new FlagSolution(coefficients, flagQuality, flagWeight, flag.dropped(),
                flag.objective(), flag.iterations(), flag.rank(), flag.columns());
        return new Kept(kept, coefficients, dropped, FlagRule.details(spread, options));
    }

    /** G~_ij = G_ij - h_i - h_j + s: the Gram matrix of g_i - sum_k b_k g_k (symmetrised, as G may not quite be). */
    static double[] centredGram(int p, double[] gram, double[] b) {
        double[] h = new double[p];
        double s = 0;
        for (int i = 0; i < p; i++) {
            double sum = 0;
            for (int j = 0; j < p; j++) {
                sum += 0.5 * (gram[i * p + j] + gram[j * p + i]) * b[j];
            }
            h[i] = sum;
            s += b[i] * sum;
        }
        double[] centred = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                centred[i * p + j] = 0.5 * (gram[i * p + j] + gram[j * p + i]) - h[i] - h[j] + s;
            }
        }
        return centred;
    }

    /**
     * FA's rank-1 quality on the centred Gram matrix. Deviations with ||g_i - z|| <= delta (the Weiszfeld
     * floor, below which Gram-space distances are rounding noise) are zeroed and get quality 1: a worker at
     * the centre is fitted exactly by any flag. Marks those in {@code zeroDeviation}.
     */
    double[] centredQuality(int p, double[] centred, double delta, boolean[] zeroDeviation) {
        double floor = delta * delta;
        double[] quality = new double[p];
        int usable = 0;
        for (int i = 0; i < p; i++) {
            zeroDeviation[i] = !(centred[i * p + i] > floor);
            usable += zeroDeviation[i] ? 0 : 1;
        }
        if (usable == 0) {
            Arrays.fill(quality, 1.0);
            return quality;
        }
        double[] masked = centred.clone();
        for (int i = 0; i < p; i++) {
            if (zeroDeviation[i]) {
                for (int j = 0; j < p; j++) {
                    masked[i * p + j] = 0;
                    masked[j * p + i] = 0;
                }
            }
        }
        FlagSolution rankOne = FlagSolver.solve(masked, p, options.withRank(1));
        for (int i = 0; i < p; i++) {
            quality[i] = zeroDeviation[i] ? 1.0 : rankOne.quality()[i];
        }
        return quality;
    }
}
