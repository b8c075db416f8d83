package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** demo --split: a partition of the images, seeded, with the label skew each split promises. */
class ShardsTest {

    static final int CLASSES = 10;

    /** n labels drawn uniformly from 0..9 (unequal label counts, like real data). */
    static int[] labels(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        return IntStream.range(0, n).map(i -> random.nextInt(CLASSES)).toArray();
    }

    static int distinctLabels(int[] shard, int[] labels) {
        return (int) Arrays.stream(shard).map(i -> labels[i]).distinct().count();
    }

    @ParameterizedTest
    @ValueSource(strings = {"iid", "labels:k=2", "labels:k=1", "labels:k=10", "dirichlet:alpha=0.5",
        "dirichlet:alpha=0.01", "dirichlet:alpha=100"})
    void everyImageGoesToExactlyOneWorkerAndNoWorkerIsEmpty(String spec) {
        int[] labels = labels(3001, 1);
        int[][] shards = Shards.split(spec, labels, CLASSES, 15, 7);
        assertThat(shards.length).isEqualTo(15);
        int[] uses = new int[labels.length];
        for (int[] shard : shards) {
            assertThat(shard).as(spec).isNotEmpty().isSorted();
            for (int i : shard) {
                uses[i]++;
            }
        }
        assertThat(uses).as(spec).containsOnly(1);
        assertThat(Shards.split(spec, labels, CLASSES, 15, 7)).as("seeded").isDeepEqualTo(shards);
    }

    @Test
    void iidIsContiguousRangesAsTheDemoAlwaysHad() {
        int[][] shards = Shards.split("iid", labels(12000, 2), CLASSES, 15, 3);
        for (int w = 0; w < 15; w++) {
            assertThat(shards[w]).hasSize(800);
            assertThat(shards[w][0]).isEqualTo(w * 800);
            assertThat(shards[w][799]).isEqualTo(w * 800 + 799);
        }
        int[][] uneven = Shards.split("iid", labels(103, 2), CLASSES, 4, 3);
        assertThat(Arrays.stream(uneven).mapToInt(s -> s.length)).containsExactly(25, 26, 26, 26);
    }

    @Test
    void labelsGivesEachWorkerExactlyKLabelsAndEachLabelToPkOverCWorkers() {
        int[] labels = labels(6000, 3);
        int[][] shards = Shards.split("labels:k=2", labels, CLASSES, 15, 4);
        int[] holders = new int[CLASSES];
        for (int[] shard : shards) {
            assertThat(distinctLabels(shard, labels)).isEqualTo(2);
            Arrays.stream(shard).map(i -> labels[i]).distinct().forEach(c -> holders[c]++);
        }
        assertThat(holders).containsOnly(3);
        // A label's images are cut into equal parts among its holders: sizes differ by at most one per label.
        for (int c = 0; c < CLASSES; c++) {
            int label = c;
            int[] sizes = Arrays.stream(shards).mapToInt(s -> (int) Arrays.stream(s).filter(i -> labels[i] == label).count())
                    .filter(n -> n > 0).toArray();
            assertThat(Arrays.stream(sizes).max().getAsInt() - Arrays.stream(sizes).min().getAsInt()).isLessThanOrEqualTo(1);
        }
        assertThat(Shards.split("labels:k=2", labels, CLASSES, 15, 5)).as("another seed, other labels")
                .isNotEqualTo(shards);
        long labelSets = Arrays.stream(shards).map(s -> Arrays.stream(s).map(i -> labels[i]).distinct().sorted()
                .boxed().toList()).distinct().count();
        assertThat(labelSets).as("random pairs, not 5 groups of 3 workers with the same labels").isGreaterThan(8);
    }

    @Test
    void dealingFixesRepeatsWhenKDoesNotDivideTheLabels() {
        for (long seed = 0; seed < 50; seed++) {
            int[] slots = Shards.dealLabels(CLASSES, 7, 3, new SplittableRandom(seed));
            int[] held = new int[CLASSES];
            for (int w = 0; w < 7; w++) {
                int[] mine = Arrays.copyOfRange(slots, 3 * w, 3 * w + 3);
                assertThat(Arrays.stream(mine).distinct().count()).as("seed %d worker %d", seed, w).isEqualTo(3);
                Arrays.stream(mine).forEach(c -> held[c]++);
            }
            // 21 slots over 10 labels: two full deals and one label more.
            assertThat(held).as("seed %d", seed).containsOnly(2, 3);
            assertThat(Arrays.stream(held).sum()).isEqualTo(21);
        }
    }

    @Test
    void dirichletSkewFollowsAlpha() {
        int[] labels = labels(6000, 6);
        double skewed = Arrays.stream(Shards.split("dirichlet:alpha=0.1", labels, CLASSES, 15, 8))
                .mapToInt(s -> distinctLabels(s, labels)).average().orElseThrow();
        double even = Arrays.stream(Shards.split("dirichlet:alpha=100", labels, CLASSES, 15, 8))
                .mapToInt(s -> distinctLabels(s, labels)).average().orElseThrow();
        assertThat(skewed).isLessThan(5);
        assertThat(even).isEqualTo(10);
    }

    @Test
    void gammaHasItsMeanAndVariance() {
        SplittableRandom random = new SplittableRandom(9);
        for (double shape : new double[] {0.5, 3}) {
            double sum = 0;
            double sumSq = 0;
            int n = 200_000;
            for (int i = 0; i < n; i++) {
                double x = Shards.gamma(shape, random);
                sum += x;
                sumSq += x * x;
            }
            double mean = sum / n;
            assertThat(mean).as("mean of Gamma(%s)", shape).isCloseTo(shape, org.assertj.core.data.Offset.offset(0.02 * shape + 0.01));
            assertThat(sumSq / n - mean * mean).as("variance").isCloseTo(shape, org.assertj.core.data.Offset.offset(0.05 * shape + 0.01));
        }
    }

    @Test
    void badSpecsAreRejectedWithAClearMessage() {
        int[] labels = labels(100, 1);
        assertThatThrownBy(() -> Shards.split("labels:k=0", labels, CLASSES, 15, 1)).hasMessageContaining("k must be an integer in");
        assertThatThrownBy(() -> Shards.split("labels:k=1.5", labels, CLASSES, 15, 1)).hasMessageContaining("k must be an integer");
        assertThatThrownBy(() -> Shards.split("labels:k=11", labels, CLASSES, 15, 1)).hasMessageContaining("in [1.0, 10.0]");
        assertThatThrownBy(() -> Shards.split("labels:k=2", labels, CLASSES, 4, 1)).hasMessageContaining("needs p * k >= 10");
        assertThatThrownBy(() -> Shards.split("labels", labels, CLASSES, 4, 1)).hasMessageContaining("expected k=...");
        assertThatThrownBy(() -> Shards.split("dirichlet:alpha=0", labels, CLASSES, 4, 1)).hasMessageContaining("alpha must be");
        assertThatThrownBy(() -> Shards.split("dirichlet:beta=1", labels, CLASSES, 4, 1)).hasMessageContaining("expected alpha=...");
        assertThatThrownBy(() -> Shards.split("iid:k=1", labels, CLASSES, 4, 1)).hasMessageContaining("expected no parameter");
        assertThatThrownBy(() -> Shards.split("shards", labels, CLASSES, 4, 1)).hasMessageContaining("unknown split 'shards'");
        assertThatThrownBy(() -> Shards.split("iid", labels, CLASSES, 101, 1)).hasMessageContaining("one image per worker");
    }
}
