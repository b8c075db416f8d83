package org.flagagg.kernels;

import java.nio.ByteBuffer;

/**
 * The hot loops over chunks. One interface, a scalar implementation that always works, and a vectorised
 * one (jdk.incubator.vector) chosen at run time when the module is present; both pass the same tests.
 * Inputs are float32 (the wire format); accumulation is in double.
 */
public interface Kernels {

    /**
     * Coordinates per tile of {@link #gramFold} (see ScalarKernels.TILE): folding a block in consecutive
     * parts of whole tiles into the same {@code out} gives the same bits as folding it at once.
     */
    int TILE = 2048;

    /** Name for logs and benchmark tables: "scalar" or "vector". */
    String name();

    /**
     * Adds the Gram matrix of a block to {@code out}: for i, j < count,
     * out[i * count + j] += sum_{k < len} rows[i][k] * rows[j][k]. Fills both triangles.
     * Each product is formed and summed in double.
     */
    void gramFold(float[][] rows, int count, int len, double[] out);

    /**
     * Linear combination of a block: out[outOffset + k] = sum_{i < count} coeffs[i] * rows[i][k] for k < len,
     * in double (overwrites).
     */
    void combine(double[] coeffs, float[][] rows, int count, int len, double[] out, int outOffset);

    /**
     * Decodes {@code len} little-endian float32 values from {@code src} (from its position; the position
     * advances by 4 * len) into dst[dstOffset ..].
     */
    void decode(ByteBuffer src, float[] dst, int dstOffset, int len);

    /** Index of the first NaN or infinite value in a[from, to), or -1 if all are finite. */
    int firstNonFinite(float[] a, int from, int to);

    /**
     * Index of the first NaN or infinite value among the {@code count} little-endian float32 values from
     * src's position, or -1 if all are finite. Checks encoded chunks without decoding them; src is unchanged.
     */
    int firstNonFinite(ByteBuffer src, int count);

    /** The fastest implementation available in this JVM (logged once if that is the scalar fallback). */
    static Kernels best() {
        return KernelSelector.BEST;
    }

    /** The portable scalar implementation. */
    static Kernels scalar() {
        return ScalarKernels.INSTANCE;
    }
}
