package org.flagagg.round;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Details;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Solution;

/**
 * Runs a rule over a re-readable source in two streaming passes of the {@link RoundPipeline} (the engine's
 * too), memory bounded by a block per worker: pass 1 checks every value is finite and folds the Gram matrix
 * (when the rule needs it), the rule solves in p x p space, and pass 2 turns blocks of the selected gradients
 * into blocks of the aggregate.
 */
public final class Aggregation {
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

    /** Aggregates {@code source}, handing the result to {@code sink}; returns what happened. */
    public AggregationResult run(GradientSource source, AggregateSink sink) throws IOException {
        int p = source.workers();
        long n = source.dimension();
        rule.validate(p);
        long t0 = System.nanoTime();

        // Pass 1: finiteness of every worker, and the Gram matrix of all of them. A worker found non-finite
        // is dropped from the next chunk on and its Gram row with it: an entry involves only its own two rows,
        // so the others' stay exact (its bad block is zeroed so no NaN enters the sums).
        RoundPipeline pipeline = new RoundPipeline(rule, p, chunk, kernels);
        Map<Integer, String> dropped = new TreeMap<>();
        RoundPipeline.Rows checked = (w, offset, count, dst) -> {
            source.read(w, offset, count, dst);
            int bad = kernels.firstNonFinite(dst, 0, count);
            if (bad >= 0) {
                dropped.putIfAbsent(w, "non-finite value " + dst[bad] + " at coordinate " + (offset + bad));
                Arrays.fill(dst, 0, count, 0f);
            }
        };
        boolean[] live = new boolean[p];
        float[] scan = new float[RoundPipeline.BLOCK];
        for (long offset = 0; offset < n; offset += chunk) {
            long end = Math.min(n, offset + chunk);
            for (int w = 0; w < p; w++) {
                live[w] = !dropped.containsKey(w);
            }
            if (pipeline.folds()) {
                pipeline.fold(live, offset, end, checked);
            } else {
                for (int w = 0; w < p; w++) {
                    for (long at = offset; live[w] && at < end; at += scan.length) {
                        checked.read(w, at, (int) Math.min(scan.length, end - at), scan);
                    }
                }
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

        Solution solution = pipeline.solve(kept);
        solution.dropped().forEach((input, reason) -> dropped.put(kept[input], reason));
        int[] selected = new int[solution.selected().length];
        for (int k = 0; k < selected.length; k++) {
            selected[k] = kept[solution.selected()[k]];
        }
        long t2 = System.nanoTime();

        // Pass 2: the aggregate from the selected workers only.
        pipeline.output(solution, selected, 0, n, source::read, sink);
        long t3 = System.nanoTime();
        return new AggregationResult(rule.name(), p, n, kept, selected, dropped, solution.coefficients(),
                solution.details() == null ? Details.EMPTY : solution.details(),
                new AggregationResult.Timings(millis(t1 - t0), millis(t2 - t1), millis(t3 - t2)), kernels.name());
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }
}
