package org.flagagg.rules;

/**
 * Phocas (Xie et al. 2018): per coordinate, the mean of the p - f values nearest the trimmed mean
 * (f trimmed on each side).
 */
public final class PhocasRule extends CoordinateWiseRule {

    public PhocasRule(int f) {
        super("phocas", f);
    }

    @Override
    public String name() {
        return "phocas";
    }

    @Override
    public void validate(int p) {
        RuleChecks.requireInputs(name(), p);
        if (p <= 2 * f) {
            throw new IllegalArgumentException("phocas needs p > 2f (p = " + p + ", f = " + f + ")");
        }
    }

    @Override
    protected CoordinateWiseSolution.PerCoordinate perCoordinate(int p) {
        int trim = f;
        int keep = p - f;
        return sorted -> SortedStats.meanNearest(sorted, SortedStats.trimmedMean(sorted, trim), keep);
    }
}
