package org.flagagg.round;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Details;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Solution;

/**
 * Runs a rule over a re-readable source in two streaming passes of the {@link RoundPipeline} (the engine's
 * too), memory bounded per thread by a block per worker and two strips of the aggregate (1 MiB): pass 1
 * checks every value is finite and folds the Gram matrix (when the rule needs it), the rule solves in
 * p x p space, and pass 2 turns blocks of the selected gradients into blocks of the aggregate.
 *
 * <p>Both passes can run on several threads, split by coordinate range (the pipeline's ranges give the same
 * bits in any split): pass 1 hands out whole chunks, pass 2 computes strips of the aggregate in parallel
 * while the caller's thread hands the previous strip to the sink, which still sees one thread and
 * coordinate order.
 */
public final class Aggregation {
    /** Coordinates of aggregate per thread in one strip of pass 2: 4 blocks (512 KiB of doubles). */
    static final int STRIP_PER_THREAD = 4 * RoundPipeline.BLOCK;

    private final Rule rule;
    private final int chunk;
    private final Kernels kernels;
    private final int threads;

    /** An aggregation on the caller's thread alone. */
    public Aggregation(Rule rule, int chunk, Kernels kernels) {
        this(rule, chunk, kernels, 1);
    }

    /** An aggregation on {@code threads} threads (1: the caller's alone); the source must then allow concurrent reads. */
    public Aggregation(Rule rule, int chunk, Kernels kernels, int threads) {
        if (chunk < 1) {
            throw new IllegalArgumentException("chunk size must be >= 1, got " + chunk);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.rule = rule;
        this.chunk = chunk;
        this.kernels = kernels;
        this.threads = threads;
    }

    /** Aggregates {@code source}, handing the result to {@code sink}; returns what happened. */
    public AggregationResult run(GradientSource source, AggregateSink sink) throws IOException {
        int p = source.workers();
        long n = source.dimension();
        rule.validate(p);
        ExecutorService pool = threads == 1 ? null : Executors.newFixedThreadPool(threads, new Named());
        try {
            return run(source, sink, p, n, pool);
        } finally {
            if (pool != null) {
                // After a failure, parts of a strip may still be running: let them end before the caller
                // closes the source.
                pool.shutdownNow();
                awaitQuietly(pool);
            }
        }
    }

    private AggregationResult run(GradientSource source, AggregateSink sink, int p, long n, ExecutorService pool)
            throws IOException {
        long t0 = System.nanoTime();

        // Pass 1: finiteness of every worker, and the Gram matrix of all of them. A block holding a non-finite
        // value is zeroed so no NaN enters the sums, and its worker is dropped after the pass, with its Gram
        // row: an entry involves only its own two rows, so the others' stay exact. Every worker stays in
        // every chunk's fold, so the kept entries have the same bits whatever the threads did.
        RoundPipeline pipeline = new RoundPipeline(rule, p, chunk, kernels);
        Map<Integer, NonFinite> bad = new ConcurrentHashMap<>();
        RoundPipeline.Rows checked = (w, offset, count, dst) -> {
            source.read(w, offset, count, dst);
            int at = kernels.firstNonFinite(dst, 0, count);
            if (at >= 0) {
                bad.merge(w, new NonFinite(offset + at, dst[at]), NonFinite::first);
                Arrays.fill(dst, 0, count, 0f);
            }
        };
        boolean[] all = new boolean[p];
        Arrays.fill(all, true);
        long chunks = (n + chunk - 1) / chunk;
        AtomicLong nextChunk = new AtomicLong();
        onThreads(pool, () -> {
            float[] scan = new float[RoundPipeline.BLOCK];
            try {
                for (long c = nextChunk.getAndIncrement(); c < chunks; c = nextChunk.getAndIncrement()) {
                    long from = c * chunk;
                    long to = Math.min(n, from + chunk);
                    if (pipeline.folds()) {
                        pipeline.fold(all, from, to, checked);
                        continue;
                    }
                    for (int w = 0; w < p; w++) {
                        // Past a known bad value, nothing earlier can turn up in this chunk.
                        for (long at = from; at < to && !knownBadBefore(bad, w, at); at += scan.length) {
                            checked.read(w, at, (int) Math.min(scan.length, to - at), scan);
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                nextChunk.set(chunks); // the other threads stop at their current chunk
                throw e;
            }
        });
        Map<Integer, String> dropped = new TreeMap<>();
        bad.forEach((w, first) -> dropped.put(w, "non-finite value " + first.value + " at coordinate " + first.coordinate));
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
        if (pool == null) {
            pipeline.output(solution, selected, 0, n, source::read, sink);
        } else {
            outputInStrips(pipeline, solution, selected, n, source, sink, pool);
        }
        long t3 = System.nanoTime();
        return new AggregationResult(rule.name(), p, n, kept, selected, dropped, solution.coefficients(),
                solution.details() == null ? Details.EMPTY : solution.details(),
                new AggregationResult.Timings(millis(t1 - t0), millis(t2 - t1), millis(t3 - t2)), kernels.name());
    }

    /**
     * Pass 2 on the pool: strip k + 1 is computed (each thread a part) while this thread hands strip k to the
     * sink. Strips never cross a chunk boundary, so each goes to the sink in one call; two strip buffers,
     * whatever n.
     */
    private void outputInStrips(RoundPipeline pipeline, Solution solution, int[] selected, long n,
                                GradientSource source, AggregateSink sink, ExecutorService pool) throws IOException {
        int strip = threads * STRIP_PER_THREAD;
        double[][] buffers = {new double[strip], new double[strip]};
        int current = 0;
        long start = 0;
        long end = stripEnd(0, n, strip);
        List<Future<?>> computing = computeStrip(pipeline, solution, selected, 0, end, source, buffers[0], pool);
        while (start < n) {
            await(computing);
            long next = stripEnd(end, n, strip);
            if (end < n) {
                computing = computeStrip(pipeline, solution, selected, end, next, source, buffers[1 - current], pool);
            }
            sink.accept(start, buffers[current], (int) (end - start));
            current = 1 - current;
            start = end;
            end = next;
        }
    }

    private long stripEnd(long start, long n, int strip) {
        return Math.min(Math.min(n, start + strip), (start / chunk + 1) * (long) chunk);
    }

    /**
     * Starts the pool's threads on parts of [start, end) of the aggregate, written to into[0, end - start). Parts
     * are whole blocks from the strip's start (a chunk boundary or a whole number of blocks after one), so
     * every block is the one a single thread would compute: kernels treat a block's tail apart, and a
     * different cut could change the last bits.
     */
    private List<Future<?>> computeStrip(RoundPipeline pipeline, Solution solution, int[] selected, long start, long end,
                                         GradientSource source, double[] into, ExecutorService pool) {
        long blocks = (end - start + RoundPipeline.BLOCK - 1) / RoundPipeline.BLOCK;
        long part = (blocks + threads - 1) / threads * RoundPipeline.BLOCK;
        List<Future<?>> parts = new ArrayList<>(threads);
        for (long from = start; from < end; from += part) {
            long partFrom = from;
            long partTo = Math.min(end, from + part);
            parts.add(pool.submit(() -> {
                pipeline.output(solution, selected, partFrom, partTo, source::read,
                        (offset, values, len) -> System.arraycopy(values, 0, into, (int) (offset - start), len));
                return null;
            }));
        }
        return parts;
    }

    /** A unit of work that may fail with an IOException. */
    private interface Work {
        void run() throws IOException;
    }

    /** Runs {@code work} once on each of the pool's threads (or once here without a pool) and waits. */
    private void onThreads(ExecutorService pool, Work work) throws IOException {
        if (pool == null) {
            work.run();
            return;
        }
        List<Future<?>> running = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            running.add(pool.submit(() -> {
                work.run();
                return null;
            }));
        }
        await(running);
    }

    /** Waits for all; the first failure is rethrown as it was thrown (the pool is shut down by the caller). */
    private static void await(List<Future<?>> futures) throws IOException {
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while aggregating", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) {
                    throw io;
                }
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new IOException(cause);
            }
        }
    }

    private static void awaitQuietly(ExecutorService pool) {
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean knownBadBefore(Map<Integer, NonFinite> bad, int worker, long coordinate) {
        NonFinite first = bad.get(worker);
        return first != null && first.coordinate < coordinate;
    }

    /** A worker's first non-finite value seen so far (the lowest coordinate wins, whatever thread saw it). */
    private record NonFinite(long coordinate, float value) {
        static NonFinite first(NonFinite a, NonFinite b) {
            return a.coordinate <= b.coordinate ? a : b;
        }
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }

    /** Daemon threads named for thread dumps. */
    private static final class Named implements ThreadFactory {
        private final AtomicInteger count = new AtomicInteger();

        @Override
        public Thread newThread(Runnable r) {
            Thread t = new Thread(r, "aggregation-" + count.getAndIncrement());
            t.setDaemon(true);
            return t;
        }
    }
}
