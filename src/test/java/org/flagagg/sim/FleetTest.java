package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.flagagg.round.GradientSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FleetTest {

    static final int P = 7;
    static final int F = 2;
    static final int N = 5003; // not a multiple of any chunk size used below

    static Fleet fleet(String attack, long seed) {
        return new Fleet(new Fleet.Config(seed, F, attack, "none"), P, N);
    }

    static float[] whole(Fleet fleet, long round, int slot, boolean sent) {
        float[] g = new float[N];
        if (sent) {
            fleet.sent(round, slot, 0, N, g);
        } else {
            fleet.trueGradient(round, slot, 0, N, g);
        }
        return g;
    }

    /** Reads [0, N) in chunks of random sizes, in a shuffled order of chunks. */
    static float[] chunked(Fleet fleet, long round, int slot, long splitSeed) {
        SplittableRandom random = new SplittableRandom(splitSeed);
        java.util.List<int[]> pieces = new java.util.ArrayList<>();
        for (int at = 0; at < N; ) {
            int len = Math.min(N - at, 1 + random.nextInt(900));
            pieces.add(new int[] {at, len});
            at += len;
        }
        java.util.Collections.shuffle(pieces, new java.util.Random(splitSeed));
        float[] g = new float[N];
        float[] buf = new float[1000];
        for (int[] piece : pieces) {
            java.util.Arrays.fill(buf, 12345f); // stale buffer content must not leak into the result
            fleet.sent(round, slot, piece[0], piece[1], buf);
            System.arraycopy(buf, 0, g, piece[0], piece[1]);
        }
        return g;
    }

    static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }

    @Test
    void sameSeedSameValuesAndEveryInputMatters() {
        Fleet a = fleet("lie", 42);
        Fleet b = fleet("lie", 42);
        for (int slot = 0; slot < P; slot++) {
            assertThat(bits(whole(a, 3, slot, true))).isEqualTo(bits(whole(b, 3, slot, true)));
        }
        assertThat(whole(a, 3, 4, false)).isNotEqualTo(whole(fleet("lie", 43), 3, 4, false));
        assertThat(whole(a, 3, 4, false)).isNotEqualTo(whole(a, 4, 4, false));
        assertThat(whole(a, 3, 4, false)).isNotEqualTo(whole(a, 3, 5, false));
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "lie", "empire:eps=10", "random:dist=gaussian,std=3", "drop:fraction=0.5",
        "nan:fraction=0.2", "reverse", "duplicate:target=1"})
    void chunkedGenerationEqualsWholeGenerationBitForBit(String attack) {
        Fleet fleet = fleet(attack, 7);
        for (int slot = 0; slot < P; slot++) {
            int[] expected = bits(whole(fleet, 2, slot, true));
            for (long split = 1; split <= 3; split++) {
                assertThat(bits(chunked(fleet, 2, slot, split))).as("slot %d split %d", slot, split).isEqualTo(expected);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lie", "empire:eps=10", "random", "drop", "nan:mode=inf,fraction=0.3", "signflip",
        "reverse:k=3", "zero", "duplicate:target=2"})
    void byzantineChunksEqualTheAttackAppliedToWholeVectors(String spec) {
        Fleet fleet = fleet(spec, 11);
        long round = 5;
        float[][] honest = new float[P - F][];
        for (int h = 0; h < P - F; h++) {
            honest[h] = whole(fleet, round, F + h, false);
        }
        float[][] own = new float[F][];
        for (int b = 0; b < F; b++) {
            own[b] = whole(fleet, round, b, false);
        }
        float[][] expected = fleet.attack(round).applyWhole(honest, own);
        for (int b = 0; b < F; b++) {
            assertThat(bits(chunked(fleet, round, b, 9))).as("%s faulty slot %d", spec, b).isEqualTo(bits(expected[b]));
            assertThat(fleet.isByzantine(b)).isTrue();
        }
        // The honest slots send their true gradients.
        for (int h = F; h < P; h++) {
            assertThat(fleet.isByzantine(h)).isFalse();
            assertThat(bits(chunked(fleet, round, h, 9))).isEqualTo(bits(honest[h - F]));
        }
    }

    @Test
    void honestGradientsShareADirectionWithTheConfiguredNoise() {
        Fleet fleet = new Fleet(new Fleet.Config(1, 0, "none", "none", 0.5), 3, 200_000);
        float[] a = new float[200_000];
        float[] b = new float[200_000];
        fleet.trueGradient(0, 0, 0, a.length, a);
        fleet.trueGradient(0, 1, 0, b.length, b);
        double sumA = 0;
        double sumSq = 0;
        double diffSq = 0;
        for (int i = 0; i < a.length; i++) {
            sumA += a[i];
            sumSq += a[i] * (double) a[i];
            diffSq += (a[i] - b[i]) * (double) (a[i] - b[i]);
        }
        double mean = sumA / a.length;
        // Each value is d + 0.5 e with d, e ~ (0, 1): variance 1.25; two workers differ by 0.5 (e1 - e2): 0.5.
        assertThat(mean).isBetween(-0.02, 0.02);
        assertThat(sumSq / a.length - mean * mean).isBetween(1.2, 1.3);
        assertThat(diffSq / a.length).isBetween(0.48, 0.52);
    }

    @Test
    void theOfflineSourceReadsTheNamedSlots() throws Exception {
        Fleet fleet = fleet("lie", 3);
        GradientSource source = fleet.source(1, new int[] {6, 0});
        assertThat(source.workers()).isEqualTo(2);
        assertThat(source.dimension()).isEqualTo(N);
        float[] got = new float[100];
        source.read(1, 200, 100, got);
        float[] direct = new float[100];
        fleet.sent(1, 0, 200, 100, direct);
        assertThat(got).isEqualTo(direct);
    }

    @Test
    void badConfigurationsAreRefused() {
        assertThatThrownBy(() -> new Fleet(new Fleet.Config(0, 3, "lie", "none"), 3, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("f = 3, p = 3");
        assertThatThrownBy(() -> new Fleet(new Fleet.Config(0, 1, "bogus", "none"), 3, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown attack 'bogus'");
        assertThatThrownBy(() -> new Fleet.Config(0, -1, "lie", "none"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("byzantine");
        assertThatThrownBy(() -> new Fleet(new Fleet.Config(0, 1, "lie", "delay"), 3, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs ms=");
        // duplicate's target must be one of the P - F honest workers.
        assertThatThrownBy(() -> new Fleet(new Fleet.Config(0, 1, "duplicate:target=2", "none"), 3, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 2");
    }
}
