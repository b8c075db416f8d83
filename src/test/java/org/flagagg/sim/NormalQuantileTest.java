package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class NormalQuantileTest {

    /** Phi(x) from erfc, written here independently of the code under test. */
    static double phi(double x) {
        return 0.5 * erfc(-x / Math.sqrt(2));
    }

    /** erfc by the all-positive Taylor series of erf below 3 and the Laplace continued fraction above. */
    static double erfc(double t) {
        if (t < 0) {
            return 2 - erfc(-t);
        }
        if (t < 3) {
            // erf(t) = 2/sqrt(pi) exp(-t^2) sum_n (2t^2)^n t / (1*3*...*(2n+1))
            double term = t;
            double sum = t;
            for (int n = 0; n < 500 && term > 1e-18 * sum; n++) {
                term *= 2 * t * t / (2 * n + 3);
                sum += term;
            }
            return 1 - 2 / Math.sqrt(Math.PI) * Math.exp(-t * t) * sum;
        }
        // erfc(t) = exp(-t^2)/sqrt(pi) / (t + (1/2)/(t + 1/(t + (3/2)/(t + ...))))
        double f = t;
        for (int k = 300; k >= 1; k--) {
            f = t + (k / 2.0) / f;
        }
        return Math.exp(-t * t) / (Math.sqrt(Math.PI) * f);
    }

    @Test
    void knownValues() {
        assertThat(NormalQuantile.inverseCdf(0.975)).isCloseTo(1.959963984540054, within(1e-14));
        assertThat(NormalQuantile.inverseCdf(0.025)).isCloseTo(-1.959963984540054, within(1e-14));
        assertThat(NormalQuantile.inverseCdf(0.9)).isCloseTo(1.2815515655446004, within(1e-14));
        assertThat(NormalQuantile.inverseCdf(0.995)).isCloseTo(2.5758293035489004, within(1e-13));
        assertThat(NormalQuantile.inverseCdf(1e-10)).isCloseTo(-6.361340902404056, within(1e-12));
        assertThat(NormalQuantile.inverseCdf(0.5)).isEqualTo(0.0);
    }

    @Test
    void endpointsAreInfiniteAndOutsideIsRejected() {
        assertThat(NormalQuantile.inverseCdf(0)).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(NormalQuantile.inverseCdf(1)).isEqualTo(Double.POSITIVE_INFINITY);
        for (double bad : new double[] {-1e-9, 1.0000001, Double.NaN}) {
            assertThatThrownBy(() -> NormalQuantile.inverseCdf(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[0, 1]");
        }
    }

    @Test
    void isAntisymmetricAroundOneHalf() {
        // p and 1 - p both exact on a dyadic grid, so the check is on the algorithm, not on rounding.
        for (int i = 1; i < 1024; i++) {
            double p = i / 1024.0;
            assertThat(NormalQuantile.inverseCdf(1 - p))
                    .isCloseTo(-NormalQuantile.inverseCdf(p), within(1e-13 * Math.max(1, Math.abs(NormalQuantile.inverseCdf(p)))));
        }
    }

    @Test
    void roundTripsThroughAnErfBasedCdf() {
        for (int i = 1; i < 2000; i++) {
            double p = i / 2000.0;
            double x = NormalQuantile.inverseCdf(p);
            if (p <= 0.5) {
                assertThat(phi(x)).as("Phi(Phi^-1(%s))", p).isCloseTo(p, within(1e-9 * p));
            } else {
                assertThat(phi(-x)).as("1 - Phi(Phi^-1(%s))", p).isCloseTo(1 - p, within(1e-9 * (1 - p)));
            }
        }
        // Tails, all three rational regions: relative error.
        for (double p : new double[] {0.07, 0.02, 1e-3, 1e-5, 1e-8, 1e-11, 1e-12, 1e-20, 1e-50, 1e-100, 1e-300}) {
            double x = NormalQuantile.inverseCdf(p);
            assertThat(phi(x)).as("Phi(Phi^-1(%s))", p).isCloseTo(p, within(1e-9 * p));
        }
    }

    @Test
    void isMonotone() {
        double prev = Double.NEGATIVE_INFINITY;
        for (int i = 1; i < 100_000; i++) {
            double x = NormalQuantile.inverseCdf(i / 100_000.0);
            assertThat(x).isGreaterThan(prev);
            prev = x;
        }
    }

    @Test
    void erfHelperMatchesKnownValues() {
        // Guards the reference itself: Phi(1.959963984540054) = 0.975, erfc(5/sqrt 2)/2 = 2.866515718791939e-7.
        assertThat(phi(1.959963984540054)).isCloseTo(0.975, within(1e-15));
        assertThat(phi(-5)).isCloseTo(2.866515718791939e-7, within(1e-18));
        assertThat(phi(0)).isEqualTo(0.5);
    }
}
