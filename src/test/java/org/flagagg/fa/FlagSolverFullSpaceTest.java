package org.flagagg.fa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Gram-space solver against FA computed in full space with SVDs (FullSpaceFlag), on inputs where
 * workers lie in the flag or within 1e-10..1e-6 of it (duplicates, scaled duplicates, r at or above the
 * number of distinct directions, combinations of others, a worker IRLS captures): the same steps, the
 * same objective trace, the same aggregate to 1e-9, whole or folded in any chunking.
 */
class FlagSolverFullSpaceTest {

    record Case(String name, float[][] gradients, int rank, double lambda, int iterations) {
        @Override
        public String toString() {
            return name + " p=" + gradients.length + " n=" + gradients[0].length + " r=" + rank + " lambda=" + lambda
                    + " T=" + iterations;
        }

        FlagOptions options() {
            return Workers.PAPER.withRank(rank).withLambda(lambda).withIterations(iterations);
        }
    }

    private static final double[] LAMBDAS = {0, 0.7, 4};

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        // general inputs: r = 1, ceil(p/2), p
        addSomeRanks(cases, "random", Workers.gaussian(11, 8, 400, 1));
        addSomeRanks(cases, "clustered", Workers.clustered(12, 10, 7, 500));
        addSomeRanks(cases, "p=1", Workers.gaussian(14, 1, 5, 1));
        addSomeRanks(cases, "p=2", Workers.gaussian(15, 2, 4, 1));
        addSomeRanks(cases, "n<p", Workers.gaussian(16, 6, 3, 1));
        addSomeRanks(cases, "adversarial", Workers.adversarial(17, 400));
        addSomeRanks(cases, "larger", Workers.clustered(18, 12, 8, 1000));
        // workers in or near the flag: every r from 1 to p
        addEveryRank(cases, "one-uniform", Workers.oneUniform(19, 1070));
        addEveryRank(cases, "duplicates", Workers.rankDeficient(13, 300));
        addEveryRank(cases, "few-directions", Workers.fewDirections(20, 7, 3, 250));
        addEveryRank(cases, "combinations", Workers.combinations(21, 300));
        addEveryRank(cases, "near-flag", Workers.nearFlag(22, 600));
        return cases.stream();
    }

    private static void addSomeRanks(List<Case> cases, String name, float[][] g) {
        int p = g.length;
        for (int r : new TreeSet<>(List.of(1, (p + 1) / 2, p))) {
            for (double lambda : LAMBDAS) {
                cases.add(new Case(name, g, r, lambda, Workers.PAPER.iterations()));
            }
        }
    }

    /** Every rank; the default T, and T = 60 so that IRLS runs to its stopping rule and that rule is tested. */
    private static void addEveryRank(List<Case> cases, String name, float[][] g) {
        for (int r = 1; r <= g.length; r++) {
            for (double lambda : LAMBDAS) {
                cases.add(new Case(name, g, r, lambda, Workers.PAPER.iterations()));
                cases.add(new Case(name, g, r, lambda, 60));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesFullSpaceFlagAggregator(Case c) {
        FlagOptions options = c.options();
        FullSpaceFlag.Result full = reference(c, options);
        assertAgrees(FlagSolver.solve(Workers.gram(c.gradients()), c.gradients().length, options), full,
                c.gradients(), c);
    }

    /** The same inputs folded through GramAccumulator in uneven, shuffled chunks give the same solve. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void anyChunkingGivesTheSameStepsAndAggregate(Case c) {
        FlagOptions options = c.options();
        FullSpaceFlag.Result full = reference(c, options);
        int n = c.gradients()[0].length;
        Random random = new Random(c.toString().hashCode());
        for (int chunk : new int[] {1, 7, n / 3 + 1}) {
            for (Kernels kernels : List.of(Kernels.scalar(), Kernels.best())) {
                double[] gram = foldShuffled(c.gradients(), chunk, kernels, random);
                assertAgrees(FlagSolver.solve(gram, c.gradients().length, options), full, c.gradients(),
                        c + ", chunks of 1.." + (2 * chunk - 1) + ", " + kernels.name());
            }
        }
    }

    private static FullSpaceFlag.Result reference(Case c, FlagOptions options) {
        return FullSpaceFlag.run(c.gradients(), c.rank(), c.lambda(), options.iterations(), options.tol(),
                options.eps());
    }

    private static void assertAgrees(FlagSolution gramSide, FullSpaceFlag.Result full, float[][] g, Object what) {
        assertThat(gramSide.iterations()).as("IRLS steps, %s; objective %s vs %s", what,
                Arrays.toString(gramSide.objective()), Arrays.toString(full.objective()))
                .isEqualTo(full.iterations());
        assertThat(gramSide.objective()).as("objective trace, %s", what)
                .containsExactly(full.objective(), within(1e-9 * Math.max(1, full.objective()[0])));
        assertThat(gramSide.columns()).as("flag columns, %s", what).isEqualTo(full.columns());
        for (int i = 0; i < full.quality().length; i++) {
            assertThat(gramSide.quality()[i]).as("quality %d, %s", i, what)
                    .isCloseTo(Math.min(1, full.quality()[i]), within(1e-9));
        }
        double[] a = Workers.combine(gramSide.coefficients(), g);
        assertThat(Workers.distance(a, full.aggregate())).as("aggregate, %s", what)
                .isLessThanOrEqualTo(1e-9 * Workers.norm(full.aggregate()));
    }

    /** G folded from chunks of 1..2 chunk - 1 coordinates, in a shuffled order. */
    private static double[] foldShuffled(float[][] g, int chunk, Kernels kernels, Random random) {
        int n = g[0].length;
        List<int[]> ranges = new ArrayList<>();
        for (int from = 0; from < n; ) {
            int len = Math.min(n - from, 1 + random.nextInt(2 * chunk - 1));
            ranges.add(new int[] {from, len});
            from += len;
        }
        Collections.shuffle(ranges, random);
        GramAccumulator accumulator = new GramAccumulator(g.length, kernels);
        for (int[] range : ranges) {
            float[][] rows = IntStream.range(0, g.length)
                    .mapToObj(i -> Arrays.copyOfRange(g[i], range[0], range[0] + range[1]))
                    .toArray(float[][]::new);
            accumulator.fold(rows, range[1]);
        }
        return accumulator.gram();
    }
}
