package org.flagagg.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The same cases against the scalar and the vector kernels, checked against textbook loops written here. */
class KernelsTest {
    private static final int[] COUNTS = {1, 2, 3, 4, 5, 7, 8, 16, 17, 33};
    private static final int[] LENS = {0, 1, 3, 7, 8, 15, 16, 31, 1000, 4099};
    private static final double U = 0x1p-53;
    /** Coordinates past len are NaN: a kernel that reads them fails the comparison. */
    private static final int PADDING = 5;

    static Stream<Kernels> kernels() {
        return Stream.of(Kernels.scalar(), Kernels.best());
    }

    @Test
    void vectorKernelsAreSelectedWhenTheModuleIsPresent() {
        // Surefire runs with --add-modules=jdk.incubator.vector (pom), so the vector path must be the one picked.
        assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector")).isPresent();
        assertThat(Kernels.best().name()).isEqualTo("vector");
        assertThat(Kernels.scalar().name()).isEqualTo("scalar");
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void gramFoldAddsTheGramMatrixOfEveryShape(Kernels kernels) {
        SplittableRandom random = new SplittableRandom(11);
        for (int count : COUNTS) {
            for (int len : LENS) {
                float[][] rows = randomRows(random, count, len);
                // Start from a symmetric non-zero matrix: the kernel must add to it, on both triangles alike.
                double[] out = new double[count * count];
                for (int i = 0; i < count; i++) {
                    for (int j = i; j < count; j++) {
                        out[i * count + j] = out[j * count + i] = random.nextDouble(-10, 10);
                    }
                }
                double[] initial = out.clone();
                kernels.gramFold(rows, count, len, out);

                // Longest chain of rounded additions per entry (see GramAccumulator): tile/2 + ceil(len/tile)
                // + the tail and lane reductions, + 1 for the addition to out.
                int depth = ScalarKernels.TILE / 2 + (len + ScalarKernels.TILE - 1) / ScalarKernels.TILE + 8;
                for (int i = 0; i < count; i++) {
                    for (int j = 0; j < count; j++) {
                        double[] exact = exactDot(rows[i], rows[j], len);
                        double expected = initial[i * count + j] + exact[0];
                        double scale = exact[1] + Math.abs(initial[i * count + j]);
                        assertThat(Math.abs(out[i * count + j] - expected))
                                .as("%s G[%d][%d], count %d, len %d", kernels.name(), i, j, count, len)
                                .isLessThanOrEqualTo(depth * U * scale * 1.01);
                        assertThat(out[i * count + j]).as("symmetry").isEqualTo(out[j * count + i]);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void gramFoldOfOneRowIsItsSquaredNormAndLenZeroChangesNothing(Kernels kernels) {
        float[][] rows = {{1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f}};
        double[] out = {0.5};
        kernels.gramFold(rows, 1, 9, out);
        assertThat(out[0]).isEqualTo(0.5 + 285);  // exact: small integers

        double[] untouched = {1, 2, 3, 4};
        kernels.gramFold(new float[][] {{Float.NaN}, {Float.NaN}}, 2, 0, untouched);
        assertThat(untouched).containsExactly(1, 2, 3, 4);
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void combineIsTheLinearCombination(Kernels kernels) {
        SplittableRandom random = new SplittableRandom(12);
        int offset = 3;
        for (int count : COUNTS) {
            for (int len : LENS) {
                float[][] rows = randomRows(random, count, len);
                double[] coeffs = random.doubles(count, -2, 2).toArray();
                double[] out = new double[offset + len + 2];
                Arrays.fill(out, 7.25);  // overwritten inside [offset, offset + len), kept outside
                kernels.combine(coeffs, rows, count, len, out, offset);

                for (int k = 0; k < len; k++) {
                    double expected = 0;
                    double scale = 0;
                    for (int i = 0; i < count; i++) {
                        expected += coeffs[i] * rows[i][k];
                        scale += Math.abs(coeffs[i] * rows[i][k]);
                    }
                    // Both results are sums of count rounded products: each within count * u * scale.
                    assertThat(Math.abs(out[offset + k] - expected))
                            .as("%s out[%d], count %d, len %d", kernels.name(), k, count, len)
                            .isLessThanOrEqualTo(2.02 * (count + 1) * U * scale);
                }
                for (int k = 0; k < offset; k++) {
                    assertThat(out[k]).isEqualTo(7.25);
                }
                assertThat(out[offset + len]).isEqualTo(7.25);
                assertThat(out[offset + len + 1]).isEqualTo(7.25);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void combineOfNoRowsIsZeroAndExactForSmallIntegers(Kernels kernels) {
        double[] out = {9, 9, 9, 9};
        kernels.combine(new double[0], new float[0][], 0, 3, out, 1);
        assertThat(out).containsExactly(9, 0, 0, 0);

        float[][] rows = new float[3][37];
        for (int k = 0; k < 37; k++) {
            rows[0][k] = k;
            rows[1][k] = 1;
            rows[2][k] = -2 * k;
        }
        double[] sum = new double[37];
        kernels.combine(new double[] {3, 0.5, 1}, rows, 3, 37, sum, 0);
        for (int k = 0; k < 37; k++) {
            assertThat(sum[k]).isEqualTo(k + 0.5);
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void decodeReadsLittleEndianFromThePositionAndAdvancesIt(Kernels kernels) {
        SplittableRandom random = new SplittableRandom(13);
        for (boolean direct : new boolean[] {false, true}) {
            for (int len : LENS) {
                float[] values = new float[len];
                for (int k = 0; k < len; k++) {
                    values[k] = (float) random.nextGaussian();
                }
                if (len > 2) {
                    values[1] = Float.intBitsToFloat(0x7fc00123);  // a NaN payload must survive bit for bit
                    values[2] = Float.NEGATIVE_INFINITY;
                }
                int prefix = 7;  // odd: the floats are not 4-byte aligned in the buffer
                int size = prefix + 4 * len + 3;
                ByteBuffer src = direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size);
                // Little-endian by hand, independent of ByteBuffer's byte order handling.
                for (int k = 0; k < len; k++) {
                    int bits = Float.floatToRawIntBits(values[k]);
                    for (int b = 0; b < 4; b++) {
                        src.put(prefix + 4 * k + b, (byte) (bits >>> (8 * b)));
                    }
                }
                src.position(prefix);
                assertThat(src.order()).isEqualTo(ByteOrder.BIG_ENDIAN);

                float[] dst = new float[len + 4];
                Arrays.fill(dst, -1f);
                kernels.decode(src, dst, 2, len);

                assertThat(src.position()).isEqualTo(prefix + 4 * len);
                assertThat(src.limit()).isEqualTo(size);
                assertThat(src.order()).isEqualTo(ByteOrder.BIG_ENDIAN);
                for (int k = 0; k < len; k++) {
                    assertThat(Float.floatToRawIntBits(dst[2 + k]))
                            .as("%s direct=%s len %d value %d", kernels.name(), direct, len, k)
                            .isEqualTo(Float.floatToRawIntBits(values[k]));
                }
                assertThat(new float[] {dst[0], dst[1], dst[len + 2], dst[len + 3]}).containsOnly(-1f);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void firstNonFiniteFindsNanAndInfinitiesInBodiesAndTails(Kernels kernels) {
        SplittableRandom random = new SplittableRandom(14);
        int n = 203;
        float[] finite = new float[n];
        for (int k = 0; k < n; k++) {
            finite[k] = (float) random.nextGaussian();
        }
        // Finite extremes that a sloppy test might call non-finite.
        finite[10] = Float.MAX_VALUE;
        finite[11] = -Float.MAX_VALUE;
        finite[12] = Float.MIN_VALUE;
        finite[13] = -0f;
        assertThat(kernels.firstNonFinite(finite, 0, n)).isEqualTo(-1);
        assertThat(kernels.firstNonFinite(finite, 5, 5)).isEqualTo(-1);

        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.intBitsToFloat(0xffc00001)};
        int[] positions = {0, 1, 7, 8, 31, 32, 33, 63, 64, 100, 159, 160, 191, 192, 200, 202};
        int[][] ranges = {{0, n}, {0, 200}, {1, n}, {3, 170}, {33, 202}, {64, 96}};
        for (float special : specials) {
            for (int position : positions) {
                for (int[] range : ranges) {
                    float[] a = finite.clone();
                    a[position] = special;
                    int expected = -1;
                    for (int k = range[0]; k < range[1]; k++) {
                        if (Float.isNaN(a[k]) || Float.isInfinite(a[k])) {
                            expected = k;
                            break;
                        }
                    }
                    assertThat(kernels.firstNonFinite(a, range[0], range[1]))
                            .as("%s %s at %d in [%d, %d)", kernels.name(), special, position, range[0], range[1])
                            .isEqualTo(expected);
                    for (boolean direct : new boolean[] {false, true}) {
                        ByteBuffer encoded = encoded(a, range[0], range[1], direct);
                        assertThat(kernels.firstNonFinite(encoded, range[1] - range[0]))
                                .as("%s encoded (direct %s) %s at %d in [%d, %d)", kernels.name(), direct, special,
                                        position, range[0], range[1])
                                .isEqualTo(expected < 0 ? -1 : expected - range[0]);
                        assertThat(encoded.position()).isEqualTo(3);
                    }
                }
            }
        }

        float[] two = finite.clone();
        two[150] = Float.POSITIVE_INFINITY;
        two[40] = Float.NaN;
        assertThat(kernels.firstNonFinite(two, 0, n)).isEqualTo(40);
        assertThat(kernels.firstNonFinite(two, 41, n)).isEqualTo(150);
    }

    /**
     * a[from, to) as little-endian float32 at position 3 of a heap or direct buffer (not 4-aligned), between
     * bytes that are not float data: three of 0xff before, a NaN after (a scan past count would report it).
     */
    private static ByteBuffer encoded(float[] a, int from, int to, boolean direct) {
        int bytes = 3 + 4 * (to - from) + 4;
        ByteBuffer b = (direct ? ByteBuffer.allocateDirect(bytes) : ByteBuffer.allocate(bytes)).order(ByteOrder.BIG_ENDIAN);
        b.put((byte) -1).put((byte) -1).put((byte) -1);
        for (int k = from; k < to; k++) {
            b.putInt(Integer.reverseBytes(Float.floatToRawIntBits(a[k])));
        }
        b.putFloat(Float.NaN);
        return b.position(3);
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void resultsStayCorrectAfterTheJitCompilesTheLoops(Kernels kernels) {
        // The other cases mostly run interpreted; the intrinsified Vector API code only exists once C2 has
        // compiled the loops. Thousands of calls on small blocks get there; every result is checked.
        SplittableRandom random = new SplittableRandom(15);
        int count = 9, len = 301;  // 4 x 4 blocks, a leftover row and coordinate tails
        float[][] rows = randomRows(random, count, len);
        double[] coeffs = random.doubles(count, -1, 1).toArray();
        double[][] exact = new double[count * count][];
        for (int i = 0; i < count; i++) {
            for (int j = 0; j < count; j++) {
                exact[i * count + j] = exactDot(rows[i], rows[j], len);
            }
        }
        float[] scan = new float[len];
        for (int k = 0; k < len; k++) {
            scan[k] = rows[0][k];
        }
        double[] out = new double[count * count];
        double[] combined = new double[len];
        for (int call = 0; call < 6000; call++) {
            Arrays.fill(out, 0);
            kernels.gramFold(rows, count, len, out);
            int worst = -1;
            for (int ij = 0; ij < out.length; ij++) {
                if (Math.abs(out[ij] - exact[ij][0]) > 1e-14 * exact[ij][1]) {
                    worst = ij;
                }
            }
            assertThat(worst).as("%s call %d: entry off", kernels.name(), call).isEqualTo(-1);

            kernels.combine(coeffs, rows, count, len, combined, 0);
            int k = call % len;
            double expected = 0, scale = 0;
            for (int i = 0; i < count; i++) {
                expected += coeffs[i] * rows[i][k];
                scale += Math.abs(coeffs[i] * rows[i][k]);
            }
            assertThat(Math.abs(combined[k] - expected)).isLessThanOrEqualTo(2.02 * (count + 1) * U * scale);

            int position = call % len;
            scan[position] = Float.NaN;
            assertThat(kernels.firstNonFinite(scan, 0, len)).isEqualTo(position);
            ByteBuffer encoded = encoded(scan, 0, len, call % 2 == 0);
            assertThat(kernels.firstNonFinite(encoded, len)).isEqualTo(position);
            scan[position] = rows[0][position];
        }
    }

    private static float[][] randomRows(SplittableRandom random, int count, int len) {
        float[][] rows = new float[count][len + PADDING];
        for (float[] row : rows) {
            // Magnitudes over several binades, both signs.
            for (int k = 0; k < len; k++) {
                row[k] = (float) (random.nextGaussian() * Math.scalb(1.0, random.nextInt(-3, 4)));
            }
            Arrays.fill(row, len, len + PADDING, Float.NaN);
        }
        return rows;
    }

    /**
     * {sum_k a_k b_k to within ~u of its value, sum_k |a_k b_k|}. Products of floats are exact in double;
     * the sum is Neumaier-compensated, far more accurate than the kernels' bound.
     */
    static double[] exactDot(float[] a, float[] b, int len) {
        double sum = 0, compensation = 0, abs = 0;
        for (int k = 0; k < len; k++) {
            double x = (double) a[k] * b[k];
            double t = sum + x;
            compensation += Math.abs(sum) >= Math.abs(x) ? (sum - t) + x : (x - t) + sum;
            sum = t;
            abs += Math.abs(x);
        }
        return new double[] {sum + compensation, abs};
    }
}
