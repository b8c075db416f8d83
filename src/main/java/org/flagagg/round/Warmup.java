package org.flagagg.round;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Rule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a rule's hot code to the JIT's top tier (C2) before the first real round: the {@link Aggregation}
 * (the {@link RoundPipeline}'s fold, solve and output, the same kernels the engine runs) over a small
 * synthetic block, a few times, after many short calls of the kernels themselves and of the chunk check.
 * Without it the first 640 MB round runs the Vector API kernels interpreted and in C1, where every vector
 * operation allocates: docs/benchmarks.md ("Cold start").
 *
 * <p>It touches nothing but the JIT's state: its own pipeline, its own data, its result discarded. Callers
 * run it on a worker thread, never an event loop; {@link #once} runs it at most once per JVM for a rule and p.
 */
public final class Warmup {
    /**
     * Kernel calls of the first phase, each over a few dozen coordinates: the JIT counts calls and loop
     * iterations, not bytes, so short calls reach C2's thresholds (Tier4: 600 calls and 15000 calls plus
     * iterations) at a small fraction of the interpreted work one real block would take.
     */
    static final int KERNEL_CALLS = 600;
    /** Coordinates per kernel call, alternating so that the loops' 4-wide remainders are both taken and not. */
    static final int SHORT = 64;
    /**
     * Synthetic coordinates of the second phase, in chunks of two blocks, the last one short with a ragged
     * tail: every loop and branch a real round takes is taken here too, so the code compiled for the pipeline
     * does not deoptimise on the first real chunk (C2 compiles a branch it never saw taken as a trap).
     */
    static final int DIM = 3 * RoundPipeline.BLOCK + 1003;
    static final int CHUNK = 2 * RoundPipeline.BLOCK;
    /** Passes of the second phase at most (docs/benchmarks.md, "Cold start")... */
    static final int PASSES = 4;
    /** ...and none starts after this long: on a loaded machine the warm-up stops early rather than late. */
    static final long BUDGET_NANOS = 400_000_000L;

    /** What ran: the rule and p, the passes made, how long, and on which thread. */
    public record Report(String rule, int p, int passes, long nanos, String thread) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(Warmup.class);
    private static final Map<String, CompletableFuture<Report>> ONCE = new ConcurrentHashMap<>();

    private Warmup() {
    }

    /**
     * {@link #run} the first time it is asked for this rule and p in this JVM; later calls wait for that run
     * and share its report. A failure is logged, not thrown (null): the server runs cold rather than not at all;
     * nothing runs (null) when the rule does not accept p.
     */
    public static Report once(Rule rule, int p, Kernels kernels) {
        try {
            rule.validate(p);
        } catch (IllegalArgumentException e) {
            return null; // the real round or aggregation says what is wrong, once
        }
        CompletableFuture<Report> mine = new CompletableFuture<>();
        CompletableFuture<Report> first = ONCE.putIfAbsent(key(rule.name(), p), mine);
        if (first != null) {
            return first.join();
        }
        Report report = null;
        try {
            report = run(rule, p, kernels);
            LOG.debug("JIT warm-up of {} at p = {}: {} ms", rule.name(), p, report.nanos() / 1_000_000);
        } catch (RuntimeException e) {
            LOG.warn("JIT warm-up of {} at p = {} failed, the first rounds run cold: {}", rule.name(), p, e.toString());
        } finally {
            mine.complete(report); // even after an Error: later callers must not wait forever
        }
        return report;
    }

    /** The report of the {@link #once} run for this rule name and p, or null if none ran (or it is running). */
    public static Report reportOf(String rule, int p) {
        CompletableFuture<Report> run = ONCE.get(key(rule, p));
        return run == null ? null : run.getNow(null);
    }

    /**
     * Calls the kernels {@link #KERNEL_CALLS} times on short rows, then runs the rule over p synthetic
     * gradients of {@link #DIM} coordinates, {@link #PASSES} times or until {@link #BUDGET_NANOS} have passed
     * (at least once), on this thread.
     */
    public static Report run(Rule rule, int p, Kernels kernels) {
        rule.validate(p);
        long t0 = System.nanoTime();
        float[][] g = gradients(p, DIM);
        double[] sum = new double[1];
        double[] gram = new double[p * p];
        double[] coefficients = new double[p];
        Arrays.fill(coefficients, 1.0 / p);
        double[] out = new double[SHORT + 3];
        ByteBuffer bytes = ByteBuffer.allocate(4 * (SHORT + 3)).order(ByteOrder.LITTLE_ENDIAN);
        for (int call = 0; call < KERNEL_CALLS; call++) {
            int len = SHORT + (call & 1) * 3;
            kernels.gramFold(g, p, len, gram);
            kernels.combine(coefficients, g, p, len, out, 0);
            sum[0] += out[0] + kernels.firstNonFinite(g[call % p], 0, len) + kernels.firstNonFinite(bytes, len);
        }
        ArraySource source = new ArraySource(g);
        Aggregation aggregation = new Aggregation(rule, CHUNK, kernels);
        int pass = 0;
        while (pass < PASSES && (pass == 0 || System.nanoTime() - t0 < BUDGET_NANOS)) {
            try {
                aggregation.run(source, (offset, values, len) -> sum[0] += values[0]);
            } catch (IOException e) {
                throw new IllegalStateException("an in-memory source cannot fail", e);
            }
            pass++;
        }
        if (!Double.isFinite(sum[0] + gram[0])) {
            throw new IllegalStateException("warm-up aggregate is not finite");
        }
        return new Report(rule.name(), p, pass, System.nanoTime() - t0, Thread.currentThread().getName());
    }

    /**
     * p gradients near a shared direction (the last quarter opposed), so every rule has a proper solve; from
     * an integer hash, which costs little while the code is still interpreted.
     */
    static float[][] gradients(int p, int n) {
        float[][] g = new float[p][n];
        for (int k = 0; k < n; k++) {
            float direction = unit(k);
            for (int i = 0; i < p; i++) {
                g[i][k] = (i < p - p / 4 ? direction : -2 * direction) + 0.3f * unit(k * 31L + i + 1);
            }
        }
        return g;
    }

    /** A value in [-1, 1) from x (a multiplicative hash). */
    private static float unit(long x) {
        return ((x * 0x9E3779B97F4A7C15L) >>> 40) / (float) (1 << 23) - 1;
    }

    private static String key(String rule, int p) {
        return rule + "/" + p;
    }
}
