package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The sorting network against Arrays.sort, bit for bit, on awkward values; and its pruning. */
class SortingNetworkTest {

    /** Values that stress a sort: both zeros, ties, extremes, subnormals. */
    private static final float[] AWKWARD = {0f, -0f, 1f, -1f, 2f, 2f, Float.MIN_VALUE, -Float.MIN_VALUE,
        Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, 1e-30f, -1e-30f, 1e30f, 3.5f, -3.5f};

    /** p rows of width columns mixing AWKWARD picks, small integers (many ties) and Gaussians. */
    static float[][] awkwardBlock(int p, int width, Random random) {
        float[][] block = new float[p][width];
        for (int k = 0; k < width; k++) {
            int kind = k % 4; // whole columns of each kind: all-equal columns, all-tie columns, ...
            float constant = AWKWARD[random.nextInt(AWKWARD.length)];
            for (int r = 0; r < p; r++) {
                block[r][k] = switch (kind) {
                    case 0 -> AWKWARD[random.nextInt(AWKWARD.length)];
                    case 1 -> random.nextInt(3) - 1 + (random.nextBoolean() ? 0f : -0f);
                    case 2 -> random.nextBoolean() ? constant : (float) random.nextGaussian();
                    default -> (float) (random.nextGaussian() * Math.pow(10, random.nextInt(60) - 30));
                };
            }
        }
        return block;
    }

    static long[] sortedBits(float[][] block, int k) {
        double[] column = new double[block.length];
        for (int r = 0; r < block.length; r++) {
            column[r] = block[r][k];
        }
        Arrays.sort(column);
        return Arrays.stream(column).mapToLong(Double::doubleToRawLongBits).toArray();
    }

    static float[][] copy(float[][] block) {
        return Arrays.stream(block).map(float[]::clone).toArray(float[][]::new);
    }

    /** Checks sorted positions [from, to) of every column against Arrays.sort, bit for bit. */
    static void assertPlaces(SortingNetwork network, float[][] block, int from, int to, String what) {
        float[][] sorted = copy(block);
        int width = block[0].length;
        network.sort(sorted, width);
        for (int k = 0; k < width; k++) {
            long[] expected = sortedBits(block, k);
            for (int r = from; r < to; r++) {
                assertThat(Double.doubleToRawLongBits(sorted[r][k]))
                        .as("%s, column %d, position %d: %s", what, k, r, sortedBits(sorted, k))
                        .isEqualTo(expected[r]);
            }
        }
    }

    @Test
    void sortsEveryZeroOneInputUpTo16Values() {
        // The 0-1 principle: a comparator network sorts every input iff it sorts every input of 0s and 1s.
        for (int p = 1; p <= 16; p++) {
            int width = 1 << p;
            float[][] block = new float[p][width];
            for (int k = 0; k < width; k++) {
                for (int r = 0; r < p; r++) {
                    block[r][k] = (k >>> r) & 1;
                }
            }
            SortingNetwork network = SortingNetwork.placing(p, 0, p);
            network.sort(block, width);
            for (int k = 0; k < width; k++) {
                int ones = Integer.bitCount(k);
                for (int r = 0; r < p; r++) {
                    if (block[r][k] != (r >= p - ones ? 1f : 0f)) {
                        throw new AssertionError("p = " + p + ": input " + Integer.toBinaryString(k) + " unsorted");
                    }
                }
            }
        }
    }

    @Test
    void sortsAwkwardValuesLikeArraysSortForEveryPUpTo64() {
        Random random = new Random(2020);
        for (int p = 1; p <= 64; p++) {
            float[][] block = awkwardBlock(p, 203, random);
            assertPlaces(SortingNetwork.placing(p, 0, p), block, 0, p, "full, p = " + p);
        }
    }

    @Test
    void sortsAThousandValues() {
        float[][] block = awkwardBlock(1000, 9, new Random(2022));
        assertPlaces(SortingNetwork.placing(1000, 0, 1000), block, 0, 1000, "full, p = 1000");
        assertPlaces(SortingNetwork.placing(1000, 499, 501), block, 499, 501, "median, p = 1000");
    }

    @Test
    void prunedNetworksPlaceTheirPositionsLikeArraysSort() {
        Random random = new Random(2021);
        for (int p = 1; p <= 64; p++) {
            float[][] block = awkwardBlock(p, 101, random);
            // The median's middle position(s), and the kept ranges of several trims.
            int from = (p - 1) / 2;
            int to = p / 2 + 1;
            assertPlaces(SortingNetwork.placing(p, from, to), block, from, to, "median, p = " + p);
            for (int f : new int[] {1, 3, p / 4, (p - 1) / 2}) {
                if (f >= 1 && 2 * f < p) {
                    assertPlaces(SortingNetwork.placing(p, f, p - f), block, f, p - f, "trim " + f + ", p = " + p);
                }
            }
            int one = random.nextInt(p);
            assertPlaces(SortingNetwork.placing(p, one, one + 1), block, one, one + 1, "position " + one + ", p = " + p);
        }
    }

    @Test
    void sortsOnlyTheGivenWidth() {
        float[][] block = {{3, 2, 9}, {1, 4, 0}};
        SortingNetwork.placing(2, 0, 2).sort(block, 2);
        assertThat(block[0]).containsExactly(1, 2, 9);
        assertThat(block[1]).containsExactly(3, 4, 0);
    }

    @Test
    void hasBatchersSizeAndPrunesWhatTheMedianDoesNotRead() {
        // Batcher's odd-even merge sort: 19, 63, 191 compare-exchanges for 8, 16, 32 values.
        assertThat(SortingNetwork.placing(8, 0, 8).size()).isEqualTo(19);
        assertThat(SortingNetwork.placing(16, 0, 16).size()).isEqualTo(63);
        assertThat(SortingNetwork.placing(32, 0, 32).size()).isEqualTo(191);
        assertThat(SortingNetwork.placing(1, 0, 1).size()).isZero();
        assertThat(SortingNetwork.placing(16, 7, 9).size()).isLessThan(63);
        assertThat(SortingNetwork.placing(15, 7, 8).size()).isLessThan(SortingNetwork.placing(15, 0, 15).size());
    }

    @Test
    void rejectsAnEmptyOrOutOfRangeSelection() {
        assertThatThrownBy(() -> SortingNetwork.placing(0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SortingNetwork.placing(4, 2, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SortingNetwork.placing(4, 0, 5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SortingNetwork.placing(4, -1, 2)).isInstanceOf(IllegalArgumentException.class);
    }
}
