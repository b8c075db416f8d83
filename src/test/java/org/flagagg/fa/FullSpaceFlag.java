package org.flagagg.fa;

import java.util.ArrayList;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * FA exactly as the paper states it, in the gradients' own n-dimensional space: SVDs of the n x p column
 * matrix (and of the n x (p + p(p-1)) matrix with the pair columns). The reference the Gram-space solver is
 * checked against; it shares no code with it. Takes only usable (finite, non-zero) gradients.
 *
 * <p>Like the solver, it works on the numerical span of X: the directions whose singular value is at or
 * below SINGULAR_CUTOFF times the largest are treated as exact zeros, i.e. every weighted column matrix is
 * projected onto the span of X's remaining left singular vectors before its SVD. Without that, float
 * rounding of a (near) dependent worker, e.g. one reversing the others' mean x10, leaks into the flag at the
 * ~1e-8 level.
 */
final class FullSpaceFlag {

    /** Singular values at or below this fraction of the largest count as zero (the square root of 1e-12). */
    static final double SINGULAR_CUTOFF = 1e-6;

    /**
     * @param aggregate  a = (1/r) sum_i Y Y^T x_i
     * @param quality    ||Y^T x_i||^2 at the final Y
     * @param objective  E at the start and after each accepted step
     * @param qualities  the qualities behind each objective entry
     * @param columns    columns of the final Y
     */
    record Result(double[] aggregate, double[] quality, double[] objective, List<double[]> qualities,
            int columns) {
        int iterations() {
            return objective.length - 1;
        }
    }

    private FullSpaceFlag() {
    }

    static Result run(float[][] gradients, int r, double lambda, int iterations, double tol, double eps) {
        int p = gradients.length;
        int n = gradients[0].length;
        double[][] x = new double[p][n];
        for (int i = 0; i < p; i++) {
            double squared = 0;
            for (int t = 0; t < n; t++) {
                squared += (double) gradients[i][t] * gradients[i][t];
            }
            double norm = Math.sqrt(squared);
            for (int t = 0; t < n; t++) {
                x[i][t] = gradients[i][t] / norm;
            }
        }

        DMatrixRMaj span = topLeftSingularVectors(columns(x, p, n), p); // numerical span of X
        DMatrixRMaj y = firstColumns(span, r); // the flag mean
        double[] q = qualities(y, x);
        double e = objective(q);
        List<Double> trace = new ArrayList<>(List.of(e));
        List<double[]> qualityTrace = new ArrayList<>(List.of(q));
        for (int step = 0; step < iterations; step++) {
            DMatrixRMaj next = topLeftSingularVectors(project(span, weightedColumns(x, y, lambda, eps)), r);
            double[] nextQ = qualities(next, x);
            double nextE = objective(nextQ);
            if (nextE > e) {
                break;
            }
            double decrease = e - nextE;
            y = next;
            q = nextQ;
            e = nextE;
            trace.add(e);
            qualityTrace.add(q);
            if (decrease <= tol) {
                break;
            }
        }

        double[] aggregate = new double[n];
        for (int i = 0; i < p; i++) {
            double[] coordinates = projection(y, x[i]); // Y^T x_i
            for (int t = 0; t < n; t++) {
                double sum = 0;
                for (int c = 0; c < coordinates.length; c++) {
                    sum += y.get(t, c) * coordinates[c];
                }
                aggregate[t] += sum / r;
            }
        }
        return new Result(aggregate, q, trace.stream().mapToDouble(Double::doubleValue).toArray(), qualityTrace,
                y.numCols);
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

    private static double[] qualities(DMatrixRMaj y, double[][] x) {
        double[] q = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            q[i] = squaredNorm(projection(y, x[i]));
        }
        return q;
    }

    /** E as specified, with residuals under 1e-6 counted as exact fits (docs/algorithm.md, "Objective"). */
    private static double objective(double[] q) {
        double e = 0;
        for (double qi : q) {
            double residual = 1 - qi;
            e += residual > 1e-6 ? Math.sqrt(residual) : 0;
        }
        return e;
    }
}
