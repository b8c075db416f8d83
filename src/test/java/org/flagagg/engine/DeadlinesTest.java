package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@link Deadlines#waitingFor}: what tests outside the engine use to close a round at its deadline. */
@ExtendWith(VertxExtension.class)
class DeadlinesTest {

    @TempDir
    Path dir;

    @Test
    void aDeadlineWaitingForTwoClosesTheRoundWithBothThoughItsTimePassedLongBefore(Vertx vertx) throws Exception {
        // A 1 ms deadline, armed at w0's first chunk; w1 begins only once w0 delivered, w2 never sends.
        // On timers the round would close with w0 alone and fail its quorum of 2.
        JobConfig job = Engine.job(new JsonObject().put("workers", 3).put("quorum", 2)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 1).put("max_ms", 1))
                .put("rule", new JsonObject().put("name", "mean")), dir);
        try (Engine engine = Engine.start(vertx, job, Deadlines.waitingFor(2))) {
            Engine.Client w0 = engine.client("w0", 0);
            Engine.Client w1 = engine.client("w1", 1);
            engine.client("w2", 2);
            float[][] g = Engine.gradients(3, (int) job.dim(), 90);
            CompletableFuture<Worker.Aggregate> first = w0.exchange(0, g[0]);
            Await.get(engine.delivered(0, 1));
            CompletableFuture<Worker.Aggregate> second = w1.exchange(0, g[1]);

            // The mean of the two, written out here.
            float[] expected = new float[g[0].length];
            for (int k = 0; k < expected.length; k++) {
                expected[k] = (float) (((double) g[0][k] + g[1][k]) / 2);
            }
            Engine.assertSameAggregate(Await.get(first).values(), expected);
            Engine.assertSameAggregate(Await.get(second).values(), expected);
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("status")).isEqualTo("completed");
            assertThat(record.getString("trigger")).isEqualTo("deadline 1 ms");
            assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1");
            assertThat(record.getJsonArray("stragglers").getJsonObject(0).getString("worker")).isEqualTo("w2");
        }
    }

    @Test
    void waitingForMoreWorkersThanDeliverEndsWithTheRoundInsteadOfHanging(Vertx vertx) throws Exception {
        // Waiting for 3 of 2: the round closes when both delivered, and the wait for a third fails with it.
        JobConfig job = Engine.job(new JsonObject().put("workers", 2).put("rule", new JsonObject().put("name", "mean")),
                dir);
        try (Engine engine = Engine.start(vertx, job, Deadlines.waitingFor(3))) {
            Engine.Client w0 = engine.client("w0", 0);
            Engine.Client w1 = engine.client("w1", 1);
            float[][] g = Engine.gradients(2, (int) job.dim(), 91);
            CompletableFuture<Void> three = engine.delivered(0, 3);
            CompletableFuture<Worker.Aggregate> first = w0.exchange(0, g[0]);
            CompletableFuture<Worker.Aggregate> second = w1.exchange(0, g[1]);
            assertThat(Await.get(first).round()).isZero();
            assertThat(Await.get(second).round()).isZero();
            assertThat(Await.get(engine.recordOf(0)).getString("trigger")).isEqualTo("all workers delivered");
            assertThatThrownBy(() -> Await.get(three)).isInstanceOf(ExecutionException.class)
                    .hasMessageContaining("round 0 ended with fewer than 3 workers delivered");
        }
    }

    @Test
    void aDeadlineMustWaitForSomeone() {
        assertThatThrownBy(() -> Deadlines.waitingFor(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 worker");
    }
}
