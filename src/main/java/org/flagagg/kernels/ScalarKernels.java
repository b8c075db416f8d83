package org.flagagg.kernels;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Portable kernels: plain array loops shaped for C2. Never mentions jdk.incubator.vector, so it loads on
 * every JVM. The Gram fold is register-blocked over 2 x 2 blocks of rows; every float product is formed
 * in double (exactly: 24 + 24 bits fit in a double's 53) and summed in double.
 */
final class ScalarKernels implements Kernels {
    static final ScalarKernels INSTANCE = new ScalarKernels();

    /**
     * Coordinates per tile of the Gram fold and the combination. All row blocks of a tile are folded
     * before the next tile, so the tile stays in cache (64 rows x 8 KiB = 512 KiB) instead of every row
     * block streaming the whole chunk from memory again. Also bounds the longest sequential double sum
     * (see GramAccumulator's error bound). Multiple of 32 so vector loops divide it evenly.
     */
    static final int TILE = Kernels.TILE;

    /** Little-endian int32 loads from byte arrays (C2 compiles them to plain loads). */
    private static final VarHandle LE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    /** A float32's exponent bits: all ones exactly for NaN and the infinities. */
    static final int EXPONENT = 0x7f800000;

    private ScalarKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void gramFold(float[][] rows, int count, int len, double[] out) {
        for (int from = 0; from < len; from += TILE) {
            int to = Math.min(len, from + TILE);
            int i = 0;
            for (; i + 1 < count; i += 2) {
                float[] a0 = rows[i];
                float[] a1 = rows[i + 1];
                diagonal2(a0, a1, from, to, out, count, i);
                int j = i + 2;
                for (; j + 1 < count; j += 2) {
                    block2x2(a0, a1, rows[j], rows[j + 1], from, to, out, count, i, j);
                }
                if (j < count) {
                    block2x1(a0, a1, rows[j], from, to, out, count, i, j);
                }
            }
            if (i < count) {
                // Odd count: the last row's pairs with earlier rows were done by block2x1 above.
                float[] a = rows[i];
                out[i * count + i] += dot(a, a, from, to);
            }
        }
    }

    /** Adds s to out[i][j] and, off the diagonal, to out[j][i]. */
    static void addPair(double[] out, int count, int i, int j, double s) {
        out[i * count + j] += s;
        if (i != j) {
            out[j * count + i] += s;
        }
    }

    // Two coordinates per step with separate accumulators: double adds have ~4 cycles latency, so more
    // independent chains keep the adder busy.
    private static void diagonal2(float[] a0, float[] a1, int from, int to, double[] out, int count, int i) {
        double s00 = 0, s01 = 0, s11 = 0;
        double t00 = 0, t01 = 0, t11 = 0;
        int k = from;
        for (; k + 1 < to; k += 2) {
            double x0 = a0[k], x1 = a1[k];
            double y0 = a0[k + 1], y1 = a1[k + 1];
            s00 += x0 * x0;
            s01 += x0 * x1;
            s11 += x1 * x1;
            t00 += y0 * y0;
            t01 += y0 * y1;
            t11 += y1 * y1;
        }
        if (k < to) {
            double x0 = a0[k], x1 = a1[k];
            s00 += x0 * x0;
            s01 += x0 * x1;
            s11 += x1 * x1;
        }
        addPair(out, count, i, i, s00 + t00);
        addPair(out, count, i, i + 1, s01 + t01);
        addPair(out, count, i + 1, i + 1, s11 + t11);
    }

    private static void block2x2(float[] a0, float[] a1, float[] b0, float[] b1, int from, int to,
                                 double[] out, int count, int i, int j) {
        double s00 = 0, s01 = 0, s10 = 0, s11 = 0;
        double t00 = 0, t01 = 0, t10 = 0, t11 = 0;
        int k = from;
        for (; k + 1 < to; k += 2) {
            double x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
            double u0 = a0[k + 1], u1 = a1[k + 1], v0 = b0[k + 1], v1 = b1[k + 1];
            s00 += x0 * y0;
            s01 += x0 * y1;
            s10 += x1 * y0;
            s11 += x1 * y1;
            t00 += u0 * v0;
            t01 += u0 * v1;
            t10 += u1 * v0;
            t11 += u1 * v1;
        }
        if (k < to) {
            double x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
            s00 += x0 * y0;
            s01 += x0 * y1;
            s10 += x1 * y0;
            s11 += x1 * y1;
        }
        addPair(out, count, i, j, s00 + t00);
        addPair(out, count, i, j + 1, s01 + t01);
        addPair(out, count, i + 1, j, s10 + t10);
        addPair(out, count, i + 1, j + 1, s11 + t11);
    }

    private static void block2x1(float[] a0, float[] a1, float[] b, int from, int to,
                                 double[] out, int count, int i, int j) {
        double s0 = 0, s1 = 0, t0 = 0, t1 = 0;
        int k = from;
        for (; k + 1 < to; k += 2) {
            double y = b[k], v = b[k + 1];
            s0 += a0[k] * y;
            s1 += a1[k] * y;
            t0 += a0[k + 1] * v;
            t1 += a1[k + 1] * v;
        }
        if (k < to) {
            double y = b[k];
            s0 += a0[k] * y;
            s1 += a1[k] * y;
        }
        addPair(out, count, i, j, s0 + t0);
        addPair(out, count, i + 1, j, s1 + t1);
    }

    /** sum_{from <= k < to} a[k] * b[k] in double, two chains. */
    static double dot(float[] a, float[] b, int from, int to) {
        double s = 0, t = 0;
        int k = from;
        for (; k + 1 < to; k += 2) {
            s += (double) a[k] * b[k];
            t += (double) a[k + 1] * b[k + 1];
        }
        if (k < to) {
            s += (double) a[k] * b[k];
        }
        return s + t;
    }

    @Override
    public void combine(double[] coeffs, float[][] rows, int count, int len, double[] out, int outOffset) {
        if (count == 0) {
            Arrays.fill(out, outOffset, outOffset + len, 0.0);
            return;
        }
        // Tiles keep the output slice in L1 while up to four rows are added per pass. The order of the
        // additions per coordinate is the textbook one: ((c0 r0 + c1 r1) + c2 r2) + ...
        for (int from = 0; from < len; from += TILE) {
            int to = Math.min(len, from + TILE);
            float[] first = rows[0];
            double c = coeffs[0];
            for (int k = from; k < to; k++) {
                out[outOffset + k] = c * first[k];
            }
            int i = 1;
            for (; i + 3 < count; i += 4) {
                float[] r0 = rows[i], r1 = rows[i + 1], r2 = rows[i + 2], r3 = rows[i + 3];
                double c0 = coeffs[i], c1 = coeffs[i + 1], c2 = coeffs[i + 2], c3 = coeffs[i + 3];
                for (int k = from; k < to; k++) {
                    out[outOffset + k] = out[outOffset + k] + c0 * r0[k] + c1 * r1[k] + c2 * r2[k] + c3 * r3[k];
                }
            }
            for (; i < count; i++) {
                float[] r = rows[i];
                double ci = coeffs[i];
                for (int k = from; k < to; k++) {
                    out[outOffset + k] += ci * r[k];
                }
            }
        }
    }

    @Override
    public void decode(ByteBuffer src, float[] dst, int dstOffset, int len) {
        // A little-endian FloatBuffer view copies at memcpy speed; slice() so src's own order is untouched.
        ByteBuffer le = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        le.asFloatBuffer().get(dst, dstOffset, len);
        src.position(src.position() + 4 * len);
    }

    @Override
    public int firstNonFinite(float[] a, int from, int to) {
        // The plain early-exit loop: C2 unrolls it to ~13 GB/s here, faster than a branch-free
        // max-of-exponent-bits reduction over blocks (~7.6 GB/s: the float-to-bits move is not vectorised).
        return scan(a, from, to);
    }

    @Override
    public int firstNonFinite(ByteBuffer src, int count) {
        if (src.hasArray()) {
            return scan(src.array(), src.arrayOffset() + src.position(), 0, count);
        }
        ByteBuffer le = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = src.position();
        for (int k = 0; k < count; k++) {
            if ((le.getInt(base + 4 * k) & EXPONENT) == EXPONENT) {
                return k;
            }
        }
        return -1;
    }

    /**
     * Index of the first non-finite among the little-endian float32 values k in [from, to) at a[base + 4k],
     * or -1. Also used by the vector kernels once a block is known to hold one.
     */
    static int scan(byte[] a, int base, int from, int to) {
        for (int k = from; k < to; k++) {
            if (((int) LE_INT.get(a, base + 4 * k) & EXPONENT) == EXPONENT) {
                return k;
            }
        }
        return -1;
    }

    /** Plain scan, also used by the vector kernels once a block is known to hold a non-finite value. */
    static int scan(float[] a, int from, int to) {
        for (int k = from; k < to; k++) {
            if (!Float.isFinite(a[k])) {
                return k;
            }
        }
        return -1;
    }
}
