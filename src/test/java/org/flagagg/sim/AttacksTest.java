package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Each attack against a textbook computation written here, and chunked application against whole vectors. */
class AttacksTest {

    static final int HONEST = 12;
    static final int FAULTY = 3; // p = 15, f = 3: the lie example of the docs
    static final int D = 1013;   // odd on purpose

    final float[][] honest = gaussianRows(HONEST, D, 11, 0.5, 2.0);
    final float[][] own = gaussianRows(FAULTY, D, 12, 0.5, 2.0);

    static float[][] gaussianRows(int rows, int d, long seed, double mean, double std) {
        Random r = new Random(seed);
        float[][] x = new float[rows][d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                row[j] = (float) (mean + std * r.nextGaussian());
            }
        }
        return x;
    }

    static Stream<String> specs() {
        return Stream.of("none", "random", "random:dist=gaussian,mean=1,std=2", "random:low=-3,high=5",
                "reverse", "reverse:k=3", "drop", "drop:fraction=0.5", "lie", "lie:z=1.5", "empire",
                "empire:eps=10", "signflip", "nan", "nan:mode=inf", "nan:mode=-inf,fraction=0.3", "zero",
                "duplicate", "duplicate:target=5", "mimic", "lienoise", "lienoise:z=1.5,std=0.5");
    }

    // ---------------------------------------------------------------- chunked == whole, bit for bit

    @ParameterizedTest
    @MethodSource("specs")
    void chunkedApplicationEqualsWholeVectorsBitForBit(String spec) {
        Attack attack = Attacks.create(spec, 99);
        float[][] whole = attack.applyWhole(honest, own);
        for (long splitSeed = 1; splitSeed <= 4; splitSeed++) {
            float[][] chunked = applyInShuffledChunks(attack, honest, own, new Random(splitSeed));
            for (int b = 0; b < FAULTY; b++) {
                assertThat(rawBits(chunked[b])).as("%s worker %d split %d", spec, b, splitSeed)
                        .isEqualTo(rawBits(whole[b]));
            }
        }
    }

    /**
     * Splits [0, D) into random chunk sizes (1..61, odd ones included), visits the chunks in a shuffled
     * order, and passes each through buffers longer than the chunk whose tail holds garbage, so an attack
     * that reads or writes past len, or ignores the offset, is caught.
     */
    static float[][] applyInShuffledChunks(Attack attack, float[][] honest, float[][] own, Random rnd) {
        int d = honest[0].length;
        List<int[]> chunks = new ArrayList<>();
        for (int start = 0; start < d; ) {
            int len = Math.min(d - start, 1 + rnd.nextInt(61));
            chunks.add(new int[] {start, len});
            start += len;
        }
        Collections.shuffle(chunks, rnd);
        float[][] result = new float[own.length][d];
        int pad = 7;
        for (int[] c : chunks) {
            int start = c[0];
            int len = c[1];
            float[][] h = slice(honest, start, len, pad);
            float[][] o = slice(own, start, len, pad);
            float[][] out = new float[own.length][len + pad];
            for (float[] row : out) {
                java.util.Arrays.fill(row, -777f);
            }
            attack.apply(start, h, o, len, out);
            for (int b = 0; b < own.length; b++) {
                for (int i = len; i < len + pad; i++) {
                    assertThat(out[b][i]).as("write past len").isEqualTo(-777f);
                }
                System.arraycopy(out[b], 0, result[b], start, len);
            }
        }
        return result;
    }

    static float[][] slice(float[][] x, int start, int len, int pad) {
        float[][] s = new float[x.length][len + pad];
        for (int r = 0; r < x.length; r++) {
            System.arraycopy(x[r], start, s[r], 0, len);
            java.util.Arrays.fill(s[r], len, len + pad, Float.NaN); // garbage past len
        }
        return s;
    }

    static int[] rawBits(float[] x) {
        int[] bits = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            bits[i] = Float.floatToRawIntBits(x[i]);
        }
        return bits;
    }

    @ParameterizedTest
    @MethodSource("specs")
    void inputsAreNotModified(String spec) {
        float[][] h = deepCopy(honest);
        float[][] o = deepCopy(own);
        Attacks.create(spec, 5).applyWhole(h, o);
        assertThat(h).isDeepEqualTo(honest);
        assertThat(o).isDeepEqualTo(own);
    }

    static float[][] deepCopy(float[][] x) {
        float[][] c = new float[x.length][];
        for (int i = 0; i < x.length; i++) {
            c[i] = x[i].clone();
        }
        return c;
    }

    // ---------------------------------------------------------------- determinism

    @ParameterizedTest
    @MethodSource("specs")
    void sameSeedGivesTheSameOutput(String spec) {
        float[][] a = Attacks.create(spec, 1234).applyWhole(honest, own);
        float[][] b = Attacks.create(spec, 1234).applyWhole(honest, own);
        for (int w = 0; w < FAULTY; w++) {
            assertThat(rawBits(a[w])).isEqualTo(rawBits(b[w]));
        }
    }

    @Test
    void randomAttacksChangeWithTheSeedAndTheWorker() {
        for (String spec : List.of("random", "random:dist=gaussian", "drop", "nan:fraction=0.5", "lienoise")) {
            float[][] a = Attacks.create(spec, 1).applyWhole(honest, own);
            float[][] b = Attacks.create(spec, 2).applyWhole(honest, own);
            for (int w = 0; w < FAULTY; w++) {
                assertThat(countDifferent(a[w], b[w])).as("%s seed change, worker %d", spec, w)
                        .isGreaterThan(D / 20);
            }
            if (spec.startsWith("random")) {
                assertThat(countDifferent(a[0], a[1])).as("%s workers 0 and 1", spec).isGreaterThan(D / 2);
            }
        }
    }

    @Test
    void deterministicAttacksIgnoreTheSeed() {
        for (String spec : List.of("none", "reverse", "lie", "empire", "signflip", "nan", "zero", "duplicate")) {
            float[][] a = Attacks.create(spec, 1).applyWhole(honest, own);
            float[][] b = Attacks.create(spec, 2).applyWhole(honest, own);
            for (int w = 0; w < FAULTY; w++) {
                assertThat(rawBits(a[w])).as(spec).isEqualTo(rawBits(b[w]));
            }
        }
    }

    static int countDifferent(float[] a, float[] b) {
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                n++;
            }
        }
        return n;
    }

    // ---------------------------------------------------------------- textbook definitions

    @Test
    void noneSendsOwnGradients() {
        float[][] out = Attacks.create("none", 0).applyWhole(honest, own);
        assertThat(out).isDeepEqualTo(own);
        assertThat(out[0]).isNotSameAs(own[0]);
    }

    @Test
    void zeroSendsZeros() {
        float[][] out = Attacks.create("zero", 0).applyWhole(honest, own);
        for (float[] row : out) {
            assertThat(row).containsOnly(0f);
        }
    }

    @Test
    void signflipSendsMinusOwn() {
        float[][] out = Attacks.create("signflip", 0).applyWhole(honest, own);
        for (int b = 0; b < FAULTY; b++) {
            for (int j = 0; j < D; j++) {
                assertThat(out[b][j]).isEqualTo(-own[b][j]);
            }
        }
    }

    @Test
    void reverseSendsMinusKTimesOwn() {
        for (double k : new double[] {10, 3, 0.5}) {
            float[][] out = Attacks.create(AttackConfig.of("reverse").withK(k)).applyWhole(honest, own);
            for (int b = 0; b < FAULTY; b++) {
                for (int j = 0; j < D; j++) {
                    assertThat(out[b][j]).isEqualTo((float) (-k * own[b][j]));
                }
            }
        }
        assertThat(AttackConfig.of("reverse").k()).isEqualTo(10);
    }

    @Test
    void duplicateCopiesTheTargetHonestWorker() {
        float[][] first = Attacks.create("duplicate", 0).applyWhole(honest, own);
        float[][] fifth = Attacks.create("duplicate:target=5", 0).applyWhole(honest, own);
        for (int b = 0; b < FAULTY; b++) {
            assertThat(first[b]).containsExactly(honest[0]);
            assertThat(fifth[b]).containsExactly(honest[5]);
        }
        assertThatThrownBy(() -> Attacks.create("duplicate:target=12", 0).applyWhole(honest, own))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target 12")
                .hasMessageContaining("0..11");
    }

    @Test
    void mimicIsDuplicate() {
        assertThat(AttackConfig.parse("mimic:target=4", 0)).isEqualTo(AttackConfig.parse("duplicate:target=4", 0));
        float[][] out = Attacks.create("mimic", 0).applyWhole(honest, own);
        for (int b = 0; b < FAULTY; b++) {
            assertThat(out[b]).containsExactly(honest[0]);
        }
    }

    @Test
    void lienoiseIsTheLieShiftPlusSigmaScaledNormalNoisePerColluder() {
        AttackConfig c = AttackConfig.parse("lienoise:z=1.5,std=0.5", 21);
        float[][] out = Attacks.create(c).applyWhole(honest, own);
        for (int b = 0; b < FAULTY; b++) {
            SplittableRandom seq = new SplittableRandom(CounterRandom.streamKey(21, LieNoiseAttack.SALT, b));
            for (int j = 0; j < D; j++) {
                double mean = onePassMean(honest, j);
                double sd = onePassSampleStd(honest, j);
                double xi = bisectInverseCdf(((seq.nextLong() >>> 11) + 0.5) * 0x1.0p-53);
                assertClose(out[b][j], mean - 1.5 * sd + 0.5 * sd * xi);
            }
        }
    }

    @Test
    void lienoiseColludersDifferFromEachOtherAndWithoutNoiseAreLie() {
        float[][] noisy = Attacks.create("lienoise:z=1.5", 5).applyWhole(honest, own);
        float[][] lie = Attacks.create("lie:z=1.5", 5).applyWhole(honest, own);
        float[][] silent = Attacks.create("lienoise:z=1.5,std=0", 5).applyWhole(honest, own);
        float[][] zMax = Attacks.create("lienoise:std=0", 5).applyWhole(honest, own);
        float[][] lieZMax = Attacks.create("lie", 5).applyWhole(honest, own);
        for (int b = 0; b < FAULTY; b++) {
            assertThat(rawBits(silent[b])).isEqualTo(rawBits(lie[b]));
            assertThat(rawBits(zMax[b])).as("z defaults to z_max, as for lie").isEqualTo(rawBits(lieZMax[b]));
        }
        assertThat(countDifferent(noisy[0], noisy[1])).isEqualTo(D);
        assertThat(countDifferent(noisy[0], lie[0])).isGreaterThan(D - 5);
        assertThatThrownBy(() -> AttackConfig.parse("lienoise:std=-1")).hasMessageContaining("std must be >= 0");
        assertThat(AttackConfig.parse(AttackConfig.parse("lienoise:z=1.5,std=2", 3).spec(), 0))
                .isEqualTo(AttackConfig.parse("lienoise:z=1.5,std=2", 3));
    }

    @Test
    void empireSendsMinusEpsTimesTheHonestMean() {
        for (double eps : new double[] {0.1, 10}) {
            float[][] out = Attacks.create(AttackConfig.of("empire").withEps(eps)).applyWhole(honest, own);
            for (int j = 0; j < D; j++) {
                double mean = 0;
                for (float[] h : honest) {
                    mean += h[j];
                }
                mean /= HONEST;
                for (int b = 0; b < FAULTY; b++) {
                    assertClose(out[b][j], -eps * mean);
                }
            }
        }
        assertThat(AttackConfig.of("empire").eps()).isEqualTo(0.1);
    }

    @Test
    void lieSendsMeanMinusZTimesSampleStdOfTheHonestWorkers() {
        float[][] out = Attacks.create("lie", 0).applyWhole(honest, own);
        double z = bisectInverseCdf(10.0 / 15.0); // p = 15, f = 3, s = floor(15/2 + 1) - 3 = 5
        for (int j = 0; j < D; j++) {
            double mean = onePassMean(honest, j);
            double sd = onePassSampleStd(honest, j);
            for (int b = 0; b < FAULTY; b++) {
                assertClose(out[b][j], mean - z * sd);
                assertThat((double) out[b][j]).isLessThanOrEqualTo(mean + 1e-6); // below the mean: z > 0
            }
        }
    }

    @Test
    void lieUsesTheZOverride() {
        float[][] out = Attacks.create("lie:z=-2", 0).applyWhole(honest, own);
        for (int j = 0; j < D; j++) {
            double mean = 0;
            for (float[] h : honest) {
                mean += h[j];
            }
            mean /= HONEST;
            double ss = 0;
            for (float[] h : honest) {
                ss += (h[j] - mean) * (h[j] - mean);
            }
            assertClose(out[0][j], mean + 2 * Math.sqrt(ss / (HONEST - 1)));
        }
    }

    @Test
    void lieZForFifteenWorkersThreeFaultyMatchesAnIndependentValue() {
        assertThat(LittleIsEnoughAttack.supporters(15, 3)).isEqualTo(5);
        double expected = bisectInverseCdf(10.0 / 15.0);
        assertThat(LittleIsEnoughAttack.zMax(15, 3)).isCloseTo(expected, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(expected).isCloseTo(0.4307272992954573, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(new LittleIsEnoughAttack(Double.NaN).z(12, 3)).isEqualTo(LittleIsEnoughAttack.zMax(15, 3));
        assertThat(new LittleIsEnoughAttack(0.21).z(12, 3)).isEqualTo(0.21);
    }

    @Test
    void lieZIsClampedWhenTheFaultyAreAMajority() {
        // p = 10, f = 6: s = 6 - 6 = 0 would give Phi^-1(1) = infinity; s is clamped to 1.
        assertThat(LittleIsEnoughAttack.supporters(10, 6)).isEqualTo(0);
        assertThat(LittleIsEnoughAttack.zMax(10, 6)).isCloseTo(bisectInverseCdf(0.9), org.assertj.core.api.Assertions.within(1e-12));
        assertThat(LittleIsEnoughAttack.zMax(10, 9)).isEqualTo(LittleIsEnoughAttack.zMax(10, 6));
        // p = 2, f = 1: s = 1, z = Phi^-1(1/2) = 0, the colluder sends the honest mean.
        assertThat(LittleIsEnoughAttack.zMax(2, 1)).isEqualTo(0.0);
        // f >= 1 never gives z < 0.
        for (int p = 2; p < 60; p++) {
            for (int f = 1; f < p; f++) {
                assertThat(LittleIsEnoughAttack.zMax(p, f)).isGreaterThanOrEqualTo(0).isFinite();
            }
        }
        assertThatThrownBy(() -> LittleIsEnoughAttack.zMax(5, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("p = 5, f = 0");
    }

    @Test
    void lieWithOneHonestWorkerSendsItsGradientAndWithNoFaultyWorkerSendsNothing() {
        float[][] one = {honest[3]};
        float[][] out = Attacks.create("lie", 0).applyWhole(one, own);
        for (int b = 0; b < FAULTY; b++) {
            assertThat(out[b]).containsExactly(honest[3]);
        }
        assertThat(Attacks.create("lie", 0).applyWhole(honest, new float[0][])).isEmpty();
    }

    @Test
    void randomUniformIsTheCounterStreamScaledToTheRange() {
        for (String spec : List.of("random", "random:low=-3,high=5")) {
            AttackConfig c = AttackConfig.parse(spec, 77);
            float[][] out = Attacks.create(c).applyWhole(honest, own);
            double low = c.noise().low();
            double width = c.noise().high() - low;
            for (int b = 0; b < FAULTY; b++) {
                SplittableRandom seq = new SplittableRandom(CounterRandom.streamKey(77, RandomAttack.SALT, b));
                for (int j = 0; j < D; j++) {
                    float expected = (float) (low + width * ((seq.nextLong() >>> 40) * 0x1.0p-24));
                    assertThat(out[b][j]).isEqualTo(expected);
                }
            }
        }
    }

    @Test
    void randomUniformHasTheMomentsOfUniformZeroOne() {
        float[][] x = Attacks.create("random", 3).applyWhole(new float[1][200_000], new float[1][200_000]);
        double sum = 0;
        double sumSq = 0;
        int belowQuarter = 0;
        for (float v : x[0]) {
            assertThat(v).isGreaterThanOrEqualTo(0f).isLessThan(1f);
            sum += v;
            sumSq += (double) v * v;
            belowQuarter += v < 0.25f ? 1 : 0;
        }
        double n = x[0].length;
        double mean = sum / n;
        assertThat(mean).isBetween(0.495, 0.505);
        assertThat(sumSq / n - mean * mean).isBetween(1 / 12.0 - 0.002, 1 / 12.0 + 0.002);
        assertThat(belowQuarter / n).isBetween(0.245, 0.255);
    }

    @Test
    void randomGaussianHasTheRequestedMeanAndStd() {
        float[][] x = Attacks.create("random:dist=gaussian,mean=1,std=2", 3)
                .applyWhole(new float[1][200_000], new float[1][200_000]);
        double sum = 0;
        double sumSq = 0;
        int belowOneSigma = 0;
        for (float v : x[0]) {
            sum += v;
            sumSq += (double) v * v;
            belowOneSigma += v <= 3f ? 1 : 0;
        }
        double n = x[0].length;
        double mean = sum / n;
        double std = Math.sqrt(sumSq / n - mean * mean);
        assertThat(mean).isBetween(0.98, 1.02);
        assertThat(std).isBetween(1.98, 2.02);
        assertThat(belowOneSigma / n).isBetween(0.8413 - 0.005, 0.8413 + 0.005);
    }

    @Test
    void dropZeroesExactlyTheCoordinatesWhoseCounterUniformIsBelowTheFraction() {
        for (double fraction : new double[] {0.1, 0.5}) {
            float[][] out = Attacks.create(AttackConfig.of("drop", 8).withFraction(fraction)).applyWhole(honest, own);
            for (int b = 0; b < FAULTY; b++) {
                SplittableRandom seq = new SplittableRandom(CounterRandom.streamKey(8, DropAttack.SALT, b));
                for (int j = 0; j < D; j++) {
                    float expected = seq.nextDouble() < fraction ? 0f : own[b][j];
                    assertThat(out[b][j]).isEqualTo(expected);
                }
            }
        }
    }

    @Test
    void dropZeroesAboutTheFractionAndTheEndpointsAreExact() {
        float[][] ones = {filled(100_000, 1f)};
        float[][] out = Attacks.create("drop", 4).applyWhole(ones, ones);
        int zeros = 0;
        for (float v : out[0]) {
            assertThat(v).isIn(0f, 1f);
            zeros += v == 0f ? 1 : 0;
        }
        assertThat(zeros / 100_000.0).isBetween(0.095, 0.105);
        assertThat(Attacks.create("drop:fraction=0", 4).applyWhole(honest, own)).isDeepEqualTo(own);
        for (float[] row : Attacks.create("drop:fraction=1", 4).applyWhole(honest, own)) {
            assertThat(row).containsOnly(0f);
        }
    }

    @Test
    void nanReplacesEveryValueByDefaultAndInfModesWork() {
        for (float[] row : Attacks.create("nan", 0).applyWhole(honest, own)) {
            for (float v : row) {
                assertThat(Float.isNaN(v)).isTrue();
            }
        }
        for (float[] row : Attacks.create("nan:mode=inf", 0).applyWhole(honest, own)) {
            assertThat(row).containsOnly(Float.POSITIVE_INFINITY);
        }
        for (float[] row : Attacks.create("nan:mode=-inf", 0).applyWhole(honest, own)) {
            assertThat(row).containsOnly(Float.NEGATIVE_INFINITY);
        }
    }

    @Test
    void nanWithAFractionReplacesTheCounterChosenCoordinates() {
        float[][] out = Attacks.create("nan:mode=-inf,fraction=0.3", 6).applyWhole(honest, own);
        int replaced = 0;
        for (int b = 0; b < FAULTY; b++) {
            SplittableRandom seq = new SplittableRandom(CounterRandom.streamKey(6, NonFiniteAttack.SALT, b));
            for (int j = 0; j < D; j++) {
                boolean hit = seq.nextDouble() < 0.3;
                assertThat(out[b][j]).isEqualTo(hit ? Float.NEGATIVE_INFINITY : own[b][j]);
                replaced += hit ? 1 : 0;
            }
        }
        assertThat(replaced / (double) (FAULTY * D)).isBetween(0.25, 0.35);
        // Different salts: the NaN mask is not the drop mask for the same seed.
        assertThat(CounterRandom.streamKey(6, NonFiniteAttack.SALT, 0))
                .isNotEqualTo(CounterRandom.streamKey(6, DropAttack.SALT, 0));
    }

    // ---------------------------------------------------------------- registry

    @Test
    void namesAreTheCanonicalListAndEachCreatesItsAttack() {
        assertThat(Attacks.NAMES).containsExactly(
                "none", "random", "reverse", "drop", "lie", "empire", "signflip", "nan", "zero", "duplicate",
                "lienoise");
        for (String name : Attacks.NAMES) {
            assertThat(Attacks.create(AttackConfig.of(name)).name()).isEqualTo(name);
        }
        assertThat(AttackConfig.PARAMETERS.keySet()).containsExactlyElementsOf(Attacks.NAMES);
    }

    @Test
    void unknownNamesAreRejectedWithTheValidOnes() {
        assertThatThrownBy(() -> Attacks.create("gaussian", 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown attack 'gaussian'")
                .hasMessageContaining("none, random, reverse, drop, lie, empire, signflip, nan, zero, duplicate");
        assertThatThrownBy(() -> AttackConfig.of("Lie"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown attack 'Lie'");
    }

    @Test
    void applyWholeChecksShapes() {
        Attack a = Attacks.create("none", 0);
        assertThatThrownBy(() -> a.applyWhole(new float[0][], own))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one honest");
        assertThatThrownBy(() -> a.applyWhole(honest, new float[][] {new float[D - 1]}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("faulty gradient 0 has length 1012");
    }

    // ---------------------------------------------------------------- helpers

    static float[] filled(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }

    /** The honest mean at coordinate j. */
    static double onePassMean(float[][] rows, int j) {
        double sum = 0;
        for (float[] h : rows) {
            sum += h[j];
        }
        return sum / rows.length;
    }

    /** The sample std at coordinate j by the one-pass textbook formula, unlike the code's two passes. */
    static double onePassSampleStd(float[][] rows, int j) {
        double sum = 0;
        double sumSq = 0;
        for (float[] h : rows) {
            sum += h[j];
            sumSq += (double) h[j] * h[j];
        }
        return Math.sqrt((sumSq - sum * sum / rows.length) / (rows.length - 1));
    }

    static void assertClose(float actual, double expected) {
        assertThat((double) actual).isCloseTo(expected,
                org.assertj.core.api.Assertions.within(1e-6 + 1e-6 * Math.abs(expected)));
    }

    /** Phi^-1 by bisection on the erf-based Phi of NormalQuantileTest: slow, but independent of AS 241. */
    static double bisectInverseCdf(double p) {
        double lo = -40;
        double hi = 40;
        for (int i = 0; i < 200; i++) {
            double mid = 0.5 * (lo + hi);
            if (NormalQuantileTest.phi(mid) < p) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return 0.5 * (lo + hi);
    }
}
