package org.flagagg.kernels;

import java.nio.ByteBuffer;
import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels on the Vector API (jdk.incubator.vector, JDK 17 and later with --add-modules). Loaded only
 * reflectively by {@link KernelSelector}: without the module, this class fails to load.
 *
 * <p>Four float32 lanes (128 bits) are widened to four doubles (256 bits) and fused-multiply-added into
 * double accumulators. A product of two widened floats is exact in double, so the fma rounds exactly as a
 * separate multiply and add would: the Gram result differs from the scalar kernels only by the order of
 * the additions. The species are static final constants: C2 only compiles the operations to single
 * instructions when it sees the species as a constant (passed as a parameter it ran 10x slower).
 * 256-bit shapes rather than 512: the 512-bit variant measured 2x slower on JDK 25.
 */
final class VectorKernels implements Kernels {
    static final VectorKernels INSTANCE = new VectorKernels();

    private static final VectorSpecies<Float> F4 = FloatVector.SPECIES_128;
    private static final VectorSpecies<Double> D4 = DoubleVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    private static final int TILE = ScalarKernels.TILE;

    private VectorKernels() {
    }

    @Override
    public String name() {
        return "vector";
    }

    /** Four floats from a[k] widened to four doubles. */
    private static DoubleVector widen(float[] a, int k) {
        return (DoubleVector) FloatVector.fromArray(F4, a, k).convertShape(VectorOperators.F2D, D4, 0);
    }

    @Override
    public void gramFold(float[][] rows, int count, int len, double[] out) {
        int blocked = count & ~3;
        for (int from = 0; from < len; from += TILE) {
            int to = Math.min(len, from + TILE);
            for (int i = 0; i < blocked; i += 4) {
                diagonal4(rows, i, from, to, out, count);
                for (int j = i + 4; j < blocked; j += 4) {
                    block4x4(rows, i, j, from, to, out, count);
                }
                for (int j = blocked; j < count; j++) {
                    block4x1(rows, i, rows[j], j, from, to, out, count);
                }
            }
            // The last count % 4 rows among themselves (at most 6 pairs).
            for (int i = blocked; i < count; i++) {
                for (int j = i; j < count; j++) {
                    ScalarKernels.addPair(out, count, i, j, dot(rows[i], rows[j], from, to));
                }
            }
        }
    }

    /** The 4 x 4 block of rows i..i+3 with themselves: 10 distinct pairs. */
    private static void diagonal4(float[][] rows, int i, int from, int to, double[] out, int count) {
        float[] a0 = rows[i], a1 = rows[i + 1], a2 = rows[i + 2], a3 = rows[i + 3];
        DoubleVector s00 = DoubleVector.zero(D4), s01 = s00, s02 = s00, s03 = s00;
        DoubleVector s11 = s00, s12 = s00, s13 = s00;
        DoubleVector s22 = s00, s23 = s00;
        DoubleVector s33 = s00;
        int bound = from + ((to - from) & ~3);
        for (int k = from; k < bound; k += 4) {
            DoubleVector x0 = widen(a0, k), x1 = widen(a1, k), x2 = widen(a2, k), x3 = widen(a3, k);
            s00 = x0.fma(x0, s00);
            s01 = x0.fma(x1, s01);
            s02 = x0.fma(x2, s02);
            s03 = x0.fma(x3, s03);
            s11 = x1.fma(x1, s11);
            s12 = x1.fma(x2, s12);
            s13 = x1.fma(x3, s13);
            s22 = x2.fma(x2, s22);
            s23 = x2.fma(x3, s23);
            s33 = x3.fma(x3, s33);
        }
        add(out, count, i, i, s00, a0, a0, bound, to);
        add(out, count, i, i + 1, s01, a0, a1, bound, to);
        add(out, count, i, i + 2, s02, a0, a2, bound, to);
        add(out, count, i, i + 3, s03, a0, a3, bound, to);
        add(out, count, i + 1, i + 1, s11, a1, a1, bound, to);
        add(out, count, i + 1, i + 2, s12, a1, a2, bound, to);
        add(out, count, i + 1, i + 3, s13, a1, a3, bound, to);
        add(out, count, i + 2, i + 2, s22, a2, a2, bound, to);
        add(out, count, i + 2, i + 3, s23, a2, a3, bound, to);
        add(out, count, i + 3, i + 3, s33, a3, a3, bound, to);
    }

    /** Rows i..i+3 against rows j..j+3 (j > i): 16 accumulators, 8 loads per 4 coordinates. */
    private static void block4x4(float[][] rows, int i, int j, int from, int to, double[] out, int count) {
        float[] a0 = rows[i], a1 = rows[i + 1], a2 = rows[i + 2], a3 = rows[i + 3];
        float[] b0 = rows[j], b1 = rows[j + 1], b2 = rows[j + 2], b3 = rows[j + 3];
        DoubleVector s00 = DoubleVector.zero(D4), s01 = s00, s02 = s00, s03 = s00;
        DoubleVector s10 = s00, s11 = s00, s12 = s00, s13 = s00;
        DoubleVector s20 = s00, s21 = s00, s22 = s00, s23 = s00;
        DoubleVector s30 = s00, s31 = s00, s32 = s00, s33 = s00;
        int bound = from + ((to - from) & ~3);
        for (int k = from; k < bound; k += 4) {
            DoubleVector x0 = widen(a0, k), x1 = widen(a1, k), x2 = widen(a2, k), x3 = widen(a3, k);
            DoubleVector y0 = widen(b0, k), y1 = widen(b1, k), y2 = widen(b2, k), y3 = widen(b3, k);
            s00 = x0.fma(y0, s00);
            s01 = x0.fma(y1, s01);
            s02 = x0.fma(y2, s02);
            s03 = x0.fma(y3, s03);
            s10 = x1.fma(y0, s10);
            s11 = x1.fma(y1, s11);
            s12 = x1.fma(y2, s12);
            s13 = x1.fma(y3, s13);
            s20 = x2.fma(y0, s20);
            s21 = x2.fma(y1, s21);
            s22 = x2.fma(y2, s22);
            s23 = x2.fma(y3, s23);
            s30 = x3.fma(y0, s30);
            s31 = x3.fma(y1, s31);
            s32 = x3.fma(y2, s32);
            s33 = x3.fma(y3, s33);
        }
        add(out, count, i, j, s00, a0, b0, bound, to);
        add(out, count, i, j + 1, s01, a0, b1, bound, to);
        add(out, count, i, j + 2, s02, a0, b2, bound, to);
        add(out, count, i, j + 3, s03, a0, b3, bound, to);
        add(out, count, i + 1, j, s10, a1, b0, bound, to);
        add(out, count, i + 1, j + 1, s11, a1, b1, bound, to);
        add(out, count, i + 1, j + 2, s12, a1, b2, bound, to);
        add(out, count, i + 1, j + 3, s13, a1, b3, bound, to);
        add(out, count, i + 2, j, s20, a2, b0, bound, to);
        add(out, count, i + 2, j + 1, s21, a2, b1, bound, to);
        add(out, count, i + 2, j + 2, s22, a2, b2, bound, to);
        add(out, count, i + 2, j + 3, s23, a2, b3, bound, to);
        add(out, count, i + 3, j, s30, a3, b0, bound, to);
        add(out, count, i + 3, j + 1, s31, a3, b1, bound, to);
        add(out, count, i + 3, j + 2, s32, a3, b2, bound, to);
        add(out, count, i + 3, j + 3, s33, a3, b3, bound, to);
    }

    /** Rows i..i+3 against one leftover row b (index j). */
    private static void block4x1(float[][] rows, int i, float[] b, int j, int from, int to,
                                 double[] out, int count) {
        float[] a0 = rows[i], a1 = rows[i + 1], a2 = rows[i + 2], a3 = rows[i + 3];
        DoubleVector s0 = DoubleVector.zero(D4), s1 = s0, s2 = s0, s3 = s0;
        int bound = from + ((to - from) & ~3);
        for (int k = from; k < bound; k += 4) {
            DoubleVector y = widen(b, k);
            s0 = widen(a0, k).fma(y, s0);
            s1 = widen(a1, k).fma(y, s1);
            s2 = widen(a2, k).fma(y, s2);
            s3 = widen(a3, k).fma(y, s3);
        }
        add(out, count, i, j, s0, a0, b, bound, to);
        add(out, count, i + 1, j, s1, a1, b, bound, to);
        add(out, count, i + 2, j, s2, a2, b, bound, to);
        add(out, count, i + 3, j, s3, a3, b, bound, to);
    }

    /**
     * The lanes' sum in a fixed order. reduceLanes(ADD) leaves the order open, and the JIT's intrinsic and
     * the Vector API's Java fallback (run before C2 compiles a kernel) sum differently: the same chunk then
     * gave partials a bit apart depending on the JIT's state (seen on JDK 25), and G lost reproducibility.
     */
    private static double sumLanes(DoubleVector v) {
        return (v.lane(0) + v.lane(1)) + (v.lane(2) + v.lane(3));
    }

    /** Vector dot product in double with two accumulators, scalar tail. */
    private static double dot(float[] a, float[] b, int from, int to) {
        DoubleVector s = DoubleVector.zero(D4), t = s;
        int k = from;
        int bound8 = from + ((to - from) & ~7);
        for (; k < bound8; k += 8) {
            s = widen(a, k).fma(widen(b, k), s);
            t = widen(a, k + 4).fma(widen(b, k + 4), t);
        }
        if (k + 4 <= to) {
            s = widen(a, k).fma(widen(b, k), s);
            k += 4;
        }
        return sumLanes(s.add(t)) + ScalarKernels.dot(a, b, k, to);
    }

    /** Reduces an accumulator, adds the scalar tail [k, to) of the pair, and adds both to out. */
    private static void add(double[] out, int count, int i, int j, DoubleVector sum,
                            float[] a, float[] b, int k, int to) {
        double s = sumLanes(sum);
        for (; k < to; k++) {
            s += (double) a[k] * b[k];
        }
        ScalarKernels.addPair(out, count, i, j, s);
    }

    @Override
    public void combine(double[] coeffs, float[][] rows, int count, int len, double[] out, int outOffset) {
        if (count == 0) {
            Arrays.fill(out, outOffset, outOffset + len, 0.0);
            return;
        }
        // Sixteen coordinates per step in four independent accumulators (fma latency), all rows folded
        // in register before one store: the output is written once.
        int k = 0;
        int bound = len & ~15;
        for (; k < bound; k += 16) {
            DoubleVector s0 = DoubleVector.zero(D4), s1 = s0, s2 = s0, s3 = s0;
            for (int i = 0; i < count; i++) {
                float[] r = rows[i];
                DoubleVector c = DoubleVector.broadcast(D4, coeffs[i]);
                s0 = widen(r, k).fma(c, s0);
                s1 = widen(r, k + 4).fma(c, s1);
                s2 = widen(r, k + 8).fma(c, s2);
                s3 = widen(r, k + 12).fma(c, s3);
            }
            s0.intoArray(out, outOffset + k);
            s1.intoArray(out, outOffset + k + 4);
            s2.intoArray(out, outOffset + k + 8);
            s3.intoArray(out, outOffset + k + 12);
        }
        for (; k < len; k++) {
            double s = 0;
            for (int i = 0; i < count; i++) {
                s += coeffs[i] * rows[i][k];
            }
            out[outOffset + k] = s;
        }
    }

    @Override
    public void decode(ByteBuffer src, float[] dst, int dstOffset, int len) {
        // The little-endian FloatBuffer copy already runs at memcpy speed, and FloatVector.fromByteBuffer
        // no longer exists after JDK 18.
        ScalarKernels.INSTANCE.decode(src, dst, dstOffset, len);
    }

    @Override
    public int firstNonFinite(ByteBuffer src, int count) {
        if (!src.hasArray()) {
            return ScalarKernels.INSTANCE.firstNonFinite(src, count);
        }
        // Bytes reinterpreted as int lanes (little-endian, as the Vector API defines it): exponent bits all
        // ones is NaN or infinite. 32 values per test, as for float arrays; the scalar loop took 3% of a run.
        byte[] a = src.array();
        int base = src.arrayOffset() + src.position();
        int k = 0;
        int bound = count & ~31;
        for (; k < bound; k += 32) {
            int at = base + 4 * k;
            if (nonFinite(a, at).or(nonFinite(a, at + 32)).or(nonFinite(a, at + 64)).or(nonFinite(a, at + 96))
                    .anyTrue()) {
                return ScalarKernels.scan(a, base, k, k + 32);
            }
        }
        return ScalarKernels.scan(a, base, k, count);
    }

    /** Lanes of the eight little-endian float32 values at a[at ..] that are NaN or infinite. */
    private static VectorMask<Integer> nonFinite(byte[] a, int at) {
        IntVector bits = (IntVector) ByteVector.fromArray(B32, a, at).reinterpretAsInts();
        return bits.and(ScalarKernels.EXPONENT).compare(VectorOperators.EQ, ScalarKernels.EXPONENT);
    }

    @Override
    public int firstNonFinite(float[] a, int from, int to) {
        // |x| <= MAX_VALUE is false exactly for NaN and the infinities. Four vectors per test and branch;
        // the block that fails is scanned one by one for the first offender.
        int k = from;
        int bound = from + Math.max(0, (to - from) & ~31);
        for (; k < bound; k += 32) {
            VectorMask<Float> finite = FloatVector.fromArray(F8, a, k).abs()
                    .compare(VectorOperators.LE, Float.MAX_VALUE)
                    .and(FloatVector.fromArray(F8, a, k + 8).abs().compare(VectorOperators.LE, Float.MAX_VALUE))
                    .and(FloatVector.fromArray(F8, a, k + 16).abs().compare(VectorOperators.LE, Float.MAX_VALUE))
                    .and(FloatVector.fromArray(F8, a, k + 24).abs().compare(VectorOperators.LE, Float.MAX_VALUE));
            if (!finite.allTrue()) {
                return ScalarKernels.scan(a, k, k + 32);
            }
        }
        return ScalarKernels.scan(a, k, to);
    }
}
