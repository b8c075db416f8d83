package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import java.util.SplittableRandom;
import org.flagagg.fa.FlagOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TrainingTest {
    static Vertx vertx;
    static final Dataset TRAIN = MlpTest.random(100, 3, 21);
    static final Dataset TEST = MlpTest.random(30, 3, 22);
    static final Mlp MODEL = new Mlp(9, 4, 10);

    @BeforeAll
    static void start() {
        vertx = Vertx.vertx();
    }

    @AfterAll
    static void stop() {
        vertx.close().await();
    }

    static Training training(int p, int f, int rounds) {
        // A chunk of 16 coordinates: the 90-parameter gradient crosses the engine in 6 chunks.
        return new Training(vertx, TRAIN, TEST, MODEL, new Training.Settings(p, f, 4, 0.5, rounds, 2, 3,
                FlagOptions.DEFAULTS.withScale(FlagOptions.Scale.NORM), 16, 2000));
    }

    @Test
    void meanThroughTheEngineIsPlainDataParallelSgd() {
        int p = 4;
        int rounds = 3;
        Training.Result r = training(p, 0, rounds).run(new Training.Spec("mean", "none", "none"), null, (d, t) -> { });
        // The same SGD written out here, without the engine: average the p minibatch gradients, step.
        float[] w = MODEL.initialParameters(3);
        SplittableRandom[] draws = new SplittableRandom[p];
        for (int k = 0; k < p; k++) {
            draws[k] = Training.batchStream(3, k);
        }
        int shard = TRAIN.size() / p;
        float[] g = new float[MODEL.dimension()];
        for (int t = 0; t < rounds; t++) {
            double[] sum = new double[w.length];
            for (int k = 0; k < p; k++) {
                int[] batch = new int[4];
                for (int b = 0; b < 4; b++) {
                    batch[b] = k * shard + draws[k].nextInt(shard);
                }
                MODEL.lossAndGradient(w, TRAIN, batch, 4, g, MODEL.workspace());
                for (int i = 0; i < w.length; i++) {
                    sum[i] += g[i];
                }
            }
            for (int i = 0; i < w.length; i++) {
                w[i] -= 0.5f * (float) (sum[i] / p);
            }
        }
        for (int i = 0; i < w.length; i++) {
            assertThat(r.parameters()[i]).as("parameter %d", i).isCloseTo(w[i], org.assertj.core.api.Assertions.within(1e-5f));
        }
        assertThat(r.inSync()).isTrue();
        assertThat(r.evalRounds()).containsExactly(0, 2, 3);
        assertThat(r.accuracy()[2]).isEqualTo(MODEL.evaluate(r.parameters(), TEST).accuracy());
        assertThat(r.failedRounds()).isZero();
        assertThat(r.quality()).isNull();
    }

    @Test
    void flagRunsRecordQualityPerWorkerAndAreDeterministic() {
        Training t = training(5, 1, 4);
        Training.Spec spec = new Training.Spec("flag", "lie", "none");
        Training.Result a = t.run(spec, null, (d, n) -> { });
        Training.Result b = t.run(spec, null, (d, n) -> { });
        assertThat(a.parameters()).isEqualTo(b.parameters());
        assertThat(a.accuracy()).isEqualTo(b.accuracy());
        assertThat(a.byzantine()).containsExactly("w0");
        assertThat(a.quality()).hasDimensions(4, 5);
        for (double[] round : a.quality()) {
            for (double q : round) {
                assertThat(q).isBetween(0.0, 1.0 + 1e-9);
            }
        }
        // The engine folds the Gram matrix in chunk arrival order, so q agrees to rounding, not bit for bit.
        for (int round = 0; round < 4; round++) {
            for (int w = 0; w < 5; w++) {
                assertThat(a.quality()[round][w]).isCloseTo(b.quality()[round][w], org.assertj.core.api.Assertions.within(1e-9));
            }
        }
        assertThat(a.inSync()).isTrue();
    }

    @Test
    void aStragglerMissesTheDeadlineAndTheRoundClosesOnQuorum() {
        Training t = new Training(vertx, TRAIN, TEST, MODEL, new Training.Settings(4, 0, 4, 0.5, 3, 3, 3,
                FlagOptions.DEFAULTS, 16, 300)).waitingForTheQuorum();
        Training.Result r = t.run(new Training.Spec("mean", "none", "delay:ms=5000,workers=1"), null, (d, n) -> { });
        // Every round: the last worker's gradient arrives after the 300 ms deadline; the other 3 are the quorum
        // (which the deadline also waits for, however long a loaded machine makes them take).
        assertThat(r.lateGradients()).isEqualTo(3);
        assertThat(r.failedRounds()).isZero();
        assertThat(r.inSync()).isTrue();
    }

    @Test
    void rejectsASplitThatLeavesALabelUnheld() {
        assertThatThrownBy(() -> new Training(vertx, TRAIN, TEST, MODEL, new Training.Settings(4, 0, 4, 0.5, 3, 3, 3,
                FlagOptions.DEFAULTS, 16, 300, "labels:k=1", "constant")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs p * k >= 10");
    }

    @Test
    void cosineScheduleFallsFromTheLearningRateTowardsZero() {
        Training.Settings s = new Training.Settings(4, 0, 4, 0.8, 100, 5, 3, FlagOptions.DEFAULTS, 16, 300, "iid", "cosine");
        // Independent form: lr * cos^2(pi t / 2T) equals lr * (1 + cos(pi t / T)) / 2.
        for (int t = 0; t < 100; t += 7) {
            double c = Math.cos(Math.PI * t / 200.0);
            assertThat(s.learningRate(t)).isCloseTo(0.8 * c * c, org.assertj.core.data.Offset.offset(1e-12));
        }
        assertThat(s.learningRate(50)).isCloseTo(0.4, org.assertj.core.data.Offset.offset(1e-12));
        Training.Settings constant = new Training.Settings(4, 0, 4, 0.8, 100, 5, 3, FlagOptions.DEFAULTS, 16, 300);
        assertThat(constant.learningRate(99)).isEqualTo(0.8);
        assertThatThrownBy(() -> new Training.Settings(4, 0, 4, 0.8, 100, 5, 3, FlagOptions.DEFAULTS, 16, 300, "iid", "step"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("schedule");
    }

    @Test
    void rejectsARuleThatDoesNotFitP() {
        assertThatThrownBy(() -> training(5, 2, 1).validate(new Training.Spec("bulyan", "none", "none")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bulyan");
        assertThatThrownBy(() -> training(5, 1, 1).validate(new Training.Spec("flag", "bogus", "none")))
                .hasMessageContaining("unknown attack");
        assertThatThrownBy(() -> training(5, 1, 1).validate(new Training.Spec("flag", "adaptive:bogus", "none")))
                .hasMessageContaining("unknown adaptive attack");
    }

    @Test
    void adaptiveIpmAgainstTheMeanIsEmpireAtItsLargestEpsEveryRound() {
        // Against the mean the inner product with the honest mean falls as eps grows: the search always picks 10.
        Training.Result adaptive = training(5, 2, 3).run(new Training.Spec("mean", "adaptive:ipm", "none"), null, (d, t) -> { });
        Training.Result fixed = training(5, 2, 3).run(new Training.Spec("mean", "empire:eps=10", "none"), null, (d, t) -> { });
        Training.Result small = training(5, 2, 3).run(new Training.Spec("mean", "empire:eps=0.1", "none"), null, (d, t) -> { });
        assertThat(adaptive.parameters()).isEqualTo(fixed.parameters()).isNotEqualTo(small.parameters());
        assertThat(adaptive.inSync()).isTrue();
    }
}
