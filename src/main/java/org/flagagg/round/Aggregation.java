package org.flagagg.round;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import org.flagagg.fa.GramAccumulator;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Details;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Solution;

/**
 * Runs a rule over a re-readable source in two streaming passes with memory bounded by the chunk size:
 * pass 1 checks every value is finite and folds the Gram matrix (when the rule needs it), the rule solves
 * in p x p space, and pass 2 turns chunks of the selected gradients into chunks of the aggregate.
 */
public final class Aggregation {
    /** Default chunk: 64 Ki coordinates, 256 KiB of float32 per worker. */
    public static final int DEFAULT_CHUNK = 1 << 16;

    private final Rule rule;
    private final int chunk;
    private final Kernels kernels;

    public Aggregation(Rule rule, int chunk, Kernels kernels) {
        if (chunk < 1) {
            throw new IllegalArgumentException("chunk size must be >= 1, got " + chunk);
        }
        this.rule = rule;
        this.chunk = chunk;
        this.kernels = kernels;
    }

    public Aggregation(Rule rule) {
        this(rule, DEFAULT_CHUNK, Kernels.best());
    }

    /** Aggregates {@code source}, handing the result to {@code sink}; returns what happened. */
    public AggregationResult run(GradientSource source, AggregateSink sink) throws IOException {
        int p = source.workers();
        long n = source.dimension();
        rule.validate(p);
        long t0 = System.nanoTime();

        // Pass 1: finiteness of every worker, and the Gram matrix of all of them; a worker found
        // non-finite is dropped below with its Gram row, so the others' entries stay exact.
        Map<Integer, String> dropped = new TreeMap<>();
        GramAccumulator gram = rule.needsGram() ? new GramAccumulator(p, kernels) : null;
        float[][] rows = new float[p][chunk];
        float[][] live = new float[p][];
        for (long offset = 0; offset < n; offset += chunk) {
            int len = (int) Math.min(chunk, n - offset);
            for (int w = 0; w < p; w++) {
                if (dropped.containsKey(w)) {
                    live[w] = null;
                    continue;
                }
                source.read(w, offset, len, rows[w]);
                int bad = kernels.firstNonFinite(rows[w], 0, len);
                if (bad >= 0) {
                    dropped.put(w, "non-finite value " + rows[w][bad] + " at coordinate " + (offset + bad));
                    live[w] = null;
                } else {
                    live[w] = rows[w];
                }
            }
            if (gram != null) {
                gram.fold(live, len);
            }
        }
        int[] kept = new int[p - dropped.size()];
        for (int w = 0, k = 0; w < p; w++) {
            if (!dropped.containsKey(w)) {
                kept[k++] = w;
            }
        }
        if (kept.length == 0) {
            throw new IllegalArgumentException("no gradient left: all " + p + " have non-finite values");
        }
        long t1 = System.nanoTime();

        Solution solution = rule.solve(kept.length, gram == null ? null : gram.gram(kept));
        solution.dropped().forEach((input, reason) -> dropped.put(kept[input], reason));
        int[] selected = new int[solution.selected().length];
        for (int k = 0; k < selected.length; k++) {
            selected[k] = kept[solution.selected()[k]];
        }
        long t2 = System.nanoTime();

        // Pass 2: the aggregate, chunk by chunk, from the selected workers only.
        float[][] picked = new float[selected.length][];
        for (int k = 0; k < selected.length; k++) {
            picked[k] = rows[selected[k]];
        }
        double[] out = new double[chunk];
        for (long offset = 0; offset < n; offset += chunk) {
            int len = (int) Math.min(chunk, n - offset);
            for (int k = 0; k < selected.length; k++) {
                source.read(selected[k], offset, len, picked[k]);
            }
            solution.apply(picked, len, out, 0);
            sink.accept(offset, out, len);
        }
        long t3 = System.nanoTime();
        return new AggregationResult(rule.name(), p, n, kept, selected, dropped, solution.coefficients(),
                solution.details() == null ? Details.EMPTY : solution.details(),
                new AggregationResult.Timings(millis(t1 - t0), millis(t2 - t1), millis(t3 - t2)), kernels.name());
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }
}
