package org.flagagg.fa;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The Flag Aggregator (Almasi et al., ICLR 2024) computed from the p x p Gram matrix alone.
 *
 * <p>Every flag Y the algorithm produces lies in the span of the normalised gradients X = [x_1 .. x_p],
 * so it is kept as Y = X A with a p x r coefficient matrix A (A^T K A = I, K = D^-1 G D^-1). Each IRLS
 * step is the top-r eigenvectors of X C X^T for a p x p weighting C, found from the eigen-decomposition
 * of K; nothing depends on the gradients' dimension n. See docs/algorithm.md and the shared note
 * flag-aggregator-math.md for the derivation.
 *
 * <p>Over 400 lines: the IRLS steps, the exact objective and the step acceptance are one algorithm, read
 * together against the math note.
 */
public final class FlagSolver {

    /** Eigenvalues at or below this fraction of the largest count as zero (rank of X, and of a step). */
    static final double RANK_CUTOFF = 1e-12;

    private FlagSolver() {
    }

    /** Checks the flag rank against the number of inputs given. */
    public static void checkRank(int r, int p) {
        if (r < 1 || r > p) {
            throw new IllegalArgumentException(
                    "flag rank r = " + r + " is out of range 1.." + p + " for p = " + p);
        }
    }

    /**
     * Runs FA on p inputs given by their Gram matrix.
     *
     * @param gram    row-major p x p, G_ij = g_i . g_j
     * @param p       number of inputs
     * @param options rank, lambda, iterations, tol, eps, scale
     * @throws IllegalArgumentException for a malformed Gram matrix, a rank out of range, or when no input
     *                                  has a finite non-zero gradient
     */
    public static FlagSolution solve(double[] gram, int p, FlagOptions options) {
        if (p < 1) {
            throw new IllegalArgumentException("flag needs at least one input (p = " + p + ")");
        }
        if (gram == null || gram.length != p * p) {
            throw new IllegalArgumentException("the Gram matrix must have p * p = " + p * p + " entries (p = " + p
                    + "), got " + (gram == null ? "null" : gram.length));
        }
        Map<Integer, String> dropped = findDropped(gram, p);
        int[] kept = keptIndices(p, dropped);
        if (kept.length < 1) {
            throw new IllegalArgumentException("flag needs at least 1 input with a finite, non-zero gradient;"
                    + " all p = " + p + " were dropped: " + dropped);
        }
        int r = options.rankFor(kept.length);
        checkRank(r, p);

        double[] norms = norms(gram, p, kept);
        double[][] k = gramToK(gram, p, kept, norms);
        Basis basis = basis(k);

        Flag flag = irls(k, basis, r, options);

        double[] u = scaledCoefficients(k, flag.a(), r);
        if (options.scale() == FlagOptions.Scale.NORM) {
            rescaleToMedianNorm(u, k, norms);
        }
        return new FlagSolution(
                spread(p, kept, u, norms),
                qualities(p, kept, flag.residuals()),
                finalWeights(p, kept, flag.residuals(), options.eps()),
                Collections.unmodifiableMap(dropped),
                flag.trace(),
                flag.trace().length - 1,
                r,
                flag.a()[0].length);
    }

    /** The final flag and E at the start and after each accepted step. */
    private record Flag(Step step, double[] trace) {
        double[][] a() {
            return step.a();
        }

        double[] residuals() {
            return step.residuals();
        }
    }

    /**
     * A rise of E by at most this counts as no change: the step is kept and IRLS has converged. E is computed
     * to about 1e-15 (see {@link #subspace}) and moves by about 1e-13 between chunkings of the same data (G's
     * rounding bound, GramAccumulator), so a converged step's change of E is noise of either sign; without
     * this the sign of that noise would decide whether the step counts. It is 100 times below tol, so a
     * real rise is still refused.
     */
    static final double NO_CHANGE = 1e-12;

    /** Starts at the flag mean (C = I), then takes IRLS steps while they do not raise the objective. */
    private static Flag irls(double[][] k, Basis basis, int r, FlagOptions options) {
        Step step = subspace(basis, identity(k.length), r);
        double e = objective(step.residuals());
        List<Double> trace = new ArrayList<>();
        trace.add(e);
        for (int t = 0; t < options.iterations(); t++) {
            double[][] proj = options.lambda() > 0 ? projections(k, step.a()) : null; // only the pairs need P
            Step next = subspace(basis, stepMatrix(proj, step.residuals(), options.lambda(), options.eps()), r);
            double nextE = objective(next.residuals());
            if (!(nextE <= e + NO_CHANGE)) {
                break; // the step raised E: keep the previous flag
            }
            step = next;
            trace.add(nextE);
            boolean converged = e - nextE <= options.tol();
            e = nextE;
            if (converged) {
                break;
            }
        }
        return new Flag(step, trace.stream().mapToDouble(Double::doubleValue).toArray());
    }

    // ---- input checks ----

    /** Inputs FA cannot normalise: zero, non-finite, or an inconsistent Gram row. */
    private static Map<Integer, String> findDropped(double[] gram, int p) {
        Map<Integer, String> dropped = new TreeMap<>();
        for (int i = 0; i < p; i++) {
            double d = gram[i * p + i];
            if (!Double.isFinite(d)) {
                dropped.put(i, "non-finite value");
            } else if (d == 0) {
                dropped.put(i, "zero gradient");
            } else if (d < 0) {
                dropped.put(i, "negative squared norm " + d + " (not a Gram matrix)");
            }
        }
        // Cauchy-Schwarz keeps G_ij finite when both diagonals are; if not, both rows are unusable.
        for (int i = 0; i < p; i++) {
            for (int j = i + 1; j < p; j++) {
                if (!dropped.containsKey(i) && !dropped.containsKey(j)
                        && !(Double.isFinite(gram[i * p + j]) && Double.isFinite(gram[j * p + i]))) {
                    dropped.put(i, "non-finite value");
                    dropped.put(j, "non-finite value");
                }
            }
        }
        return dropped;
    }

    private static int[] keptIndices(int p, Map<Integer, String> dropped) {
        int[] kept = new int[p - dropped.size()];
        for (int i = 0, c = 0; i < p; i++) {
            if (!dropped.containsKey(i)) {
                kept[c++] = i;
            }
        }
        return kept;
    }

    private static double[] norms(double[] gram, int p, int[] kept) {
        double[] norms = new double[kept.length];
        for (int i = 0; i < kept.length; i++) {
            norms[i] = Math.sqrt(gram[kept[i] * p + kept[i]]);
        }
        return norms;
    }

    // ---- the p x p algebra ----

    /** K = D^-1 G D^-1 on the kept inputs: the Gram matrix of the unit vectors x_i (K_ii = 1). */
    private static double[][] gramToK(double[] gram, int p, int[] kept, double[] norms) {
        int m = kept.length;
        double[][] k = new double[m][m];
        for (int i = 0; i < m; i++) {
            k[i][i] = 1;
            for (int j = i + 1; j < m; j++) {
                // Averaging both triangles keeps K symmetric even if G is not quite; dividing one norm at a
                // time avoids overflow of nu_i nu_j.
                double g = 0.5 * gram[kept[i] * p + kept[j]] + 0.5 * gram[kept[j] * p + kept[i]];
                k[i][j] = g / norms[i] / norms[j];
                k[j][i] = k[i][j];
            }
        }
        return k;
    }

    /**
     * K's eigenpairs above the cutoff, K = Q L Q^T restricted to span(X), in the two forms every step uses
     * (both fixed for the whole solve).
     *
     * @param rootT    (Q L^(1/2))^T, k x m: row a is X^T u_a for X's a-th left singular vector u_a
     * @param invRoot  Q L^(-1/2), m x k: X times it gives the left singular vectors u_a
     */
    private record Basis(double[][] rootT, double[][] invRoot) {
        int rank() {
            return rootT.length;
        }
    }

    private static Basis basis(double[][] k) {
        EigenPairs all = eigen(k);
        int m = k.length;
        int rank = countAbove(all.values(), m);
        double[][] rootT = new double[rank][m];
        double[][] invRoot = new double[m][rank];
        for (int j = 0; j < rank; j++) {
            double root = Math.sqrt(all.values()[j]);
            for (int i = 0; i < m; i++) {
                rootT[j][i] = all.vectors()[i][j] * root;
                invRoot[i][j] = all.vectors()[i][j] / root;
            }
        }
        return new Basis(rootT, invRoot);
    }

    /** Eigenpairs of a symmetric matrix, values decreasing; vectors[i][c] is entry i of the c-th vector. */
    private record EigenPairs(double[] values, double[][] vectors) {
    }

    /**
     * EJML's symmetric QR algorithm (DecompositionFactory_DDRM.eig(n, true, true)): it overwrites its
     * input and returns the eigenvalues unsorted, so we copy and sort. Ties keep EJML's order (stable
     * sort), which is deterministic for a given input.
     */
    private static EigenPairs eigen(double[][] sym) {
        int n = sym.length;
        DMatrixRMaj matrix = new DMatrixRMaj(sym);
        EigenDecomposition_F64<DMatrixRMaj> decomposition = DecompositionFactory_DDRM.eig(n, true, true);
        if (!decomposition.decompose(matrix)) {
            return eigenBySvd(sym);
        }
        double[] unsorted = new double[n];
        double[][] columns = new double[n][];
        for (int c = 0; c < n; c++) {
            unsorted[c] = decomposition.getEigenvalue(c).real;
            DMatrixRMaj v = decomposition.getEigenVector(c);
            columns[c] = new double[n];
            for (int i = 0; i < n; i++) {
                columns[c][i] = v.get(i, 0);
            }
        }
        return sorted(unsorted, columns);
    }

    /**
     * The fallback when EJML's symmetric QR gives up, as it does on a Gram matrix of near-parallel rows
     * (nnm's mixed gradients at p = 256, RuleSolveBench): the SVD S = U Sigma V^T, whose columns of U are
     * orthonormal eigenvectors of the symmetric S, each with its eigenvalue u^T S u (the sign Sigma drops).
     */
    private static EigenPairs eigenBySvd(double[][] sym) {
        int n = sym.length;
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(n, n, true, false, false);
        if (!svd.decompose(new DMatrixRMaj(sym))) {
            throw new ArithmeticException("eigen-decomposition of a " + n + " x " + n + " matrix did not converge"
                    + " (symmetric QR and SVD)");
        }
        DMatrixRMaj u = svd.getU(null, false);
        double[] values = new double[n];
        double[][] columns = new double[n][n];
        for (int c = 0; c < n; c++) {
            for (int i = 0; i < n; i++) {
                columns[c][i] = u.get(i, c);
            }
            values[c] = dot(columns[c], multiplyRow(columns[c], sym));
        }
        return sorted(values, columns);
    }

    /** Eigenpairs by decreasing value; ties keep the decomposition's order (stable sort), deterministic. */
    private static EigenPairs sorted(double[] values, double[][] columns) {
        int n = values.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -values[i]));
        double[] sortedValues = new double[n];
        double[][] vectors = new double[n][n];
        for (int c = 0; c < n; c++) {
            sortedValues[c] = values[order[c]];
            for (int i = 0; i < n; i++) {
                vectors[i][c] = columns[order[c]][i];
            }
        }
        return new EigenPairs(sortedValues, vectors);
    }

    /** How many of the first {@code limit} decreasing values exceed RANK_CUTOFF times the largest. */
    private static int countAbove(double[] decreasing, int limit) {
        if (decreasing.length == 0 || !(decreasing[0] > 0)) {
            return 0;
        }
        double cutoff = RANK_CUTOFF * decreasing[0];
        int count = 0;
        while (count < Math.min(limit, decreasing.length) && decreasing[count] > cutoff) {
            count++;
        }
        return count;
    }

    private static double[][] identity(int m) {
        double[][] c = new double[m][m];
        for (int i = 0; i < m; i++) {
            c[i][i] = 1;
        }
        return c;
    }

    /**
     * The weighting C = B B^T of one IRLS step from the current flag: diag(w_i^2) for the worker columns
     * w_i x_i, plus v_ij^2 (e_i - e_j)(e_i - e_j)^T for every ordered pair column v_ij (x_i - x_j), whose
     * distances come from the projections P (needed only when lambda > 0).
     */
    private static double[][] stepMatrix(double[][] proj, double[] residuals, double lambda, double eps) {
        int m = residuals.length;
        double[][] c = new double[m][m];
        for (int i = 0; i < m; i++) {
            double w = weight(residuals[i], eps);
            c[i][i] = w * w;
        }
        if (lambda > 0 && m > 1) {
            double pairScale = lambda / (m * (m - 1.0));
            for (int i = 0; i < m; i++) {
                for (int j = i + 1; j < m; j++) {
                    double distance = proj[i][i] + proj[j][j] - 2 * proj[i][j]; // ||Y^T (x_i - x_j)||^2
                    double v = pairScale * Math.pow(Math.abs(1 - distance) + eps, -0.25);
                    double both = 2 * v * v; // (i, j) and (j, i) give the same column up to sign
                    c[i][i] += both;
                    c[j][j] += both;
                    c[i][j] -= both;
                    c[j][i] -= both;
                }
            }
        }
        return c;
    }

    /**
     * A flag Y = X A, and each worker's residual 1 - ||Y^T x_i||^2 (the squared sine of its angle to the
     * flag, within the span of X).
     */
    private record Step(double[][] a, double[] residuals) {
    }

    /**
     * The flag of a weighting C: Y = X A the top-r eigenvectors of X C X^T. S = L^(1/2) Q^T C Q L^(1/2) =
     * Z Sigma Z^T, then A = Q L^(-1/2) Z_r, keeping at most the non-zero part of Sigma.
     *
     * <p>The residuals are computed without cancellation: in the orthonormal basis U = X Q L^(-1/2) of
     * span(X), x_i has coordinates c_i = L^(1/2) Q^T e_i (column i of rootT) and Y = U Z_r, so
     * 1 - ||Y^T x_i||^2 = ||c_i||^2 - ||Z_r^T c_i||^2 = ||Z_rest^T c_i||^2 over the columns of Z not kept.
     * Forming 1 - q_i instead loses everything below ~1e-16 in q_i, which the square root in E turns into
     * ~1e-8 for a worker inside the flag: a hundred times tol.
     */
    private static Step subspace(Basis basis, double[][] c, int r) {
        double[][] rootT = basis.rootT();
        int k = basis.rank();
        double[][] cRootT = new double[k][]; // (C Q L^(1/2))^T = (Q L^(1/2))^T C, as C is symmetric
        for (int a = 0; a < k; a++) {
            cRootT[a] = multiplyRow(rootT[a], c);
        }
        double[][] s = new double[k][k];
        for (int a = 0; a < k; a++) {
            for (int b = a; b < k; b++) {
                // symmetrised: the symmetric eigen solver must see an exactly symmetric S
                s[a][b] = 0.5 * (dot(rootT[a], cRootT[b]) + dot(rootT[b], cRootT[a]));
                s[b][a] = s[a][b];
            }
        }
        EigenPairs z = eigen(s);
        int columns = countAbove(z.values(), r);
        double[][] zr = new double[k][columns];
        for (int j = 0; j < k; j++) {
            System.arraycopy(z.vectors()[j], 0, zr[j], 0, columns);
        }
        double[] residuals = new double[basis.invRoot().length];
        double[] zRest = new double[k];
        for (int rest = columns; rest < k; rest++) {
            for (int a = 0; a < k; a++) {
                zRest[a] = z.vectors()[a][rest];
            }
            double[] along = multiplyRow(zRest, rootT); // z_rest . c_i for every i
            for (int i = 0; i < residuals.length; i++) {
                residuals[i] += along[i] * along[i];
            }
        }
        return new Step(multiply(basis.invRoot(), zr), residuals);
    }

    /** P = K A A^T K: P_ii = ||Y^T x_i||^2 and P_ij = (Y^T x_i) . (Y^T x_j). Exactly symmetric. */
    private static double[][] projections(double[][] k, double[][] a) {
        double[][] b = multiply(k, a); // row i = Y^T x_i
        int m = k.length;
        double[][] proj = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = i; j < m; j++) {
                proj[i][j] = dot(b[i], b[j]);
                proj[j][i] = proj[i][j];
            }
        }
        return proj;
    }

    /** E = sum_i sqrt(1 - ||Y^T x_i||^2), the sum of the sines of the angles to the flag. */
    private static double objective(double[] residuals) {
        double e = 0;
        for (double residual : residuals) {
            e += Math.sqrt(residual);
        }
        return e;
    }

    /** w_i = (|1 - q_i| + eps)^(-1/4), from the residual 1 - q_i (never negative here). */
    private static double weight(double residual, double eps) {
        return Math.pow(residual + eps, -0.25);
    }

    /** v^T M for a row vector v. */
    private static double[] multiplyRow(double[] v, double[][] matrix) {
        double[] out = new double[matrix[0].length];
        for (int t = 0; t < v.length; t++) {
            double vt = v[t];
            double[] row = matrix[t];
            for (int j = 0; j < out.length; j++) {
                out[j] += vt * row[j];
            }
        }
        return out;
    }

    private static double dot(double[] x, double[] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            sum += x[i] * y[i];
        }
        return sum;
    }

    private static double[][] multiply(double[][] x, double[][] y) {
        int inner = y.length;
        int cols = inner == 0 ? 0 : y[0].length;
        double[][] out = new double[x.length][cols];
        for (int i = 0; i < x.length; i++) {
            for (int t = 0; t < inner; t++) {
                double xit = x[i][t];
                for (int j = 0; j < cols; j++) {
                    out[i][j] += xit * y[t][j];
                }
            }
        }
        return out;
    }

    // ---- output ----

    /** u = (1/r) A A^T K 1, the aggregate's coefficients on the unit vectors: a = sum_i u_i x_i. */
    private static double[] scaledCoefficients(double[][] k, double[][] a, int r) {
        int m = k.length;
        int columns = a[0].length;
        double[] sumOfX = new double[columns]; // A^T K 1 = Y^T sum_i x_i
        for (int i = 0; i < m; i++) {
            double rowSum = 0;
            for (int j = 0; j < m; j++) {
                rowSum += k[i][j];
            }
            for (int c = 0; c < columns; c++) {
                sumOfX[c] += a[i][c] * rowSum;
            }
        }
        double[] u = new double[m];
        for (int i = 0; i < m; i++) {
            double sum = 0;
            for (int c = 0; c < columns; c++) {
                sum += a[i][c] * sumOfX[c];
            }
            u[i] = sum / r;
        }
        return u;
    }

    /** Scale.NORM: ||a||^2 = u^T K u; scale it to the median of the kept norms (a zero a stays zero). */
    private static void rescaleToMedianNorm(double[] u, double[][] k, double[] norms) {
        double squared = 0;
        for (int i = 0; i < u.length; i++) {
            for (int j = 0; j < u.length; j++) {
                squared += u[i] * k[i][j] * u[j];
            }
        }
        double norm = Math.sqrt(Math.max(0, squared));
        if (norm == 0) {
            return;
        }
        double factor = median(norms) / norm;
        for (int i = 0; i < u.length; i++) {
            u[i] *= factor;
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : 0.5 * sorted[mid - 1] + 0.5 * sorted[mid];
    }

    /** c over all p inputs: c_i = u_i / ||g_i||, 0 for the dropped ones. */
    private static double[] spread(int p, int[] kept, double[] u, double[] norms) {
        double[] c = new double[p];
        for (int i = 0; i < kept.length; i++) {
            c[kept[i]] = u[i] / norms[i];
        }
        return c;
    }

    /** q_i = 1 - residual_i, clamped to [0, 1]; NaN for dropped inputs. */
    private static double[] qualities(int p, int[] kept, double[] residuals) {
        double[] q = new double[p];
        Arrays.fill(q, Double.NaN);
        for (int i = 0; i < kept.length; i++) {
            q[kept[i]] = Math.max(0, 1 - residuals[i]);
        }
        return q;
    }

    /** The IRLS weight each input would get from the final flag; NaN for dropped inputs. */
    private static double[] finalWeights(int p, int[] kept, double[] residuals, double eps) {
        double[] w = new double[p];
        Arrays.fill(w, Double.NaN);
        for (int i = 0; i < kept.length; i++) {
            w[kept[i]] = weight(residuals[i], eps);
        }
        return w;
    }
}
