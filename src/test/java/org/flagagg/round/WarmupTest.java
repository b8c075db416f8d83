package org.flagagg.round;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.flagagg.kernels.Kernels;
import org.flagagg.rules.Rule;
import org.flagagg.rules.RuleConfig;
import org.flagagg.rules.Rules;
import org.junit.jupiter.api.Test;

/** The JIT warm-up runs the rule on its own data only: results before and after it are the same bits. */
class WarmupTest {
    private static final int P = RoundPipelineTest.P;
    private static final int N = RoundPipelineTest.N;

    private static double[] aggregate(Rule rule, float[][] g) throws Exception {
        double[] out = new double[N];
        new Aggregation(rule, RoundPipeline.BLOCK / 2, Kernels.best()).run(new ArraySource(g),
                (offset, values, len) -> System.arraycopy(values, 0, out, (int) offset, len));
        return out;
    }

    @Test
    void runsTheRuleOnTheCallingThreadAndLeavesAnotherAggregationBitIdentical() throws Exception {
        float[][] g = RoundPipelineTest.gradients(7);
        Rule flag = Rules.create(RuleConfig.of("flag"));
        Rule median = Rules.create(RuleConfig.of("median"));
        double[] flagBefore = aggregate(flag, g);
        double[] medianBefore = aggregate(median, g);

        Warmup.Report report = Warmup.run(flag, P, Kernels.best());
        Warmup.run(median, P, Kernels.best());

        assertThat(report.rule()).isEqualTo("flag");
        assertThat(report.p()).isEqualTo(P);
        assertThat(report.passes()).isBetween(1, Warmup.PASSES);
        assertThat(report.thread()).isEqualTo(Thread.currentThread().getName());
        // Same rule objects, same thread (so the same per-thread scratch buffers): still the same bits.
        assertThat(aggregate(flag, g)).containsExactly(flagBefore);
        assertThat(aggregate(median, g)).containsExactly(medianBefore);
        // And the median is what it should be, worked out here with a plain sort.
        for (int k = 0; k < N; k += 997) {
            double[] column = new double[P];
            for (int i = 0; i < P; i++) {
                column[i] = g[i][k];
            }
            java.util.Arrays.sort(column);
            assertThat(medianBefore[k]).as("coordinate " + k).isCloseTo(column[P / 2], within(1e-12));
        }
    }

    @Test
    void runsOncePerRuleAndPAndSkipsARuleThatDoesNotFitP() {
        Rule mean = Rules.create(RuleConfig.of("mean"));
        assertThat(Warmup.reportOf("mean", 9)).as("before any run").isNull();
        Warmup.Report first = Warmup.once(mean, 9, Kernels.best());
        assertThat(first.p()).isEqualTo(9);
        assertThat(Warmup.once(mean, 9, Kernels.best())).isSameAs(first);
        assertThat(Warmup.reportOf("mean", 9)).isSameAs(first);

        // Krum with f = 2 needs p >= 2f + 3 = 7: at p = 4 the real round refuses it, the warm-up does nothing.
        Rule krum = Rules.create(RuleConfig.of("krum").withF(2));
        assertThat(Warmup.once(krum, 4, Kernels.best())).isNull();
        assertThat(Warmup.reportOf("krum", 4)).isNull();
    }

    @Test
    void theSyntheticBlockTakesEveryChunkAndBlockBranch() {
        // Two chunks, each of more than one block, the last one short and ending inside a tile.
        assertThat(Warmup.DIM).isGreaterThan(Warmup.CHUNK + RoundPipeline.BLOCK);
        assertThat(Warmup.CHUNK % RoundPipeline.BLOCK).isZero();
        assertThat(Warmup.CHUNK / RoundPipeline.BLOCK).isGreaterThan(1);
        assertThat(Warmup.DIM % Kernels.TILE % 4).isNotZero();
        float[][] g = Warmup.gradients(3, Warmup.DIM);
        for (float[] row : g) {
            for (float v : row) {
                assertThat(Float.isFinite(v)).isTrue();
            }
        }
    }
}
