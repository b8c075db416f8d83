package org.flagagg.rules;

/** MeaMed (Xie et al. 2018): per coordinate, the mean of the p - f values nearest the median. */
public final class MeaMedRule extends CoordinateWiseRule {

    public MeaMedRule(int f) {
        super("meamed", f);
    }

    @Override
    public String name() {
        return "meamed";
    }

    @Override
    public void validate(int p) {
        RuleChecks.requireInputs(name(), p);
        if (p <= f) {
            throw new IllegalArgumentException("meamed needs p > f (p = " + p + ", f = " + f + ")");
        }
    }

    @Override
    protected CoordinateWiseSolution.PerCoordinate perCoordinate(int p) {
        int keep = p - f;
        return sorted -> SortedStats.meanNearest(sorted, SortedStats.median(sorted), keep);
    }
}
