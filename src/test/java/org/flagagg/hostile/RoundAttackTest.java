package org.flagagg.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Engine;
import org.flagagg.engine.RawWorker;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.Codes;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, items 3 and 4: a token holder choosing round ids (far ahead, one round early, a restarted worker at
 * round 0) and a worker that acknowledges its results just in time, round after round. Each test reproduces the
 * attack against the engine, checks the honest workers' rounds keep completing with the right aggregate, the
 * attacker gets a clear refusal at once, and the chunk store returns to empty.
 */
@ExtendWith(VertxExtension.class)
class RoundAttackTest {
    /** "At once": far below an exchange's own timeout (2 x (deadline + result timeout), a minute here). */
    private static final long AT_ONCE_MS = 5_000;

    @TempDir
    Path dir;

    @Test
    void aRoundIdFarAheadIsRefusedAtOnceAndTheJobGoesOn(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 4), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            List<Engine.Client> honest = clients(engine, 3);
            RawWorker attacker = RawWorker.join(vertx, job.job(), "w3", job.dim(), 3);
            float[][] g = Engine.gradients(4, (int) job.dim(), 31);

            // Before: round 10^12 opened, failed, and every later round got 409 "closed" for ever.
            ReplyException far = refusal(vertx, job, attacker.frame(1_000_000_000_000L, 0, g[3]));
            assertThat(far.failureCode()).isEqualTo(Codes.TOO_EARLY);
            assertThat(far.getMessage()).contains("round 1000000000000 is ahead", "the current round is 0");
            assertThat(attacker.sendChunk(Long.MAX_VALUE, 0, g[3])).isEqualTo(Codes.TOO_EARLY);

            // A Java client given such an id fails at once with the server's reason, not at its timeout.
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> Await.get(honest.get(0).exchange(1_000_000_000_000L, g[0])))
                    .cause().isInstanceOf(Worker.RoundRefusedException.class).hasMessageContaining("425")
                    .hasMessageContaining("the current round is 0");
            assertThat(elapsedMs(t0)).isLessThan(AT_ONCE_MS);

            for (long round = 0; round < 3; round++) {
                runHonestRound(engine, honest, attacker, round, Engine.gradients(4, (int) job.dim(), 40 + round));
            }
            for (long round = 0; round < 3; round++) {
                assertThat(Await.get(engine.recordOf(round)).getString("status")).isEqualTo("completed");
            }
            Await.get(engine.releasedOf(2));
            assertThat(engine.store.stats().chunks()).isZero();
        }
    }

    @Test
    void aChunkOneRoundEarlyNeitherOpensTheRoundAheadNorClosesTheNextBeforeItsWorkersBegin(Vertx vertx)
            throws Exception {
        // Adaptive deadline: 1 s (min_ms) once there is history (3 x a fast round 0). Before, the attacker's early
        // chunk started that clock, the round failed before honest workers who think for more than 1 s began, and
        // they hung on 409.
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("quorum", 3).put("deadline",
                new JsonObject().put("mode", "adaptive").put("factor", 3.0).put("min_ms", 1000).put("max_ms", 30_000)
                        .put("history", 8)), dir);
        // The test passes the deadlines itself: what it checks is how long each is armed for, and the honest
        // workers are in when round 1 closes at its deadline, however loaded the machine.
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            List<Engine.Client> honest = clients(engine, 3);
            RawWorker attacker = RawWorker.join(vertx, job.job(), "w3", job.dim(), 3);
            runHonestRound(engine, honest, attacker, 0, Engine.gradients(4, (int) job.dim(), 50));

            float[][] g = Engine.gradients(4, (int) job.dim(), 51);
            // Round 1 is next: the attacker opens it with one chunk and goes silent.
            assertThat(attacker.sendChunk(1, 0, g[3])).isNull();
            // Its chunk does not start the adaptive clock (1 s): the round waits up to max_ms for its workers.
            assertThat(engine.deadlineMs(1)).isEqualTo(30_000);
            // Round 2 cannot open while round 1 is open and fewer than a quorum (3) started it.
            ReplyException early = refusal(vertx, job, attacker.frame(2, 0, g[3]));
            assertThat(early.failureCode()).isEqualTo(Codes.TOO_EARLY);
            assertThat(early.getMessage()).contains("round 1 is open", "1 of a quorum of 3");

            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                assertThat(honest.get(w).worker().nextRound()).isEqualTo(1);
                results.add(honest.get(w).exchange(1, g[w]));
            }
            // A quorum started the round: now the adaptive deadline (1 s, more only if round 0 took over 1/3 s)
            // runs; the test passes it once the honest delivered.
            Await.get(engine.delivered(1, 3));
            long adaptiveMs = engine.deadlineMs(1);
            assertThat(adaptiveMs).isBetween(1000L, 29_999L);
            Await.get(engine.fireDeadline(1));
            float[] expected = engine.offline(new float[][] {g[0], g[1], g[2]});
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            JsonObject record = Await.get(engine.recordOf(1));
            assertThat(record.getString("status")).isEqualTo("completed");
            assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1", "w2");
            assertThat(record.getString("trigger")).isEqualTo("deadline " + adaptiveMs + " ms");
            Await.get(engine.releasedOf(1));
            assertThat(engine.store.stats().chunks()).isZero();
        }
    }

    @Test
    void aRestartedWorkerFollowsTheServersRoundAndRoundZeroIsRefusedAtOnce(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 3), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            List<Engine.Client> clients = clients(engine, 3);
            for (long round = 0; round < 3; round++) {
                float[][] g = Engine.gradients(3, (int) job.dim(), 60 + round);
                exchangeAll(clients, round, g, engine.offline(g));
            }
            // Worker w2 restarts: a new client, the same id and slot.
            Await.get(Await.on(clients.get(2).context(), () -> clients.get(2).worker().close()));
            Engine.Client restarted = engine.client("w2", 2);
            assertThat(restarted.worker().session().getLong("round")).isEqualTo(3);
            assertThat(restarted.worker().nextRound()).isEqualTo(3);

            // Before: round 0 got 409, swallowed, and the worker hung 65-290 s. Now it fails at once.
            float[][] g = Engine.gradients(3, (int) job.dim(), 70);
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> Await.get(restarted.exchange(0, g[2])))
                    .isInstanceOf(ExecutionException.class).cause()
                    .isInstanceOf(Worker.RoundRefusedException.class)
                    .hasMessageContaining("410").hasMessageContaining("the current round is 3");
            assertThat(elapsedMs(t0)).isLessThan(AT_ONCE_MS);

            // Following the server's round, it takes part again.
            List<Engine.Client> now = List.of(clients.get(0), clients.get(1), restarted);
            float[] expected = engine.offline(g);
            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                Engine.Client c = now.get(w);
                float[] gradient = g[w];
                results.add(Await.on(c.context(), () -> c.worker().exchange(gradient)));
            }
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Worker.Aggregate a = Await.get(result);
                assertThat(a.round()).isEqualTo(3);
                assertThat(a.included()).isTrue();
                Engine.assertSameAggregate(a.values(), expected);
            }
            assertThat(restarted.worker().nextRound()).isEqualTo(4);
            Await.get(engine.releasedOf(3));
            assertThat(engine.store.stats().chunks()).isZero();
        }
    }

    @Test
    void aWorkerAcknowledgingJustInTimeIsDroppedFromEachRoundsStreamAndTheStoreEmpties(Vertx vertx)
            throws Exception {
        // 16 aggregate chunks, 1 credit: the slow worker's whole stream would take 16 x 700 ms = 11 s, and no
        // single chunk ever waits the 1 s result timeout. Before, every round's chunks stayed that long.
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("credits", 1).put("result_timeout_ms", 1000)
                .put("max_result_rounds", 8), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            List<Engine.Client> clients = clients(engine, 4);
            Engine.Client slow = clients.get(3);
            List<CompletableFuture<Worker.Aggregate>> slowRounds = new ArrayList<>();
            for (long round = 0; round < 4; round++) {
                float[][] g = Engine.gradients(4, (int) job.dim(), 80 + round);
                slowRounds.add(slowExchange(vertx, slow, round, g[3], 700));
                exchangeAll(clients.subList(0, 3), round, g, engine.offline(g));
                // The round's chunks leave the store once the slow stream is cut: ~1 s after the close plus the
                // chunk in flight, far less than the 11 s the stream would take.
                Await.get(engine.recordOf(round));
                long t0 = System.nanoTime();
                Await.get(engine.releasedOf(round));
                assertThat(elapsedMs(t0)).as("round " + round + " released").isLessThan(6_000);
            }
            for (CompletableFuture<Worker.Aggregate> f : slowRounds) {
                assertThatThrownBy(() -> Await.get(f)).cause().isInstanceOf(Worker.RoundFailedException.class)
                        .hasMessageContaining("result_timeout_ms");
            }
            assertThat(engine.store.stats().chunks()).isZero();
            assertThat(engine.store.stats().bytesInMemory()).isZero();
        }
    }

    @Test
    void aWorkerHoldsAtMostMaxResultRoundsOfResults(Vertx vertx) throws Exception {
        // result_timeout_ms is long: only the rounds-held bound can free round 0 while the slow stream goes on.
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("credits", 1).put("result_timeout_ms", 30_000)
                .put("max_result_rounds", 1), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            List<Engine.Client> clients = clients(engine, 4);
            Engine.Client slow = clients.get(3);
            float[][] g0 = Engine.gradients(4, (int) job.dim(), 90);
            CompletableFuture<Worker.Aggregate> slow0 = slowExchange(vertx, slow, 0, g0[3], 700);
            exchangeAll(clients.subList(0, 3), 0, g0, engine.offline(g0));
            float[][] g1 = Engine.gradients(4, (int) job.dim(), 91);
            CompletableFuture<Worker.Aggregate> slow1 = slowExchange(vertx, slow, 1, g1[3], 0);
            exchangeAll(clients.subList(0, 3), 1, g1, engine.offline(g1));
            // Round 1's results made round 0's stream to the slow worker give way: round 0 is released long
            // before its 11 s stream (or the 30 s timeout) would have ended.
            long t0 = System.nanoTime();
            Await.get(engine.releasedOf(0));
            assertThat(elapsedMs(t0)).isLessThan(6_000);
            assertThatThrownBy(() -> Await.get(slow0)).cause().isInstanceOf(Worker.RoundFailedException.class)
                    .hasMessageContaining("max_result_rounds");
            assertThat(Await.get(slow1).included()).isTrue();
            Await.get(engine.releasedOf(1));
            assertThat(engine.store.stats().chunks()).isZero();
        }
    }

    // ---------------------------------------------------------------------------------------------------

    private static List<Engine.Client> clients(Engine engine, int n) throws Exception {
        List<Engine.Client> clients = new ArrayList<>();
        for (int w = 0; w < n; w++) {
            clients.add(engine.client("w" + w, w));
        }
        return clients;
    }

    /** Every client exchanges its row of {@code g} for {@code round}; each gets {@code expected}. */
    private static void exchangeAll(List<Engine.Client> clients, long round, float[][] g, float[] expected)
            throws Exception {
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int w = 0; w < clients.size(); w++) {
            results.add(clients.get(w).exchange(round, g[w]));
        }
        for (CompletableFuture<Worker.Aggregate> result : results) {
            Engine.assertSameAggregate(Await.get(result).values(), expected);
        }
    }

    /** The honest workers and the raw attacker's honest gradient: the round completes with all four. */
    private static void runHonestRound(Engine engine, List<Engine.Client> honest, RawWorker attacker, long round,
            float[][] g) throws Exception {
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int w = 0; w < honest.size(); w++) {
            results.add(honest.get(w).exchange(round, g[w]));
        }
        for (int k = 0; k < attacker.chunks(); k++) {
            assertThat(attacker.sendChunk(round, k, g[attacker.slot])).isNull();
        }
        float[] expected = engine.offline(g);
        for (CompletableFuture<Worker.Aggregate> result : results) {
            Engine.assertSameAggregate(Await.get(result).values(), expected);
        }
        Engine.assertSameAggregate(Await.get(attacker.result(round).aggregate), expected);
    }

    /** The client sends its gradient, then takes each aggregate chunk only after {@code ackMs}. */
    private static CompletableFuture<Worker.Aggregate> slowExchange(Vertx vertx, Engine.Client client, long round,
            float[] gradient, long ackMs) {
        return Await.on(client.context(), () -> client.worker().exchange(round,
                (offset, count, dst) -> System.arraycopy(gradient, (int) offset, dst, 0, count),
                (offset, values, count) -> ackMs > 0 ? vertx.timer(ackMs, TimeUnit.MILLISECONDS).<Void>mapEmpty()
                        : Future.<Void>succeededFuture(), Future.succeededFuture()));
    }

    /** Sends a frame on the bus and returns the aggregator's refusal (fails if it was accepted). */
    private static ReplyException refusal(Vertx vertx, JobConfig job, io.vertx.core.buffer.Buffer frame)
            throws Exception {
        CompletableFuture<Object> reply = vertx.eventBus().request(new Addresses(job.job()).chunks(), frame)
                .map(m -> (Object) m).toCompletionStage().toCompletableFuture();
        assertThatThrownBy(() -> reply.get(60, TimeUnit.SECONDS)).cause().isInstanceOf(ReplyException.class);
        return (ReplyException) reply.handle((v, e) -> e).get();
    }

    private static long elapsedMs(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
