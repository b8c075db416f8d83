package org.flagagg.rules;

/** Coordinate-wise trimmed mean: drop the f largest and the f smallest values, average the other p - 2f. */
public final class TrimmedMeanRule extends CoordinateWiseRule {

    public TrimmedMeanRule(int f) {
        super("trmean", f);
    }

    @Override
    public String name() {
        return "trmean";
    }

    @Override
    public void validate(int p) {
        RuleChecks.requireInputs(name(), p);
        if (p <= 2 * f) {
            throw new IllegalArgumentException("trmean needs p > 2f (p = " + p + ", f = " + f + ")");
        }
    }

    @Override
    protected CoordinateWiseSolution.PerCoordinate perCoordinate(int p) {
        return SortedStats.trimmedMean(f);
    }
}
