package org.flagagg.rules;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;

/**
 * Bulyan (El Mhamdi et al. 2018), needs p >= 4f + 3. Selection: theta = p - 2f inputs chosen by Krum
 * applied recursively (pick the Krum winner of the remaining set, scored over that set with
 * remaining - f - 2 neighbours, remove it, repeat). Aggregation: per coordinate, the mean of the
 * beta = theta - 2f selected values nearest the coordinate-wise median of the selection.
 */
public final class BulyanRule implements Rule {
    private final int f;

    public BulyanRule(int f) {
        this.f = RuleChecks.requireF("bulyan", f);
    }

    @Override
    public String name() {
        return "bulyan";
    }

    @Override
    public Set<Pass> passes() {
        return EnumSet.of(Pass.GRAM, Pass.SECOND_PASS);
    }

    @Override
    public void validate(int p) {
        if (p < 4 * f + 3) {
            throw new IllegalArgumentException("bulyan needs p >= 4f + 3 (p = " + p + ", f = " + f + ")");
        }
    }

    /**
     * Neighbours counted in a round with {@code remaining} candidates: remaining - f - 2, but at least 1.
     * The last rounds reach remaining = 2f + 1, where remaining - f - 2 = f - 1 is 0 for f = 1 (and
     * negative for f = 0); with 0 neighbours every score is 0 and the pick would be just the lowest
     * index, so one neighbour is kept: the pick then comes from the closest pair.
     */
    static int neighbours(int remaining, int f) {
        return Math.max(1, remaining - f - 2);
    }

    @Override
    public Solution solve(int p, double[] gram) {
        validate(p);
        RuleChecks.requireGram(name(), p, gram);
        KrumScores krum = new KrumScores(p, gram);
        int theta = p - 2 * f;
        int beta = theta - 2 * f;
        boolean[] remaining = new boolean[p];
        Arrays.fill(remaining, true);
        int[] order = new int[theta];
        double[] firstScores = null;
        for (int round = 0; round < theta; round++) {
            int left = p - round;
            // With one candidate left (f = 0) it has no neighbours, scores 0 and wins.
            double[] scores = krum.scores(remaining, neighbours(left, f));
            if (firstScores == null) {
                firstScores = scores;
            }
            int pick = KrumScores.argmin(scores);
            order[round] = pick;
            remaining[pick] = false;
        }
        int[] selected = order.clone();
        Arrays.sort(selected);
        Details details = Details.EMPTY
                .with("f", f)
                .with("theta", theta)
                .with("beta", beta)
                .with("scores", firstScores)
                .with("selectionOrder", order)
                .with("selected", selected);
        return new CoordinateWiseSolution(selected,
                sorted -> SortedStats.meanNearest(sorted, SortedStats.median(sorted), beta), details);
    }
}
