package org.flagagg.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.flagagg.fa.GramAccumulator;
import org.flagagg.kernels.Kernels;

/**
 * Runs a rule the way a round streams: inputs cut into chunks of uneven sizes, the Gram matrix folded
 * chunk by chunk in a shuffled order, solve, then apply chunk by chunk (again shuffled) over the rows of
 * the selected inputs only. Each chunk row is a copy of exactly len values, so a solution that reads
 * past the chunk fails.
 */
final class StreamingRun {

    record Result(Solution solution, double[] aggregate, double[] gram) {
    }

    private StreamingRun() {
    }

    static Result run(Rule rule, float[][] inputs, Kernels kernels, int chunkSize, long seed) {
        return run(rule, inputs, kernels, chunkSize, seed, false);
    }

    /** Chunk sizes vary in [1, 2 chunkSize - 1]; {@code parallelApply} applies chunks from several threads. */
    static Result run(Rule rule, float[][] inputs, Kernels kernels, int chunkSize, long seed, boolean parallelApply) {
        int p = inputs.length;
        int n = inputs[0].length;
        Random random = new Random(seed);
        List<int[]> chunks = new ArrayList<>(); // {offset, len}
        for (int offset = 0; offset < n; ) {
            int len = Math.min(n - offset, 1 + random.nextInt(2 * chunkSize - 1));
            chunks.add(new int[] {offset, len});
            offset += len;
        }

        double[] gram = null;
        if (rule.needsGram()) {
            GramAccumulator accumulator = new GramAccumulator(p, kernels);
            List<int[]> order = new ArrayList<>(chunks);
            Collections.shuffle(order, random);
            int[] all = IntStream.range(0, p).toArray();
            for (int[] chunk : order) {
                accumulator.fold(slice(inputs, all, chunk[0], chunk[1]), chunk[1]);
            }
            assert accumulator.coordinates() == n;
            gram = accumulator.gram();
        }

        Solution solution = rule.solve(p, gram);
        int[] selected = solution.selected();
        for (int k = 1; k < selected.length; k++) {
            if (selected[k] <= selected[k - 1]) {
                throw new AssertionError("selected() not strictly ascending: " + Arrays.toString(selected));
            }
        }
        double[] aggregate = new double[n];
        Arrays.fill(aggregate, Double.NaN); // so a coordinate left unwritten shows
        List<int[]> order = new ArrayList<>(chunks);
        Collections.shuffle(order, random);
        if (parallelApply) {
            order.parallelStream().forEach(chunk ->
                    solution.apply(slice(inputs, selected, chunk[0], chunk[1]), chunk[1], aggregate, chunk[0]));
        } else {
            for (int[] chunk : order) {
                solution.apply(slice(inputs, selected, chunk[0], chunk[1]), chunk[1], aggregate, chunk[0]);
            }
        }
        return new Result(solution, aggregate, gram);
    }

    private static float[][] slice(float[][] inputs, int[] rows, int offset, int len) {
        float[][] chunk = new float[rows.length][];
        for (int k = 0; k < rows.length; k++) {
            chunk[k] = Arrays.copyOfRange(inputs[rows[k]], offset, offset + len);
        }
        return chunk;
    }
}
