package org.flagagg.kernels;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Portable kernels: plain loops (to be register-blocked for the JIT). */
final class ScalarKernels implements Kernels {
    static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void gramFold(float[][] rows, int count, int len, double[] out) {
        for (int i = 0; i < count; i++) {
            float[] a = rows[i];
            for (int j = i; j < count; j++) {
                float[] b = rows[j];
                double s = 0;
                for (int k = 0; k < len; k++) {
                    s += (double) a[k] * b[k];
                }
                out[i * count + j] += s;
                if (i != j) {
                    out[j * count + i] += s;
                }
            }
        }
    }

    @Override
    public void combine(double[] coeffs, float[][] rows, int count, int len, double[] out, int outOffset) {
        for (int k = 0; k < len; k++) {
            double s = 0;
            for (int i = 0; i < count; i++) {
                s += coeffs[i] * rows[i][k];
            }
            out[outOffset + k] = s;
        }
    }

    @Override
    public void decode(ByteBuffer src, float[] dst, int dstOffset, int len) {
        ByteBuffer le = src.slice().order(ByteOrder.LITTLE_ENDIAN);
        le.asFloatBuffer().get(dst, dstOffset, len);
        src.position(src.position() + 4 * len);
    }

    @Override
    public int firstNonFinite(float[] a, int from, int to) {
        for (int k = from; k < to; k++) {
            if (!Float.isFinite(a[k])) {
                return k;
            }
        }
        return -1;
    }
}
