package org.flagagg.rules;

import java.util.EnumSet;
import java.util.Set;
import org.flagagg.fa.FlagOptions;

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
        throw new UnsupportedOperationException("TODO");
    }

    @Override
    public Solution solve(int p, double[] gram) {
        throw new UnsupportedOperationException("TODO");
    }
}
