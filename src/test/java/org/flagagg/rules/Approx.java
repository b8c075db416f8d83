package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;

/** Vector comparison relative to the size of the expected vector. */
final class Approx {
    /** Gram-based vs direct distances and different summation orders differ by rounding only. */
    static final double TOLERANCE = 1e-9;

    private Approx() {
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }

    /** max_k |actual_k - expected_k| <= relTol x max_k |expected_k|. */
    static void assertClose(double[] actual, double[] expected, double relTol, String what) {
        assertThat(actual).as(what + ": length").hasSameSizeAs(expected);
        double worst = 0;
        int at = -1;
        for (int k = 0; k < expected.length; k++) {
            double d = Math.abs(actual[k] - expected[k]);
            if (!(d <= worst)) {
                worst = d;
                at = k;
            }
        }
        double bound = relTol * Math.max(maxAbs(expected), Double.MIN_NORMAL);
        assertThat(worst).as("%s: worst difference at coordinate %d (actual %s, expected %s)", what, at,
                at < 0 ? "-" : actual[at], at < 0 ? "-" : expected[at]).isLessThanOrEqualTo(bound);
    }

    static void assertClose(double[] actual, double[] expected, String what) {
        assertClose(actual, expected, TOLERANCE, what);
    }
}
