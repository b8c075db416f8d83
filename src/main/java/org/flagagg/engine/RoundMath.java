package org.flagagg.engine;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.List;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.ChunkKey;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.RoundPipeline;
import org.flagagg.rules.Solution;
import org.flagagg.wire.ChunkFrame;

/**
 * The worker-thread side of a round, against the chunk store: check and store a chunk, fold a column, solve,
 * and the output pass that encodes each aggregate chunk into its frame once. The verticle decides when
 * each runs; every method here runs on a math thread.
 */
final class RoundMath {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private final JobConfig job;
    private final ChunkStore store;
    private final Kernels kernels;
    private final int p;
    /** Per math thread: one aggregate chunk's values and its frame, for the output pass. */
    private final ThreadLocal<OutputScratch> scratch;

    RoundMath(JobConfig job, ChunkStore store, Kernels kernels) {
        this.job = job;
        this.store = store;
        this.kernels = kernels;
        this.p = job.workers();
        this.scratch = ThreadLocal.withInitial(() -> new OutputScratch(job.chunkCoords()));
    }

    /** Rejects non-finite values, stores the payload as it came. Returns a rejection reason or null. */
    String checkAndStore(RoundRun run, ChunkKey key, ChunkFrame.Header h, ByteBuffer frame) {
        long cpu0 = cpuNanos();
        try {
            ByteBuffer payload = ChunkFrame.payload(frame, h);
            int bad = kernels.firstNonFinite(payload, h.count());
            if (bad >= 0) {
                return "non-finite value " + payload.getFloat(4 * bad) + " at coordinate " + (h.offset() + bad);
            }
            store.put(key, payload);
            return null;
        } finally {
            run.addCpuNanos(cpuNanos() - cpu0);
        }
    }

    /** This thread's CPU time (0 where the JVM cannot measure it): per-shard CPU in the round record. */
    private static long cpuNanos() {
        return THREADS.isCurrentThreadCpuTimeSupported() ? THREADS.getCurrentThreadCpuTime() : 0;
    }

    /** Folds one column's chunks of the given slots, read from the store block by block. */
    void foldColumn(RoundRun run, int column, boolean[] rows) throws IOException {
        long t0 = System.nanoTime();
        long cpu0 = cpuNanos();
        long start = (long) column * job.chunkCoords();
        run.pipeline.fold(rows, start, start + job.chunkLength(column), storeRows(run.round.id()));
        run.addFoldNanos(System.nanoTime() - t0);
        run.addCpuNanos(cpuNanos() - cpu0);
    }

    /** The round's gradients in the store, as the pipeline reads them: row = slot, a range inside one chunk. */
    private RoundPipeline.Rows storeRows(long round) {
        return (slot, offset, count, dst) -> {
            int column = (int) (offset / job.chunkCoords());
            store.read(new ChunkKey(round, slot, column), (int) (offset - (long) column * job.chunkCoords()), count,
                    dst, 0);
        };
    }

    /** Folds the columns left over the participants, then solves in p x p space. */
    Solution solve(RoundRun run, int[] participants, List<Integer> unfolded) throws IOException {
        foldRest(run, participants, unfolded);
        return solve(run, participants);
    }

    /** Folds the columns never folded (waiting for a straggler) over the participants alone. */
    void foldRest(RoundRun run, int[] participants, List<Integer> unfolded) throws IOException {
        if (run.pipeline.folds()) {
            boolean[] rows = new boolean[p];
            for (int s : participants) {
                rows[s] = true;
            }
            for (int column : unfolded) {
                foldColumn(run, column, rows);
            }
        }
    }

    /** Solves in p x p space on the round's Gram matrix (all of it folded and merged). */
    Solution solve(RoundRun run, int[] participants) {
        long t0 = System.nanoTime();
        Solution solution = run.pipeline.solve(participants);
        run.solveNanos = System.nanoTime() - t0;
        return solution;
    }

    /**
     * The output pass over columns first, first + step, ... below end: each chunk's frame, encoded once, into
     * the store.
     */
    void output(RoundRun run, Solution solution, int[] selected, int first, int end, int step) throws IOException {
        long cpu0 = cpuNanos();
        long round = run.round.id();
        RoundPipeline.Rows rows = storeRows(round);
        OutputScratch own = scratch.get();
        for (int column = first; column < end; column += step) {
            long start = (long) column * job.chunkCoords();
            int len = job.chunkLength(column);
            run.pipeline.output(solution, selected, start, start + len, rows, (offset, out, n) -> {
                int at = (int) (offset - start);
                for (int i = 0; i < n; i++) {
                    own.values[at + i] = (float) out[i];
                }
            });
            int bytes = ChunkFrame.encode(ChunkFrame.KIND_AGGREGATE, round, 0, column, start, own.values, 0, len,
                    own.frame, 0);
            store.put(new ChunkKey(round, p, column), ByteBuffer.wrap(own.frame, 0, bytes));
        }
        run.addCpuNanos(cpuNanos() - cpu0);
    }

    /** One math thread's buffers for the output pass: a chunk's values and its frame. */
    private static final class OutputScratch {
        final float[] values;
        final byte[] frame;

        OutputScratch(int chunkCoords) {
            values = new float[chunkCoords];
            frame = new byte[ChunkFrame.frameBytes(chunkCoords)];
        }
    }
}
