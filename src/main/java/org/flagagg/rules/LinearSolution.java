package org.flagagg.rules;

import java.util.Map;
import org.flagagg.kernels.Kernels;

/** A solution whose aggregate is a fixed linear combination of the selected inputs. */
public record LinearSolution(int[] selected, double[] coefficients, Map<Integer, String> dropped, Details details)
        implements Solution {

    public LinearSolution {
        if (selected.length != coefficients.length) {
            throw new IllegalArgumentException("selected and coefficients differ in length");
        }
    }

    /** Keeps the inputs with a non-zero coefficient (all of them when every coefficient is zero). */
    public static LinearSolution ofDense(double[] denseCoefficients, Map<Integer, String> dropped, Details details) {
        int count = 0;
        for (double c : denseCoefficients) {
            if (c != 0) {
                count++;
            }
        }
        int[] selected = new int[count];
        double[] coeffs = new double[count];
        for (int i = 0, k = 0; i < denseCoefficients.length; i++) {
            if (denseCoefficients[i] != 0) {
                selected[k] = i;
                coeffs[k++] = denseCoefficients[i];
            }
        }
        return new LinearSolution(selected, coeffs, dropped, details);
    }

    @Override
    public void apply(float[][] rows, int len, double[] out, int outOffset) {
        Kernels.best().combine(coefficients, rows, coefficients.length, len, out, outOffset);
    }
}
