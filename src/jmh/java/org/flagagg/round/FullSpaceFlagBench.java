package org.flagagg.round;

import java.util.concurrent.TimeUnit;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Flag Aggregator in its full-space form, as the paper and the authors' code compute it (an SVD of the
 * n x p matrix of normalised gradients per IRLS step, lambda = 0, T = 10 steps), on the same data as
 * {@link AggregationBench}: the baseline the Gram-space form is measured against.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xms14g", "-Xmx14g"})
public class FullSpaceFlagBench {
    static final int STEPS = 10;
    static final double EPS = 1e-7;

    @Param({"16"})
    int p;

    @Param({"10000000"})
    int n;

    float[][] gradients;

    @Setup
    public void setup() {
        gradients = BenchData.gradients(p, n);
    }

    @Benchmark
    public double[] flag() {
        int r = (p + 1) / 2;
        // X: n x p, columns x_i = g_i / ||g_i||.
        DMatrixRMaj x = new DMatrixRMaj(n, p);
        for (int i = 0; i < p; i++) {
            double norm = 0;
            for (float v : gradients[i]) {
                norm += (double) v * v;
            }
            norm = Math.sqrt(norm);
            for (int k = 0; k < n; k++) {
                x.data[k * p + i] = gradients[i][k] / norm;
            }
        }
        double[] w = new double[p];
        java.util.Arrays.fill(w, 1.0);
        DMatrixRMaj y = topLeftSingularVectors(x, w, r);
        for (int step = 0; step < STEPS; step++) {
            double[] q = projections(y, x, r);
            for (int i = 0; i < p; i++) {
                w[i] = Math.pow(Math.abs(1 - q[i]) + EPS, -0.25);
            }
            y = topLeftSingularVectors(x, w, r);
        }
        // a = (1/r) sum_i Y Y^T x_i
        double[] s = new double[r];
        for (int k = 0; k < n; k++) {
            for (int i = 0; i < p; i++) {
                for (int c = 0; c < r; c++) {
                    s[c] += y.data[k * r + c] * x.data[k * p + i];
                }
            }
        }
        double[] a = new double[n];
        for (int k = 0; k < n; k++) {
            double v = 0;
            for (int c = 0; c < r; c++) {
                v += y.data[k * r + c] * s[c];
            }
            a[k] = v / r;
        }
        return a;
    }

    private static double[] projections(DMatrixRMaj y, DMatrixRMaj x, int r) {
        int n = x.numRows;
        int p = x.numCols;
        double[] yx = new double[r * p];
        for (int k = 0; k < n; k++) {
            for (int c = 0; c < r; c++) {
                double yv = y.data[k * r + c];
                for (int i = 0; i < p; i++) {
                    yx[c * p + i] += yv * x.data[k * p + i];
                }
            }
        }
        double[] q = new double[p];
        for (int i = 0; i < p; i++) {
            for (int c = 0; c < r; c++) {
                q[i] += yx[c * p + i] * yx[c * p + i];
            }
        }
        return q;
    }

    private static DMatrixRMaj topLeftSingularVectors(DMatrixRMaj x, double[] w, int r) {
        int n = x.numRows;
        int p = x.numCols;
        DMatrixRMaj m = new DMatrixRMaj(n, p);
        for (int k = 0; k < n; k++) {
            for (int i = 0; i < p; i++) {
                m.data[k * p + i] = w[i] * x.data[k * p + i];
            }
        }
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(n, p, true, false, true);
        if (!svd.decompose(m)) {
            throw new IllegalStateException("SVD failed");
        }
        DMatrixRMaj u = svd.getU(null, false);
        SingularOps_DDRM.descendingOrder(u, false, svd.getW(null), null, false);
        DMatrixRMaj top = new DMatrixRMaj(n, r);
        for (int k = 0; k < n; k++) {
            System.arraycopy(u.data, k * u.numCols, top.data, k * r, r);
        }
        return top;
    }
}
