package org.flagagg.rules;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
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
    static JsonObject details(FlagSolution solution, FlagOptions options) {
        JsonArray objective = new JsonArray();
        for (double e : solution.objective()) {
            objective.add(e);
        }
        return new JsonObject()
                .put("rank", solution.rank())
                .put("columns", solution.columns())
                .put("lambda", options.lambda())
                .put("iterations", solution.iterations())
                .put("objective", objective)
                .put("quality", perInput(solution.quality()))
                .put("weight", perInput(solution.weight()))
                .put("scale", options.scale().name().toLowerCase(Locale.ROOT));
    }

    /** JSON has no NaN: a dropped input's entry is null. */
    static JsonArray perInput(double[] values) {
        JsonArray array = new JsonArray();
        for (double v : values) {
            if (Double.isNaN(v)) {
                array.addNull();
            } else {
                array.add(v);
            }
        }
        return array;
    }
}
