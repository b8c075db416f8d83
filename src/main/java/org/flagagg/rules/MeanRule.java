package org.flagagg.rules;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/** The average of the p inputs. Not robust; the baseline. */
public final class MeanRule implements Rule {

    @Override
    public String name() {
        return "mean";
    }

    /** None: the coefficients do not depend on the data, so a round can sum chunks as they arrive. */
    @Override
    public Set<Pass> passes() {
        return EnumSet.noneOf(Pass.class);
    }

    @Override
    public void validate(int p) {
        RuleChecks.requireInputs(name(), p);
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        double[] coefficients = new double[p];
        Arrays.fill(coefficients, 1.0 / p);
        return new LinearSolution(RuleChecks.allInputs(p), coefficients, Map.of(), Details.EMPTY.with("p", p));
    }
}
