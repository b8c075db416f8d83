package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;

/**
 * --pre nnm, bucket, clip: the streaming decorator (Gram M G M^T, coefficients M^T c, per-coordinate
 * mixing) against the mixing done directly on whole vectors here, followed by the textbook rule.
 */
class PreAggregationTest {

    static Rule rule(String name, int f, String pre) {
        return Rules.create(RuleConfig.of(name).withF(f).withPre(pre));
    }

    /** NNM on whole vectors: row i is the mean of the p - f vectors nearest to g_i (itself included). */
    static double[][] nearestNeighbourMix(double[][] g, int f) {
        int p = g.length;
        double[][] out = new double[p][];
        for (int i = 0; i < p; i++) {
            double[] gi = g[i];
            List<Integer> order = new ArrayList<>(IntStream.range(0, p).boxed().toList());
            order.sort(Comparator.<Integer>comparingDouble(j -> Textbook.squaredDistance(gi, g[j]))
                    .thenComparingInt(j -> j));
            out[i] = Textbook.average(g, order.subList(0, p - f));
        }
        return out;
    }

    /** ARC on whole vectors: the k largest norms scaled to the (k+1)-th largest, k = floor(2 f (p - f) / p). */
    static double[][] clipped(double[][] g, int f) {
        int p = g.length;
        int k = 2 * f * (p - f) / p;
        double[] norms = Arrays.stream(g).mapToDouble(Textbook::norm).toArray();
        double[] sorted = norms.clone();
        Arrays.sort(sorted);
        double threshold = sorted[p - 1 - k];
        double[][] out = new double[p][];
        for (int i = 0; i < p; i++) {
            double scale = Math.min(1, threshold / norms[i]);
            out[i] = Arrays.stream(g[i]).map(x -> x * scale).toArray();
        }
        return out;
    }

    /** Bucket b's mean, for bucketOf[j] = the bucket of input j. */
    static double[][] bucketMeans(double[][] g, int[] bucketOf) {
        int buckets = Arrays.stream(bucketOf).max().orElseThrow() + 1;
        double[][] out = new double[buckets][];
        for (int b = 0; b < buckets; b++) {
            int bucket = b;
            out[b] = Textbook.average(g, IntStream.range(0, g.length).filter(j -> bucketOf[j] == bucket).boxed().toList());
        }
        return out;
    }

    static int[] bucketOf(Solution s) {
        return s.details().nested("pre").ints("bucketOf");
    }

    @Test
    void nnmBeforeMultiKrumIsMultiKrumOnTheMixedVectors() {
        int f = 3;
        float[][] g = Inputs.colluders(Inputs.gaussian(13, 900, 3), f);
        StreamingRun.Result run = StreamingRun.run(rule("multikrum", f, "nnm"), g, Kernels.scalar(), 64, 1);
        double[][] mixed = nearestNeighbourMix(Inputs.toDouble(g), f);
        double[] expected = Textbook.average(mixed, Textbook.multiKrum(mixed, f, 13 - f));
        Approx.assertClose(run.aggregate(), expected, "nnm+multikrum");
        assertThat(run.solution().coefficients()).as("a linear rule stays linear: M^T c").isNotNull();
        assertThat(Arrays.stream(run.solution().coefficients()).sum()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void nnmBeforeTrimmedMeanMixesEachCoordinate() {
        int f = 3;
        float[][] g = Inputs.reversed(Inputs.gaussian(11, 700, 5), f);
        StreamingRun.Result run = StreamingRun.run(rule("trmean", f, "nnm"), g, Kernels.scalar(), 50, 2, true);
        double[] expected = Textbook.trimmedMean(nearestNeighbourMix(Inputs.toDouble(g), f), f);
        Approx.assertClose(run.aggregate(), expected, "nnm+trmean");
        assertThat(run.solution().coefficients()).isNull();
    }

    @Test
    void nnmBeforeFlagIsFlagOnTheMixedVectors() {
        int f = 2;
        float[][] g = Inputs.colluders(Inputs.gaussian(9, 600, 7), f);
        double[] actual = StreamingRun.run(rule("flag", f, "nnm"), g, Kernels.scalar(), 40, 3).aggregate();
        double[][] mixed = nearestNeighbourMix(Inputs.toDouble(g), f);
        float[][] mixedFloats = new float[mixed.length][mixed[0].length];
        for (int i = 0; i < mixed.length; i++) {
            for (int k = 0; k < mixed[i].length; k++) {
                mixedFloats[i][k] = (float) mixed[i][k];
            }
        }
        double[] direct = StreamingRun.run(rule("flag", f, ""), mixedFloats, Kernels.scalar(), 40, 3).aggregate();
        // The direct run sees the mixed vectors rounded to float32: agreement to float precision.
        Approx.assertClose(actual, direct, 1e-5, "nnm+flag");
    }

    @Test
    void bucketsPartitionTheInputsAndMedianRunsOnTheirMeans() {
        float[][] g = Inputs.gaussian(15, 500, 9);
        Rule bucketed = rule("median", 0, "bucket:s=2,seed=7");
        StreamingRun.Result first = StreamingRun.run(bucketed, g, Kernels.scalar(), 30, 4);
        int[] buckets = bucketOf(first.solution());
        assertThat(buckets).hasSize(15);
        int[] sizes = new int[8];
        Arrays.stream(buckets).forEach(b -> sizes[b]++);
        assertThat(sizes).as("7 buckets of 2 and one of 1").containsExactlyInAnyOrder(2, 2, 2, 2, 2, 2, 2, 1);
        Approx.assertClose(first.aggregate(), Textbook.median(bucketMeans(Inputs.toDouble(g), buckets)),
                "bucket+median");

        int[] second = bucketOf(StreamingRun.run(bucketed, g, Kernels.scalar(), 30, 4).solution());
        assertThat(second).as("a new permutation each round").isNotEqualTo(buckets);
        int[] replay = bucketOf(StreamingRun.run(rule("median", 0, "bucket:s=2,seed=7"), g, Kernels.scalar(), 30, 4)
                .solution());
        assertThat(replay).as("the same seed replays the same rounds").isEqualTo(buckets);
    }

    @Test
    void bucketBeforeMeanIsTheMeanOfBucketMeans() {
        float[][] g = Inputs.gaussian(7, 300, 10);
        StreamingRun.Result run = StreamingRun.run(rule("mean", 0, "bucket:s=3"), g, Kernels.scalar(), 30, 5);
        int[] buckets = bucketOf(run.solution());
        assertThat(Arrays.stream(buckets).distinct().count()).isEqualTo(3);
        Approx.assertClose(run.aggregate(), Textbook.mean(bucketMeans(Inputs.toDouble(g), buckets)), "bucket+mean");
    }

    @Test
    void clipScalesTheLargestNormsToTheNextLargest() {
        int f = 3;
        float[][] g = Inputs.huge(Inputs.gaussian(12, 400, 11), f);
        StreamingRun.Result run = StreamingRun.run(rule("mean", f, "clip"), g, Kernels.scalar(), 30, 6);
        Approx.assertClose(run.aggregate(), Textbook.mean(clipped(Inputs.toDouble(g), f)), "clip+mean");
        Details pre = run.solution().details().nested("pre");
        assertThat(pre.integer("k")).isEqualTo(2 * 3 * 9 / 12);
        assertThat(pre.ints("clipped")).as("the huge ones are clipped first").contains(0, 1, 2);
    }

    @Test
    void clipBeforeGeomedIsGeomedOfTheClippedVectors() {
        int f = 2;
        float[][] g = Inputs.huge(Inputs.gaussian(9, 300, 12), f);
        StreamingRun.Result run = StreamingRun.run(rule("geomed", f, "clip:k=4"), g, Kernels.scalar(), 30, 7);
        double[][] d = Inputs.toDouble(g);
        double[] norms = Arrays.stream(d).mapToDouble(Textbook::norm).sorted().toArray();
        double threshold = norms[norms.length - 1 - 4];
        double[][] clippedRows = Arrays.stream(d).map(row -> {
            double s = Math.min(1, threshold / Textbook.norm(row));
            return Arrays.stream(row).map(x -> x * s).toArray();
        }).toArray(double[][]::new);
        Approx.assertClose(run.aggregate(), Textbook.geometricMedian(clippedRows), 1e-6, "clip+geomed");
    }

    @Test
    void droppedBucketsReportTheirMembers() {
        int f = 1;
        float[][] g = Inputs.reversed(Inputs.gaussian(8, 300, 13), 2);
        Solution s = StreamingRun.run(rule("cfa", f, "bucket:s=2"), g, Kernels.scalar(), 30, 8).solution();
        assertThat(s.dropped()).hasSize(2);
        s.dropped().forEach((worker, reason) -> {
            assertThat(Arrays.binarySearch(s.selected(), worker)).as("a dropped worker contributes nothing").isNegative();
            assertThat(reason).startsWith("bucket mixed input ");
        });
    }

    @Test
    void namesPassesAndValidation() {
        assertThat(rule("flag", 1, "nnm").name()).isEqualTo("nnm+flag");
        assertThat(rule("median", 0, "bucket").passes()).containsExactly(Rule.Pass.SECOND_PASS);
        assertThat(rule("mean", 0, "clip").passes()).containsExactlyInAnyOrder(Rule.Pass.GRAM, Rule.Pass.SECOND_PASS);
        assertThatThrownBy(() -> rule("flag", 0, "mix")).hasMessageContaining("unknown pre-aggregation 'mix'");
        assertThatThrownBy(() -> rule("flag", 0, "bucket:t=2")).hasMessageContaining("has no parameter 't'");
        assertThatThrownBy(() -> rule("flag", 0, "bucket:s=0")).hasMessageContaining("s must be an integer >= 1");
        assertThatThrownBy(() -> rule("trmean", 3, "bucket:s=2").validate(12))
                .as("the rule is checked against the m = 6 buckets").hasMessageContaining("p = 6, f = 3");
        assertThatThrownBy(() -> rule("flag", 4, "nnm").validate(4)).hasMessageContaining("nnm needs p >= f + 1");
        assertThatThrownBy(() -> rule("mean", 0, "clip:k=5").validate(5)).hasMessageContaining("clip needs k < p");
    }

    @Test
    void jobConfigurationCarriesPre() {
        JobConfig job = JobConfig.fromJson(new JsonObject().put("rule", new JsonObject().put("pre", "nnm").put("f", 1)));
        assertThat(Rules.create(job.rule()).name()).isEqualTo("nnm+flag");
        assertThat(Rules.create(JobConfig.fromJson(new JsonObject()).rule()).name()).isEqualTo("flag");
    }
}
