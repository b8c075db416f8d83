package org.flagagg.round;

import java.io.IOException;
import java.util.Arrays;
import org.flagagg.fa.GramAccumulator;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Solution;

/**
 * The math of one round, the same for the engine and the offline {@link Aggregation}: fold the Gram matrix
 * over a coordinate range, solve the rule in p x p space, and run the output pass over a coordinate range.
 * Ranges are cut at chunk boundaries (the Gram partial sums are per chunk, so the same chunks give the same
 * bits in any order) and read {@link #BLOCK} coordinates at a time, so a shard can run one range.
 *
 * <p>Rows are the inputs 0..p-1 as the caller numbers them (the engine's slots, the offline source's
 * workers); {@link Rows} reads them. Fold and output calls may run on several threads at once.
 */
public final class RoundPipeline {
    /**
     * Coordinates read per step: the rows of one step (16 x 64 KiB at p = 16) stay in the cache however large
     * the chunks. Whole 4 MiB chunks were 64 MiB per column, read, written to scratch and read again.
     */
    public static final int BLOCK = 8 * Kernels.TILE;

    /** Per thread: row buffers of one block and the output block. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Reads row {@code row}'s coordinates [offset, offset + count) into dst[0, count); never crosses a chunk. */
    @FunctionalInterface
    public interface Rows {
        void read(int row, long offset, int count, float[] dst) throws IOException;
    }

    private final Rule rule;
    private final int p;
    private final int chunk;
    private final GramAccumulator gram;

    /** A pipeline for p rows cut into chunks of {@code chunk} coordinates; it folds only if the rule needs Gram. */
    public RoundPipeline(Rule rule, int p, int chunk, Kernels kernels) {
        if (chunk < 1) {
            throw new IllegalArgumentException("chunk size must be >= 1, got " + chunk);
        }
        this.rule = rule;
        this.p = p;
        this.chunk = chunk;
        this.gram = rule.needsGram() ? new GramAccumulator(p, kernels) : null;
    }

    /** The number of rows, p. */
    public int rows() {
        return p;
    }

    public boolean folds() {
        return gram != null;
    }

    /**
     * Folds coordinates [from, to) of the rows marked in {@code live} (length p) into the Gram matrix, one
     * chunk at a time. Nothing to do when the rule needs no Gram matrix.
     */
    public void fold(boolean[] live, long from, long to, Rows rows) throws IOException {
        if (gram == null) {
            return;
        }
        float[][] buffers = SCRATCH.get().rows(p);
        float[][] present = new float[p][];
        for (int r = 0; r < p; r++) {
            present[r] = live[r] ? buffers[r] : null;
        }
        for (long start = from; start < to; ) {
            long chunkStart = start;
            int len = (int) (Math.min(to, (start / chunk + 1) * (long) chunk) - start);
            try {
                gram.fold(present, len, BLOCK, (at, count) -> {
                    for (int r = 0; r < p; r++) {
                        if (present[r] != null) {
                            read(rows, r, chunkStart + at, count, present[r]);
                        }
                    }
                });
            } catch (ReadFailure e) {
                throw e.failure;
            }
            start += len;
        }
    }

    /** The rule solved over {@code rows} (ascending): its input i is row rows[i]. */
    public Solution solve(int[] rows) {
        return rule.solve(rows.length, gramOf(rows));
    }

    /** The Gram matrix of {@code rows} (ascending), row-major; null when the rule needs none. */
    public double[] gramOf(int[] rows) {
        return gram == null ? null : gram.gram(rows);
    }

    /**
     * The rule solved over n rows with their Gram matrix as given (null when it needs none): a shard solves
     * on the summed matrix the coordinator sends, the same input as the coordinator's {@link #solve}.
     */
    public Solution solve(int n, double[] gramOfRows) {
        return rule.solve(n, gramOfRows);
    }

    /** This pipeline's partial Gram matrix as both double-double words (a shard's fold); null without Gram. */
    public double[][] exportGram() {
        return gram == null ? null : gram.export();
    }

    /** Adds a shard's {@link #exportGram} to this pipeline's Gram matrix (the coordinator, in shard order). */
    public void mergeGram(double[] hi, double[] lo) {
        if (gram != null) {
            gram.merge(hi, lo);
        }
    }

    /**
     * The output pass over [from, to): {@code rows[k]} is the row holding the solution's selected input k;
     * the aggregate goes to {@code sink} block by block, in coordinate order.
     */
    public void output(Solution solution, int[] rows, long from, long to, Rows reader, AggregateSink sink)
            throws IOException {
        Scratch scratch = SCRATCH.get();
        float[][] buffers = Arrays.copyOf(scratch.rows(rows.length), rows.length);
        double[] out = scratch.out;
        for (long start = from; start < to; ) {
            long chunkEnd = Math.min(to, (start / chunk + 1) * (long) chunk);
            int n = (int) Math.min(BLOCK, chunkEnd - start);
            for (int k = 0; k < rows.length; k++) {
                reader.read(rows[k], start, n, buffers[k]);
            }
            solution.apply(buffers, n, out, 0);
            sink.accept(start, out, n);
            start += n;
        }
    }

    /** Reads inside the Gram fold's block callback, which cannot throw IOException: fold() unwraps it. */
    private static void read(Rows rows, int row, long offset, int count, float[] dst) {
        try {
            rows.read(row, offset, count, dst);
        } catch (IOException e) {
            throw new ReadFailure(e);
        }
    }

    private static final class ReadFailure extends RuntimeException {
        final IOException failure;

        ReadFailure(IOException cause) {
            super(cause);
            this.failure = cause;
        }
    }

    /** One thread's buffers, grown to the largest p it has seen. */
    private static final class Scratch {
        float[][] rows = new float[0][];
        final double[] out = new double[BLOCK];

        float[][] rows(int n) {
            if (rows.length < n) {
                int had = rows.length;
                rows = Arrays.copyOf(rows, n);
                for (int r = had; r < n; r++) {
                    rows[r] = new float[BLOCK];
                }
            }
            return rows;
        }
    }
}
