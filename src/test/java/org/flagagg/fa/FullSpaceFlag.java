package org.flagagg.fa;

import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * FA exactly as flag-aggregator-math.md states it, in the gradients' own n-dimensional space: SVDs of the
 * n x p column matrix (and of the n x (p + p(p-1)) matrix with the pair columns). The reference the
 * Gram-space solver is checked against; it shares no code with it. Takes only usable (finite, non-zero)
 * gradients.
 *
 * <p>Two numerical conventions complete the note, both stated in docs/algorithm.md:
 * <ul>
 *   <li>It works on the numerical span of X: directions whose singular value is at or below
 *   SINGULAR_CUTOFF times the largest are exact zeros (rank loss), so every weighted column matrix is
 *   projected onto the span of X's remaining left singular vectors before its SVD, and the objective
 *   measures each x_i's residual within that span. Without that, float rounding of a (near) dependent
 *   worker, e.g. one reversing the others' mean x10, leaks into the flag at the ~1e-8 level.</li>
 *   <li>The residual 1 - ||Y^T x_i||^2 is computed as the squared norm of the vector x_i - Y Y^T x_i (the
 *   same number for a unit x_i and orthonormal Y), so a worker inside the flag gives ~1e-30, not the
 *   ~1e-16 rounding of 1 - q_i, which the square root would turn into 1e-8 of E.</li>
 *   <li>A rise of E by at most NO_CHANGE is no change: the step is kept and IRLS stops.</li>
 * </ul>
 */
public final class FullSpaceFlag {

    /** Singular values at or below this fraction of the largest count as zero (the square root of 1e-12). */
    static final double SINGULAR_CUTOFF = 1e-6;

    /** A rise of E smaller than this is rounding: the step counts as converged, not as a rise. */
    static final double NO_CHANGE = 1e-12;

    /**
     * @param aggregate  a = (1/r) sum_i Y Y^T x_i
     * @param quality    ||Y^T x_i||^2 at the final Y
     * @param residual   1 - ||Y^T x_i||^2 within the span of X, at the final Y
     * @param objective  E at the start and after each accepted step
     * @param columns    columns of the final Y
     */
    public record Result(double[] aggregate, double[] quality, double[] residual, double[] objective, int columns) {
        public int iterations() {
            return objective.length - 1;
        }
    }

    private FullSpaceFlag() {
    }

    static Result run(float[][] gradients, int r, double lambda, int iterations, double tol, double eps) {
        double[][] g = new double[gradients.length][];
        for (int i = 0; i < gradients.length; i++) {
            g[i] = new double[gradients[i].length];
            for (int t = 0; t < g[i].length; t++) {
                g[i][t] = gradients[i][t];
            }
        }
        return run(g, r, lambda, iterations, tol, eps);
    }

    /** The same on double vectors (e.g. the centred FA's deviations in the rules tests). */
    public static Result run(double[][] gradients, int r, double lambda, int iterations, double tol, double eps) {
        int p = gradients.length;
        int n = gradients[0].length;
        double[][] x = new double[p][n];
        for (int i = 0; i < p; i++) {
            double squared = 0;
            for (int t = 0; t < n; t++) {
                squared += gradients[i][t] * gradients[i][t];
            }
            double norm = Math.sqrt(squared);
            for (int t = 0; t < n; t++) {
                x[i][t] = gradients[i][t] / norm;
            }
        }

        DMatrixRMaj span = topLeftSingularVectors(columns(x, p, n), p); // numerical span of X
        double[][] inSpan = new double[p][];
        for (int i = 0; i < p; i++) {
            inSpan[i] = apply(span, projection(span, x[i]));
        }
        DMatrixRMaj y = firstColumns(span, r); // the flag mean
        double[] residual = residuals(y, x, inSpan);
        double e = objective(residual);
        List<Double> trace = new ArrayList<>(List.of(e));
        for (int step = 0; step < iterations; step++) {
            DMatrixRMaj next = topLeftSingularVectors(project(span, weightedColumns(x, y, lambda, eps)), r);
            double[] nextResidual = residuals(next, x, inSpan);
            double nextE = objective(nextResidual);
            if (nextE > e + NO_CHANGE) {
                break;
            }
            double decrease = e - nextE;
            y = next;
            residual = nextResidual;
            e = nextE;
            trace.add(e);
            if (decrease <= tol) {
                break;
            }
        }

        double[] aggregate = new double[n];
        double[] quality = new double[p];
        for (int i = 0; i < p; i++) {
            double[] coordinates = projection(y, x[i]); // Y^T x_i
            quality[i] = squaredNorm(coordinates);
            double[] projected = apply(y, coordinates);
            for (int t = 0; t < n; t++) {
                aggregate[t] += projected[t] / r;
            }
        }
        return new Result(aggregate, quality, residual, trace.stream().mapToDouble(Double::doubleValue).toArray(),
                y.numCols);
    }

    /** ||P_span x_i - Y Y^T x_i||^2 for every i: 1 - ||Y^T x_i||^2 within span(X), without cancellation. */
    private static double[] residuals(DMatrixRMaj y, double[][] x, double[][] inSpan) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double[] projected = apply(y, projection(y, x[i]));
            double s = 0;
            for (int t = 0; t < projected.length; t++) {
                double d = inSpan[i][t] - projected[t];
                s += d * d;
            }
            out[i] = s;
        }
        return out;
    }

    /** Y c for coordinates c on Y's columns. */
    private static double[] apply(DMatrixRMaj y, double[] coordinates) {
        double[] out = new double[y.numRows];
        for (int t = 0; t < y.numRows; t++) {
            double sum = 0;
            for (int c = 0; c < coordinates.length; c++) {
                sum += y.get(t, c) * coordinates[c];
            }
            out[t] = sum;
        }
        return out;
    }

    private static DMatrixRMaj columns(double[][] x, int p, int n) {
        DMatrixRMaj m = new DMatrixRMaj(n, p);
        for (int i = 0; i < p; i++) {
            for (int t = 0; t < n; t++) {
                m.set(t, i, x[i][t]);
            }
        }
        return m;
    }

    /** Columns w_i x_i and, for lambda > 0, v_ij (x_i - x_j) for every ordered pair i != j. */
    private static DMatrixRMaj weightedColumns(double[][] x, DMatrixRMaj y, double lambda, double eps) {
        int p = x.length;
        int n = x[0].length;
        int pairs = lambda > 0 ? p * (p - 1) : 0;
        DMatrixRMaj m = new DMatrixRMaj(n, p + pairs);
        for (int i = 0; i < p; i++) {
            double w = Math.pow(Math.abs(1 - squaredNorm(projection(y, x[i]))) + eps, -0.25);
            for (int t = 0; t < n; t++) {
                m.set(t, i, w * x[i][t]);
            }
        }
        int col = p;
        for (int i = 0; i < p && pairs > 0; i++) {
            for (int j = 0; j < p; j++) {
                if (i == j) {
                    continue;
                }
                double[] diff = new double[n];
                for (int t = 0; t < n; t++) {
                    diff[t] = x[i][t] - x[j][t];
                }
                double v = lambda / (p * (p - 1.0))
                        * Math.pow(Math.abs(1 - squaredNorm(projection(y, diff))) + eps, -0.25);
                for (int t = 0; t < n; t++) {
                    m.set(t, col, v * diff[t]);
                }
                col++;
            }
        }
        return m;
    }

    /** The top-r left singular vectors, fewer when the matrix has rank below r. */
    static DMatrixRMaj topLeftSingularVectors(DMatrixRMaj m, int r) {
        SingularValueDecomposition_F64<DMatrixRMaj> svd =
                DecompositionFactory_DDRM.svd(m.numRows, m.numCols, true, false, true);
        if (!svd.decompose(m.copy())) {
            throw new IllegalStateException("SVD failed");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        SingularOps_DDRM.descendingOrder(u, false, w, null, false);
        int keep = 0;
        int limit = Math.min(r, Math.min(w.numRows, w.numCols));
        while (keep < limit && w.get(keep, keep) > SINGULAR_CUTOFF * w.get(0, 0)) {
            keep++;
        }
        DMatrixRMaj y = new DMatrixRMaj(m.numRows, keep);
        for (int t = 0; t < m.numRows; t++) {
            for (int c = 0; c < keep; c++) {
                y.set(t, c, u.get(t, c));
            }
        }
        return y;
    }

    private static DMatrixRMaj firstColumns(DMatrixRMaj u, int r) {
        int keep = Math.min(r, u.numCols);
        DMatrixRMaj y = new DMatrixRMaj(u.numRows, keep);
        CommonOps_DDRM.extract(u, 0, u.numRows, 0, keep, y, 0, 0);
        return y;
    }

    /** U U^T M: M restricted to the span of the orthonormal columns of U. */
    private static DMatrixRMaj project(DMatrixRMaj u, DMatrixRMaj m) {
        DMatrixRMaj coordinates = new DMatrixRMaj(u.numCols, m.numCols);
        CommonOps_DDRM.multTransA(u, m, coordinates);
        DMatrixRMaj out = new DMatrixRMaj(m.numRows, m.numCols);
        CommonOps_DDRM.mult(u, coordinates, out);
        return out;
    }

    private static double[] projection(DMatrixRMaj y, double[] v) {
        double[] out = new double[y.numCols];
        for (int c = 0; c < y.numCols; c++) {
            double sum = 0;
            for (int t = 0; t < y.numRows; t++) {
                sum += y.get(t, c) * v[t];
            }
            out[c] = sum;
        }
        return out;
    }

    private static double squaredNorm(double[] v) {
        double s = 0;
        for (double d : v) {
            s += d * d;
        }
        return s;
    }

    /** E = sum_i sqrt(max(0, 1 - ||Y^T x_i||^2)). */
    private static double objective(double[] residual) {
        double e = 0;
        for (double d : residual) {
            e += Math.sqrt(Math.max(0, d));
        }
        return e;
    }
}
