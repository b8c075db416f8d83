package org.flagagg.rules;

import java.util.EnumSet;
import java.util.Set;

/**
 * Base of the rules that aggregate every coordinate of all p inputs independently (median, trimmed
 * mean, Phocas, MeaMed). They have nothing to solve in p x p space: one output pass over all inputs.
 */
abstract class CoordinateWiseRule implements Rule {
    protected final int f;

    protected CoordinateWiseRule(String name, int f) {
        this.f = RuleChecks.requireF(name, f);
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.SECOND_PASS);
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        return new CoordinateWiseSolution(RuleChecks.allInputs(p), perCoordinate(p),
                Details.EMPTY.with("f", f).with("p", p));
    }

    /** The reduction of one coordinate's p sorted values. */
    protected abstract CoordinateWiseSolution.PerCoordinate perCoordinate(int p);
}
