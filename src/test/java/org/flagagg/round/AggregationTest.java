package org.flagagg.round;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.flagagg.kernels.Kernels;
import org.flagagg.rules.RuleConfig;
import org.flagagg.rules.Rules;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The offline aggregation on one thread and on several: the same bits, the sink's order, failures. */
class AggregationTest {
    static final int P = 7;

    static float[][] gradients(int p, int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            for (int k = 0; k < n; k++) {
                g[i][k] = (float) (i < p - 2 ? 1 + random.nextGaussian() : -4 + random.nextGaussian());
            }
        }
        return g;
    }

    static RuleConfig rule(String name) {
        return RuleConfig.of(name).withF(1).withM(name.equals("multikrum") ? 3 : 0);
    }

    /** What the sink saw: every call made on the caller's thread, contiguous from 0, never across a chunk. */
    static final class Recording implements AggregateSink {
        final Thread caller = Thread.currentThread();
        final int chunk;
        final double[] values;
        long next;

        Recording(long n, int chunk) {
            this.chunk = chunk;
            this.values = new double[(int) n];
        }

        @Override
        public void accept(long offset, double[] block, int len) {
            assertThat(Thread.currentThread()).isSameAs(caller);
            assertThat(offset).isEqualTo(next);
            assertThat(len).isPositive();
            assertThat(offset / chunk).as("block [%d, %d) within one chunk", offset, offset + len)
                    .isEqualTo((offset + len - 1) / chunk);
            System.arraycopy(block, 0, values, (int) offset, len);
            next += len;
        }
    }

    static double[] aggregate(String rule, float[][] g, int chunk, int threads) throws IOException {
        Recording sink = new Recording(g[0].length, chunk);
        new Aggregation(Rules.create(rule(rule)), chunk, Kernels.best(), threads).run(new ArraySource(g), sink);
        assertThat(sink.next).isEqualTo(g[0].length);
        return sink.values;
    }

    /**
     * n spans several strips of pass 2 and ends mid-strip; chunks are odd-sized (strips stop at their ends) or
     * larger than n.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mean", "krum", "multikrum", "flag", "median", "trmean", "geomed"})
    void threadsGiveTheSameBitsAsOneThread(String rule) throws IOException {
        int n = 2 * 3 * Aggregation.STRIP_PER_THREAD + 1001;
        float[][] g = gradients(P, n, 11);
        for (int chunk : new int[] {50_001, 1 << 20}) {
            double[] one = aggregate(rule, g, chunk, 1);
            for (int threads : new int[] {2, 3}) {
                assertSameBits(aggregate(rule, g, chunk, threads), one, rule + ", chunk " + chunk + ", " + threads + " threads");
            }
        }
    }

    /** Bit for bit, reporting the first difference only (the arrays are long). */
    static void assertSameBits(double[] actual, double[] expected, String what) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int k = 0; k < expected.length; k++) {
            if (Double.doubleToRawLongBits(actual[k]) != Double.doubleToRawLongBits(expected[k])) {
                assertThat(actual[k]).as("%s, coordinate %d", what, k).isEqualTo(expected[k]);
            }
        }
    }

    /** The mean against the plain per-coordinate average, on threads. */
    @Test
    void meanOnThreadsIsTheAverage() throws IOException {
        int n = 3 * Aggregation.STRIP_PER_THREAD + 17;
        float[][] g = gradients(P, n, 12);
        double[] mean = aggregate("mean", g, 4099, 2);
        for (int k = 0; k < n; k++) {
            double sum = 0;
            for (float[] row : g) {
                sum += row[k];
            }
            assertThat(mean[k]).as("coordinate %d", k).isCloseTo(sum / P, org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    /**
     * Two workers with non-finite values in several chunks, met by different threads: each is dropped with its
     * first bad coordinate, and the others aggregate as if the two were never there.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void nonFiniteWorkersAreDroppedWithTheirFirstBadCoordinate(int threads) throws IOException {
        int n = 4 * Aggregation.STRIP_PER_THREAD;
        int chunk = 10_007;
        float[][] g = gradients(P, n, 13);
        g[1][n - 5] = Float.NaN;
        g[1][3 * chunk + 2] = Float.POSITIVE_INFINITY;
        g[4][2 * chunk] = Float.NEGATIVE_INFINITY;
        g[4][n / 2] = Float.NaN;
        float[][] rest = {g[0], g[2], g[3], g[5], g[6]};
        for (String rule : new String[] {"mean", "krum", "flag"}) {
            Recording sink = new Recording(n, chunk);
            AggregationResult result = new Aggregation(Rules.create(rule(rule)), chunk, Kernels.best(), threads)
                    .run(new ArraySource(g), sink);
            assertThat(result.kept()).containsExactly(0, 2, 3, 5, 6);
            assertThat(result.dropped()).containsOnlyKeys(1, 4);
            assertThat(result.dropped().get(1)).isEqualTo("non-finite value Infinity at coordinate " + (3 * chunk + 2));
            assertThat(result.dropped().get(4)).isEqualTo("non-finite value -Infinity at coordinate " + (2 * chunk));
            double[] expected = aggregate(rule, rest, chunk, 1);
            for (int k = 0; k < n; k++) {
                assertThat(sink.values[k]).as("%s coordinate %d", rule, k)
                        .isCloseTo(expected[k], org.assertj.core.data.Offset.offset(1e-9 * (1 + Math.abs(expected[k]))));
            }
        }
    }

    /** A source that fails on a pool thread, in pass 1 or in pass 2, fails the run with its own exception. */
    @ParameterizedTest
    @ValueSource(strings = {"flag", "mean"})
    void aFailingReadFailsTheRunWithItsException(String rule) {
        int n = 3 * Aggregation.STRIP_PER_THREAD;
        float[][] g = gradients(P, n, 14);
        ArraySource data = new ArraySource(g);
        for (int failingRead : new int[] {1, 2}) {
            long failAt = n / 2;
            AtomicInteger reads = new AtomicInteger();
            GradientSource failing = new GradientSource() {
                @Override
                public int workers() {
                    return P;
                }

                @Override
                public long dimension() {
                    return n;
                }

                @Override
                public void read(int worker, long offset, int len, float[] dst) throws IOException {
                    if (worker == 3 && offset <= failAt && failAt < offset + len
                            && reads.incrementAndGet() == failingRead) {
                        throw new IOException("disk gone at read " + failingRead);
                    }
                    data.read(worker, offset, len, dst);
                }
            };
            assertThatThrownBy(() -> new Aggregation(Rules.create(rule(rule)), 5003, Kernels.best(), 2)
                    .run(failing, (offset, values, len) -> { }))
                    .isInstanceOf(IOException.class).hasMessage("disk gone at read " + failingRead);
        }
    }

    @Test
    void aFailingSinkFailsTheRunAndThreadsMustBePositive() {
        float[][] g = gradients(P, 3 * Aggregation.STRIP_PER_THREAD, 15);
        assertThatThrownBy(() -> new Aggregation(Rules.create(rule("krum")), 1 << 16, Kernels.best(), 2)
                .run(new ArraySource(g), (offset, values, len) -> {
                    if (offset > 0) {
                        throw new IOException("disk full");
                    }
                }))
                .isInstanceOf(IOException.class).hasMessage("disk full");
        assertThatThrownBy(() -> new Aggregation(Rules.create(rule("mean")), 100, Kernels.best(), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("threads must be >= 1");
    }
}
