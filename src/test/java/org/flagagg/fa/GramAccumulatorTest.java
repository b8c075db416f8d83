package org.flagagg.fa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class GramAccumulatorTest {
    private static final double U = 0x1p-53;
    private static final int TILE = 2048;
    private static final int P = 6;
    private static final int N = 20_000;

    static Stream<Kernels> kernels() {
        return Stream.of(Kernels.scalar(), Kernels.best());
    }

    /** The documented bound: gamma_h * S with h = T/2 + 1 + ceil(m / T) + c. */
    private static double gamma(int longestChunk, int chunks) {
        double h = TILE / 2 + 1 + (longestChunk + TILE - 1) / TILE + chunks;
        return h * U / (1 - h * U);
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void theSameChunksInAnyOrderGiveTheSameBits(Kernels kernels) {
        // Magnitudes spread over six decades so that plain double addition of the partials is order-dependent.
        SplittableRandom random = new SplittableRandom(31);
        float[][] g = new float[P][N];
        for (int i = 0; i < P; i++) {
            for (int k = 0; k < N; k++) {
                g[i][k] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
            }
        }
        int[] bounds = fixed(997);
        List<int[]> ranges = new ArrayList<>();
        for (int c = 0; c + 1 < bounds.length; c++) {
            ranges.add(new int[] {bounds[c], bounds[c + 1]});
        }
        double[] first = null;
        boolean plainSumsDiffer = false;
        double[] firstPlain = null;
        Random shuffle = new Random(32);
        for (int trial = 0; trial < 20; trial++) {
            Collections.shuffle(ranges, shuffle);
            GramAccumulator accumulator = new GramAccumulator(P, kernels);
            double[] plain = new double[P * P];
            for (int[] range : ranges) {
                float[][] rows = slice(g, range[0], range[1]);
                accumulator.fold(rows, range[1] - range[0]);
                double[] partial = new double[P * P];
                kernels.gramFold(rows, P, range[1] - range[0], partial);
                for (int at = 0; at < plain.length; at++) {
                    plain[at] += partial[at];
                }
            }
            double[] got = accumulator.gram();
            if (first == null) {
                first = got;
                firstPlain = plain;
            }
            for (int at = 0; at < got.length; at++) {
                assertThat(Double.doubleToRawLongBits(got[at])).as("entry " + at + ", trial " + trial)
                        .isEqualTo(Double.doubleToRawLongBits(first[at]));
                plainSumsDiffer |= plain[at] != firstPlain[at];
            }
        }
        // The test data is hard enough: adding the same partials in plain double depends on their order.
        assertThat(plainSumsDiffer).isTrue();
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void chunkSizeAndOrderStayWithinTheDocumentedBound(Kernels kernels) {
        float[][] g = gradients(new SplittableRandom(21), P, N);
        double[][] exact = new double[P * P][];
        for (int i = 0; i < P; i++) {
            for (int j = 0; j < P; j++) {
                exact[i * P + j] = exactDot(g[i], g[j], 0, N);
            }
        }

        GramAccumulator whole = new GramAccumulator(P, kernels);
        whole.fold(g, N);
        double wholeBound = gamma(N, 1);

        Random shuffle = new Random(22);
        List<int[]> chunkings = List.of(fixed(4099), fixed(7), fixed(TILE), randomSizes(new SplittableRandom(23)));
        for (int[] bounds : chunkings) {
            List<int[]> ranges = new ArrayList<>();
            int longest = 0;
            for (int c = 0; c + 1 < bounds.length; c++) {
                ranges.add(new int[] {bounds[c], bounds[c + 1]});
                longest = Math.max(longest, bounds[c + 1] - bounds[c]);
            }
            Collections.shuffle(ranges, shuffle);
            GramAccumulator chunked = new GramAccumulator(P, kernels);
            for (int[] range : ranges) {
                chunked.fold(slice(g, range[0], range[1]), range[1] - range[0]);
            }
            double bound = gamma(longest, ranges.size());

            assertThat(chunked.coordinates()).isEqualTo(N);
            double[] got = chunked.gram();
            double[] reference = whole.gram();
            for (int ij = 0; ij < P * P; ij++) {
                double sum = exact[ij][0], scale = exact[ij][1];
                String what = kernels.name() + " entry " + ij + ", " + ranges.size() + " chunks";
                assertThat(Math.abs(got[ij] - sum)).as(what).isLessThanOrEqualTo(bound * scale);
                assertThat(Math.abs(reference[ij] - sum)).as(what).isLessThanOrEqualTo(wholeBound * scale);
                assertThat(Math.abs(got[ij] - reference[ij])).as(what)
                        .isLessThanOrEqualTo((bound + wholeBound) * scale);
                assertThat(got[ij]).as("symmetric").isEqualTo(got[(ij % P) * P + ij / P]);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void absentWorkersSkipTheirPairs(Kernels kernels) {
        int p = 4;
        float[][] g = gradients(new SplittableRandom(31), p, 1500);
        int[][] ranges = {{0, 300}, {300, 1000}, {1000, 1500}};
        boolean[][] present = {
                {true, true, true, true},
                {true, true, false, true},   // worker 2 missing in the second chunk
                {false, true, true, true},   // worker 0 missing in the third
        };
        GramAccumulator acc = new GramAccumulator(p, kernels);
        double[] expected = new double[p * p];
        for (int c = 0; c < ranges.length; c++) {
            float[][] rows = slice(g, ranges[c][0], ranges[c][1]);
            for (int i = 0; i < p; i++) {
                if (!present[c][i]) {
                    rows[i] = null;
                }
            }
            acc.fold(rows, ranges[c][1] - ranges[c][0]);
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < p; j++) {
                    if (present[c][i] && present[c][j]) {
                        expected[i * p + j] += exactDot(g[i], g[j], ranges[c][0], ranges[c][1])[0];
                    }
                }
            }
        }
        double[] got = acc.gram();
        for (int ij = 0; ij < p * p; ij++) {
            assertThat(got[ij]).as("entry %d", ij).isCloseTo(expected[ij], offset(
                    1e-12 * (1 + Math.abs(expected[ij]))));
        }
        // Worker 2 missed [300, 1000): its pair with worker 1 lacks that range, unlike the pair (1, 3).
        double pair12 = exactDot(g[1], g[2], 0, 300)[0] + exactDot(g[1], g[2], 1000, 1500)[0];
        assertThat(got[1 * p + 2]).isCloseTo(pair12, offset(1e-12 * (1 + Math.abs(pair12))));
        assertThat(acc.coordinates()).isEqualTo(1500);

        GramAccumulator empty = new GramAccumulator(2, kernels);
        empty.fold(new float[2][], 10);
        assertThat(empty.gram()).containsOnly(0.0);
    }

    @Test
    void concurrentFoldsGiveTheSameMatrixWithinTheBound() throws Exception {
        float[][] g = gradients(new SplittableRandom(41), P, N);
        GramAccumulator sequential = new GramAccumulator(P);
        GramAccumulator concurrent = new GramAccumulator(P);
        int chunk = 1000;
        List<Future<?>> done = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int from = 0; from < N; from += chunk) {
                float[][] rows = slice(g, from, from + chunk);
                sequential.fold(rows, chunk);
                done.add(pool.submit(() -> concurrent.fold(rows, chunk)));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        double bound = 2 * gamma(chunk, N / chunk);
        double[] a = sequential.gram(), b = concurrent.gram();
        for (int i = 0; i < P; i++) {
            for (int j = 0; j < P; j++) {
                double scale = exactDot(g[i], g[j], 0, N)[1];
                assertThat(Math.abs(a[i * P + j] - b[i * P + j])).isLessThanOrEqualTo(bound * scale);
            }
        }
        assertThat(concurrent.coordinates()).isEqualTo(N);
    }

    @ParameterizedTest
    @MethodSource("kernels")
    void foldingAChunkInBlocksGivesTheSameBitsAsFoldingItWhole(Kernels kernels) {
        int p = 6, len = 3 * Kernels.TILE + 517;
        float[][] chunk = gradients(new SplittableRandom(43), p, len);
        chunk[2] = null; // an absent worker
        GramAccumulator whole = new GramAccumulator(p, kernels);
        whole.fold(chunk, len);
        for (int block : new int[] {Kernels.TILE, 2 * Kernels.TILE, 4 * Kernels.TILE}) {
            float[][] buffers = new float[p][];
            for (int i = 0; i < p; i++) {
                buffers[i] = chunk[i] == null ? null : new float[block];
            }
            List<Integer> starts = new ArrayList<>();
            GramAccumulator blocked = new GramAccumulator(p, kernels);
            blocked.fold(buffers, len, block, (from, count) -> {
                starts.add(from);
                for (int i = 0; i < p; i++) {
                    if (chunk[i] != null) {
                        Arrays.fill(buffers[i], Float.NaN); // a stale value left in a block would show
                        System.arraycopy(chunk[i], from, buffers[i], 0, count);
                    }
                }
            });
            assertThat(starts).as("block %d", block).hasSize((len + block - 1) / block).startsWith(0);
            assertThat(Arrays.stream(blocked.gram()).mapToLong(Double::doubleToRawLongBits).toArray())
                    .as("block %d", block)
                    .isEqualTo(Arrays.stream(whole.gram()).mapToLong(Double::doubleToRawLongBits).toArray());
            assertThat(blocked.coordinates()).isEqualTo(len);
        }
        assertThatThrownBy(() -> whole.fold(new float[p][Kernels.TILE + 1], 2 * Kernels.TILE, Kernels.TILE + 1,
                (from, count) -> { })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of");
    }

    @Test
    void badShapesAreRejectedWithActionableMessages() {
        GramAccumulator acc = new GramAccumulator(3, Kernels.scalar());
        assertThatThrownBy(() -> acc.fold(new float[2][4], 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 rows").hasMessageContaining("p = 3");
        assertThatThrownBy(() -> acc.fold(new float[][] {new float[4], new float[3], new float[4]}, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("row 1").hasMessageContaining("chunk length 4");
        assertThatThrownBy(() -> acc.fold(new float[3][4], -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> new GramAccumulator(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
        assertThat(acc.coordinates()).isZero();
        assertThat(acc.gram()).containsOnly(0.0);
    }

    private static int[] fixed(int size) {
        int chunks = (N + size - 1) / size;
        int[] bounds = new int[chunks + 1];
        for (int c = 0; c <= chunks; c++) {
            bounds[c] = Math.min(N, c * size);
        }
        return bounds;
    }

    private static int[] randomSizes(SplittableRandom random) {
        List<Integer> bounds = new ArrayList<>(List.of(0));
        while (bounds.get(bounds.size() - 1) < N) {
            bounds.add(Math.min(N, bounds.get(bounds.size() - 1) + 1 + random.nextInt(5000)));
        }
        return bounds.stream().mapToInt(Integer::intValue).toArray();
    }

    private static float[][] slice(float[][] g, int from, int to) {
        float[][] rows = new float[g.length][];
        for (int i = 0; i < g.length; i++) {
            rows[i] = Arrays.copyOfRange(g[i], from, to);
        }
        return rows;
    }

    private static float[][] gradients(SplittableRandom random, int p, int n) {
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            double bias = random.nextGaussian();  // correlated rows, like real gradients
            for (int k = 0; k < n; k++) {
                g[i][k] = (float) ((bias + random.nextGaussian()) * Math.scalb(1.0, random.nextInt(-4, 4)));
            }
        }
        return g;
    }

    /** {sum_k a_k b_k over [from, to), Neumaier-compensated; sum_k |a_k b_k|}. Float products are exact. */
    private static double[] exactDot(float[] a, float[] b, int from, int to) {
        double sum = 0, compensation = 0, abs = 0;
        for (int k = from; k < to; k++) {
            double x = (double) a[k] * b[k];
            double t = sum + x;
            compensation += Math.abs(sum) >= Math.abs(x) ? (sum - t) + x : (x - t) + sum;
            sum = t;
            abs += Math.abs(x);
        }
        return new double[] {sum + compensation, abs};
    }
}
