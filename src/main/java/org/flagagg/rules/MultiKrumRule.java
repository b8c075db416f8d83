package org.flagagg.rules;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Multi-Krum (Blanchard et al. 2017): the average of the m inputs with the lowest Krum scores (scored
 * once over all p inputs; lower index first on equal scores). m = 0 means p - f.
 */
public final class MultiKrumRule implements Rule {
    private final int f;
    private final int m;

    public MultiKrumRule(int f, int m) {
        this.f = RuleChecks.requireF("multikrum", f);
        if (m < 0) {
            throw new IllegalArgumentException("multikrum needs m >= 1, or 0 for p - f (m = " + m + ")");
        }
        this.m = m;
    }

    @Override
    public String name() {
        return "multikrum";
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
    }

    /** The number of inputs averaged for p inputs. */
    public int mFor(int p) {
        return m == 0 ? p - f : m;
    }

    @Override
    public void validate(int p) {
        KrumRule.requireKrumBound(name(), p, f);
        int averaged = mFor(p);
        if (averaged < 1 || averaged > p) {
            throw new IllegalArgumentException("multikrum needs 1 <= m <= p (m = " + averaged + ", p = " + p + ")");
        }
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        RuleChecks.requireGram(name(), p, gram);
        int averaged = mFor(p);
        double[] scores = new KrumScores(p, gram).scores(f);
        int[] selected = KrumScores.lowest(scores, averaged);
        double[] coefficients = new double[averaged];
        Arrays.fill(coefficients, 1.0 / averaged);
        Details details = Details.EMPTY
                .with("f", f)
                .with("m", averaged)
                .with("neighbours", p - f - 2)
                .with("scores", scores)
                .with("selected", selected);
        return new LinearSolution(selected, coefficients, Map.of(), details);
    }
}
