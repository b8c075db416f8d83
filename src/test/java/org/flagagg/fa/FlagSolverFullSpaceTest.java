package org.flagagg.fa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The Gram-space solver against FA computed in full space with SVDs (FullSpaceFlag). */
class FlagSolverFullSpaceTest {

    /** How accurately both sides get the projections ||Y^T x_i||^2. */
    private static final double PROJECTION_ACCURACY = 1e-13;

    record Case(String name, float[][] gradients, int rank, double lambda) {
        @Override
        public String toString() {
            return name + " p=" + gradients.length + " n=" + gradients[0].length + " r=" + rank + " lambda=" + lambda;
        }
    }

    static Stream<Case> cases() {
        List<Case> cases = new ArrayList<>();
        addAll(cases, "random", Workers.gaussian(11, 8, 400, 1));
        addAll(cases, "clustered", Workers.clustered(12, 10, 7, 500));
        addAll(cases, "rank-deficient", Workers.rankDeficient(13, 300));
        addAll(cases, "p=1", Workers.gaussian(14, 1, 5, 1));
        addAll(cases, "p=2", Workers.gaussian(15, 2, 4, 1));
        addAll(cases, "n<p", Workers.gaussian(16, 6, 3, 1));
        addAll(cases, "adversarial", Workers.adversarial(17, 400));
        addAll(cases, "larger", Workers.clustered(18, 12, 8, 1000));
        return cases.stream();
    }

    private static void addAll(List<Case> cases, String name, float[][] g) {
        int p = g.length;
        for (int r : new TreeSet<>(List.of(1, (p + 1) / 2, p))) {
            for (double lambda : new double[] {0, 1, 5}) {
                cases.add(new Case(name, g, r, lambda));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesFullSpaceFlagAggregator(Case c) {
        FlagOptions options = FlagOptions.DEFAULTS.withRank(c.rank()).withLambda(c.lambda());
        FlagSolution gramSide = solve(c, options);
        FullSpaceFlag.Result full = reference(c, options);
        assertObjectiveTracesAgree(gramSide.objective(), full);

        // Where the two sides stopped apart on a noise-level decision (checked just above), compare the
        // aggregates after the same number of steps.
        int steps = Math.min(gramSide.iterations(), full.iterations());
        if (gramSide.iterations() != steps) {
            gramSide = solve(c, options.withIterations(steps));
        }
        if (full.iterations() != steps) {
            full = reference(c, options.withIterations(steps));
        }
        assertThat(gramSide.iterations()).isEqualTo(full.iterations()).isEqualTo(steps);

        double[] a = Workers.combine(gramSide.coefficients(), c.gradients());
        assertThat(Workers.distance(a, full.aggregate()))
                .isLessThanOrEqualTo(1e-9 * Workers.norm(full.aggregate()));
        assertThat(gramSide.columns()).isEqualTo(full.columns());
        for (int i = 0; i < full.quality().length; i++) {
            assertThat(gramSide.quality()[i]).as("quality %d", i)
                    .isCloseTo(Math.min(1, Math.max(0, full.quality()[i])), within(1e-9));
        }
    }

    private static FlagSolution solve(Case c, FlagOptions options) {
        return FlagSolver.solve(Workers.gram(c.gradients()), c.gradients().length, options);
    }

    private static FullSpaceFlag.Result reference(Case c, FlagOptions options) {
        return FullSpaceFlag.run(c.gradients(), c.rank(), c.lambda(), options.iterations(), options.tol(),
                options.eps());
    }

    /**
     * Entry by entry within the objective's accuracy. The stopping rule compares successive E values, so
     * when a step changes E by less than that accuracy (every worker inside the flag, E ~ 1e-8 of pure
     * rounding) the two sides may stop one or two steps apart: such extra steps must then be noise too.
     */
    private static void assertObjectiveTracesAgree(double[] gramSide, FullSpaceFlag.Result full) {
        double[] reference = full.objective();
        int common = Math.min(gramSide.length, reference.length);
        for (int t = 0; t < common; t++) {
            assertThat(gramSide[t]).as("objective entry %d", t)
                    .isCloseTo(reference[t], within(objectiveTolerance(full.qualities().get(t))));
        }
        double noise = objectiveTolerance(full.qualities().get(common - 1));
        for (int t = common; t < gramSide.length; t++) {
            assertThat(gramSide[t]).as("extra solver step %d", t).isCloseTo(gramSide[common - 1], within(noise));
        }
        for (int t = common; t < reference.length; t++) {
            assertThat(reference[t]).as("extra reference step %d", t)
                    .isCloseTo(reference[common - 1], within(noise));
        }
    }

    /**
     * E sums sqrt(1 - q_i): near q_i = 1 the square root turns a projection error d into up to sqrt(d), so
     * the objective is only that accurate for workers (almost) inside the flag.
     */
    private static double objectiveTolerance(double[] q) {
        double tolerance = 1e-9;
        for (double qi : q) {
            double gap = Math.max(0, 1 - qi);
            tolerance += Math.min(Math.sqrt(PROJECTION_ACCURACY), PROJECTION_ACCURACY / (2 * Math.sqrt(gap)));
        }
        return tolerance;
    }
}
