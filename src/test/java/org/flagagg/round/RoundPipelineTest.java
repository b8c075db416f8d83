package org.flagagg.round;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Details;
import org.flagagg.rules.LinearSolution;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Solution;
import org.junit.jupiter.api.Test;

class RoundPipelineTest {
    static final int P = 5;
    /** Not a multiple of the block, so ranges and blocks end inside and at chunk boundaries. */
    static final int CHUNK = RoundPipeline.BLOCK + 3000;
    static final int N = 3 * CHUNK + 1234;

    static float[][] gradients(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[][] g = new float[P][N];
        for (float[] row : g) {
            for (int i = 0; i < N; i++) {
                row[i] = (float) random.nextGaussian();
            }
        }
        return g;
    }

    /** A linear rule that keeps the Gram matrix it was given and mixes its inputs with fixed coefficients. */
    static final class Capturing implements Rule {
        double[] gram;

        @Override
        public String name() {
            return "capturing";
        }

        @Override
        public Set<Pass> passes() {
            return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
        }

        @Override
        public void validate(int p) {
        }

        @Override
        public Solution solve(int p, double[] gram) {
            this.gram = gram;
            return new LinearSolution(new int[] {0, p - 1}, new double[] {0.25, -1.5}, Map.of(), Details.EMPTY);
        }
    }

    static RoundPipeline.Rows rows(float[][] g, List<long[]> reads) {
        return (row, offset, count, dst) -> {
            reads.add(new long[] {offset, count});
            System.arraycopy(g[row], (int) offset, dst, 0, count);
        };
    }

    @Test
    void foldingRangesInAnyOrderGivesTheGramOfTheLiveRows() throws Exception {
        float[][] g = gradients(11);
        Capturing rule = new Capturing();
        RoundPipeline pipeline = new RoundPipeline(rule, P, CHUNK, Kernels.best());
        boolean[] live = {true, false, true, true, true};
        List<long[]> reads = new ArrayList<>();
        // Two ranges, the later one first, the cut on a chunk boundary as the engine's columns are.
        pipeline.fold(live, 2L * CHUNK, N, rows(g, reads));
        pipeline.fold(live, 0, 2L * CHUNK, rows(g, reads));
        int[] kept = {0, 2, 3, 4};
        pipeline.solve(kept);

        for (int a = 0; a < kept.length; a++) {
            for (int b = 0; b < kept.length; b++) {
                double dot = 0;
                for (int i = 0; i < N; i++) {
                    dot += (double) g[kept[a]][i] * g[kept[b]][i];
                }
                assertThat(rule.gram[a * kept.length + b]).as("G[%d][%d]", a, b).isCloseTo(dot, within(1e-9 * N));
            }
        }
        assertThat(reads).allSatisfy(r -> {
            assertThat(r[1]).isBetween(1L, (long) RoundPipeline.BLOCK);
            assertThat(r[0] / CHUNK).as("a read stays in one chunk").isEqualTo((r[0] + r[1] - 1) / CHUNK);
        });
    }

    @Test
    void theOutputPassOverARangeIsTheSolutionsCombination() throws Exception {
        float[][] g = gradients(12);
        Capturing rule = new Capturing();
        RoundPipeline pipeline = new RoundPipeline(rule, P, CHUNK, Kernels.best());
        Solution solution = pipeline.solve(new int[] {0, 1, 2, 3, 4});
        int[] rowsOfSelected = {1, 3}; // the caller's rows of the solution's selected inputs
        long from = CHUNK - 100;
        long to = 3L * CHUNK + 17;
        double[] out = new double[N];
        long[] next = {from};
        pipeline.output(solution, rowsOfSelected, from, to, rows(g, new ArrayList<>()), (offset, values, len) -> {
            assertThat(offset).as("blocks come in order, without gaps").isEqualTo(next[0]);
            assertThat(offset / CHUNK).as("a block stays in one chunk").isEqualTo((offset + len - 1) / CHUNK);
            System.arraycopy(values, 0, out, (int) offset, len);
            next[0] += len;
        });
        assertThat(next[0]).isEqualTo(to);
        for (int i = (int) from; i < to; i++) {
            double expected = 0.25 * g[1][i] - 1.5 * g[3][i];
            assertThat(out[i]).as("coordinate %d", i).isCloseTo(expected, within(1e-12));
        }
    }
}
