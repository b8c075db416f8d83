package org.flagagg.rules;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Krum (Blanchard et al. 2017): score(i) = sum of the squared distances from g_i to its p - f - 2 nearest
 * other inputs; the output is the input with the lowest score (the lowest index on ties). The paper's
 * guarantee needs p >= 2f + 3, which is enforced.
 */
public final class KrumRule implements Rule {
    private final int f;

    public KrumRule(int f) {
        this.f = RuleChecks.requireF("krum", f);
    }

    @Override
    public String name() {
        return "krum";
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
    }

    @Override
    public void validate(int p) {
        requireKrumBound(name(), p, f);
    }

    static void requireKrumBound(String rule, int p, int f) {
        if (p < 2 * f + 3) {
            throw new IllegalArgumentException(rule + " needs p >= 2f + 3 (p = " + p + ", f = " + f + ")");
        }
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        RuleChecks.requireGram(name(), p, gram);
        double[] scores = new KrumScores(p, gram).scores(f);
        int winner = KrumScores.argmin(scores);
        Details details = Details.EMPTY
                .with("f", f)
                .with("neighbours", p - f - 2)
                .with("scores", scores)
                .with("selected", new int[] {winner});
        return new LinearSolution(new int[] {winner}, new double[] {1.0}, Map.of(), details);
    }
}
