package org.flagagg.rules;

/** Coordinate-wise median (the mean of the two middle values for even p). */
public final class MedianRule extends CoordinateWiseRule {

    public MedianRule() {
        super("median", 0);
    }

    @Override
    public String name() {
        return "median";
    }

    @Override
    public void validate(int p) {
        RuleChecks.requireInputs(name(), p);
    }

    @Override
    protected CoordinateWiseSolution.PerCoordinate perCoordinate(int p) {
        return SortedStats.MEDIAN;
    }
}
