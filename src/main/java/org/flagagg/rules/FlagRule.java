package org.flagagg.rules;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import org.flagagg.fa.FlagOptions;
import org.flagagg.fa.FlagSolution;
import org.flagagg.fa.FlagSolver;

/** The Flag Aggregator as a rule: solve in Gram space, output a linear combination. */
public final class FlagRule implements Rule {
    private final FlagOptions options;

    public FlagRule(FlagOptions options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "flag";
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
    }

    @Override
    public void validate(int p) {
        if (p < 1) {
            throw new IllegalArgumentException("flag needs at least one input (p = " + p + ")");
        }
        FlagSolver.checkRank(options.rankFor(p), p);
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        FlagSolution solution = FlagSolver.solve(gram, p, options);
        return LinearSolution.ofDense(solution.coefficients(), solution.dropped(), details(solution, options));
    }

    /** FA's diagnostics (shared with the centred FA, which reports FA's details on the inputs it kept). */
    static Details details(FlagSolution solution, FlagOptions options) {
        return Details.EMPTY
                .with("rank", solution.rank())
                .with("columns", solution.columns())
                .with("lambda", options.lambda())
                .with("iterations", solution.iterations())
                .with("objective", solution.objective())
                // A dropped input's entry is NaN, which the JSON writer turns into null.
                .with("quality", solution.quality())
                .with("weight", solution.weight())
                .with("scale", options.scale().name().toLowerCase(Locale.ROOT));
    }
}
