package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.rules.Rules;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

@ExtendWith(VertxExtension.class)
class AggregatorVerticleTest {

    @TempDir
    Path dir;

    static float[][] firstRows(float[][] g, int count) {
        float[][] rows = new float[count][];
        System.arraycopy(g, 0, rows, 0, count);
        return rows;
    }

    static List<String> rules() {
        return Rules.NAMES;
    }

    @ParameterizedTest
    @MethodSource("rules")
    void everyRuleMatchesTheOfflineAggregate(String rule, Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 7)
                .put("rule", new JsonObject().put("name", rule).put("f", 1)), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 7; w++) {
                clients.add(engine.client("w" + w, w));
            }
            for (long round = 0; round < 2; round++) {
                float[][] g = Engine.gradients(7, (int) job.dim(), 10 + round);
                List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
                for (int w = 0; w < 7; w++) {
                    results.add(clients.get(w).exchange(round, g[w]));
                }
                float[] expected = engine.offline(g);
                for (CompletableFuture<Worker.Aggregate> result : results) {
                    Worker.Aggregate a = Await.get(result);
                    assertThat(a.round()).isEqualTo(round);
                    assertThat(a.included()).isTrue();
                    Engine.assertSameAggregate(a.values(), expected);
                }
                JsonObject record = Await.get(engine.recordOf(round));
                assertThat(record.getString("status")).isEqualTo("completed");
                assertThat(record.getString("rule")).isEqualTo(rule);
                assertThat(record.getJsonArray("participants")).hasSize(7);
                assertThat(record.getString("trigger")).isEqualTo("all workers delivered");
                Await.get(engine.releasedOf(round));
            }
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            // Released implies logged: one JSON line per round, in order.
            List<String> log = Files.readAllLines(job.roundLog());
            assertThat(log).hasSize(2);
            assertThat(new JsonObject(log.get(0)).getLong("round")).isZero();
            assertThat(new JsonObject(log.get(1)).getString("status")).isEqualTo("completed");
        }
    }

    @Test
    void chunksInRandomOrderInterleavedAcrossWorkersGiveTheSameAggregate(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("rule", new JsonObject().put("name", "flag")), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            float[][] g = Engine.gradients(4, (int) job.dim(), 3);
            List<RawWorker> workers = new ArrayList<>();
            List<Buffer> frames = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                RawWorker worker = RawWorker.join(vertx, job.job(), "w" + w, job.dim(), w);
                workers.add(worker);
                for (int k = 0; k < worker.chunks(); k++) {
                    frames.add(worker.frame(0, k, g[w]));
                }
            }
            Collections.shuffle(frames, new Random(5));
            for (Buffer frame : frames) {
                assertThat(workers.get(0).send(frame)).isNull();
            }
            float[] expected = engine.offline(g);
            for (RawWorker worker : workers) {
                Engine.assertSameAggregate(Await.get(worker.result(0).aggregate), expected);
            }
        }
    }

    @Test
    void theDeadlineClosesARoundWithAQuorumAndTheStragglerStillGetsTheAggregate(Vertx vertx) throws Exception {
        // The test passes the deadline itself, once the three it means to include delivered.
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("quorum", 3), dir);
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            float[][] g = Engine.gradients(4, (int) job.dim(), 4);
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                clients.add(engine.client("w" + w, w));
            }
            RawWorker straggler = RawWorker.join(vertx, job.job(), "w3", job.dim(), 3);
            // The straggler sends half its gradient, then goes silent (as if it died).
            int half = straggler.chunks() / 2;
            for (int k = 0; k < half; k++) {
                assertThat(straggler.sendChunk(0, k, g[3])).isNull();
            }
            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                results.add(clients.get(w).exchange(0, g[w]));
            }
            Await.get(engine.delivered(0, 3));
            Await.get(engine.fireDeadline(0));
            float[] expected = engine.offline(firstRows(g, 3));
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            JsonObject summary = Await.get(straggler.result(0).summary);
            assertThat(summary.getBoolean("included")).isFalse();
            assertThat(summary.getString("reason")).startsWith("straggler");
            Engine.assertSameAggregate(Await.get(straggler.result(0).aggregate), expected);

            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("trigger")).startsWith("deadline");
            assertThat(record.getJsonArray("participants")).containsExactly("w0", "w1", "w2");
            assertThat(record.getJsonArray("stragglers").getJsonObject(0).getString("worker")).isEqualTo("w3");
            assertThat(record.getJsonArray("stragglers").getJsonObject(0).getInteger("chunks")).isEqualTo(half);

            // Its late chunks are refused, never mixed into another round.
            assertThat(straggler.sendChunk(0, half, g[3])).isEqualTo(Codes.ROUND_OVER);
            Await.get(engine.releasedOf(0));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
        }
    }

    @Test
    void belowQuorumAtTheDeadlineTheRoundFailsAndTheNextOneRuns(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("quorum", 3), dir);
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                clients.add(engine.client("w" + w, w));
            }
            float[][] g = Engine.gradients(4, (int) job.dim(), 6);
            CompletableFuture<Worker.Aggregate> first = clients.get(0).exchange(0, g[0]);
            CompletableFuture<Worker.Aggregate> second = clients.get(1).exchange(0, g[1]);
            Await.get(engine.delivered(0, 2));
            Await.get(engine.fireDeadline(0));
            for (CompletableFuture<Worker.Aggregate> f : List.of(first, second)) {
                assertThatThrownBy(() -> Await.get(f)).isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(Worker.RoundFailedException.class).hasMessageContaining("quorum");
            }
            JsonObject failed = Await.get(engine.recordOf(0));
            assertThat(failed.getString("status")).isEqualTo("failed");
            assertThat(failed.getString("error")).contains("quorum not reached: 2 of 4");

            float[][] next = Engine.gradients(4, (int) job.dim(), 7);
            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                results.add(clients.get(w).exchange(1, next[w]));
            }
            float[] expected = engine.offline(next);
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            Await.get(engine.releasedOf(0));
            Await.get(engine.releasedOf(1));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bad_crc", "truncated", "wrong_count", "wrong_offset", "index_out_of_range", "nan", "inf",
        "conflicting_duplicate"})
    void aFaultyWorkerIsExcludedWithItsReasonAndTheRoundGoesOn(String fault, Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 5).put("quorum", 4), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            float[][] g = Engine.gradients(5, (int) job.dim(), 8);
            List<Engine.Client> clients = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                clients.add(engine.client("w" + w, w));
            }
            RawWorker faulty = RawWorker.join(vertx, job.job(), "w4", job.dim(), 4);
            assertThat(faulty.sendChunk(0, 0, g[4])).isNull();
            int chunk = job.chunkCoords();
            Buffer bad;
            String expectedReason;
            int expectedCode = Codes.BAD_CHUNK;
            switch (fault) {
                case "bad_crc" -> {
                    bad = faulty.frame(0, 1, g[4]);
                    bad.setByte(ChunkFrame.HEADER_BYTES + 5, (byte) (bad.getByte(ChunkFrame.HEADER_BYTES + 5) ^ 1));
                    expectedCode = Codes.BAD_REQUEST;
                    expectedReason = "BAD_CRC";
                }
                case "truncated" -> {
                    Buffer whole = faulty.frame(0, 1, g[4]);
                    bad = whole.getBuffer(0, whole.length() - 4);
                    expectedCode = Codes.BAD_REQUEST;
                    expectedReason = "BAD_LENGTH";
                }
                case "wrong_count" -> {
                    bad = ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 4, 1, chunk, g[4], chunk, chunk - 1);
                    expectedReason = "wrong shape";
                }
                case "wrong_offset" -> {
                    bad = ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 4, 1, 0, g[4], 0, chunk);
                    expectedReason = "wrong shape";
                }
                case "index_out_of_range" -> {
                    bad = ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 4, 999, 999L * chunk, g[4], 0, chunk);
                    expectedReason = "wrong shape";
                }
                case "nan", "inf" -> {
                    float[] poisoned = g[4].clone();
                    poisoned[chunk + 7] = fault.equals("nan") ? Float.NaN : Float.NEGATIVE_INFINITY;
                    bad = faulty.frame(0, 1, poisoned);
                    expectedReason = "non-finite value " + (fault.equals("nan") ? "NaN" : "-Infinity") + " at coordinate "
                            + (chunk + 7);
                }
                default -> {
                    float[] other = g[4].clone();
                    other[3] += 1;
                    bad = faulty.frame(0, 0, other);
                    expectedReason = "conflicting duplicate of chunk 0";
                }
            }
            assertThat(faulty.send(bad)).isEqualTo(expectedCode);
            // Excluded: anything more it sends for this round is refused.
            assertThat(faulty.sendChunk(0, 2, g[4])).isEqualTo(Codes.EXCLUDED);

            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                results.add(clients.get(w).exchange(0, g[w]));
            }
            float[] expected = engine.offline(firstRows(g, 4));
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("trigger")).isEqualTo("all workers delivered");
            assertThat(record.getJsonObject("excluded").getString("w4")).contains(expectedReason);
            JsonObject summary = Await.get(faulty.result(0).summary);
            assertThat(summary.getBoolean("included")).isFalse();
            assertThat(summary.getString("reason")).startsWith("excluded: ").contains(expectedReason);
            Engine.assertSameAggregate(Await.get(faulty.result(0).aggregate), expected);

            // Nothing leaks: every chunk of the round, the faulty worker's included, is freed.
            Await.get(engine.releasedOf(0));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            try (var files = Files.list(job.spillDir())) {
                assertThat(files).isEmpty();
            }
        }
    }

    @Test
    void anIdenticalRetryIsAcknowledgedAndTheWorkerStaysIn(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 2).put("rule", new JsonObject().put("name", "mean")), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            float[][] g = Engine.gradients(2, (int) job.dim(), 9);
            RawWorker a = RawWorker.join(vertx, job.job(), "a", job.dim(), 0);
            RawWorker b = RawWorker.join(vertx, job.job(), "b", job.dim(), 1);
            for (int k = 0; k < a.chunks(); k++) {
                assertThat(a.sendChunk(0, k, g[0])).isNull();
                assertThat(a.sendChunk(0, k, g[0])).as("retry of chunk " + k).isNull();
                assertThat(b.sendChunk(0, k, g[1])).isNull();
            }
            assertThat(Await.get(a.result(0).summary).getBoolean("included")).isTrue();
            Engine.assertSameAggregate(Await.get(a.result(0).aggregate), engine.offline(g));
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getJsonObject("rejected").getInteger("duplicate_retry")).isEqualTo(a.chunks());
            assertThat(record.getJsonObject("excluded")).isEmpty();
        }
    }

    @Test
    void badRequestsAreRefusedWithAReasonAndHarmNothing(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 2).put("max_open_rounds", 1), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            float[][] g = Engine.gradients(2, (int) job.dim(), 11);
            RawWorker a = RawWorker.join(vertx, job.job(), "a", job.dim(), 0);
            // Garbage, a JSON body, an unknown slot, an aggregate frame sent as a gradient.
            byte[] junk = new byte[57];
            new Random(1).nextBytes(junk);
            assertThat(a.send(Buffer.buffer(junk))).isEqualTo(Codes.BAD_REQUEST);
            assertThat(await(vertx.eventBus().request(new Addresses(job.job()).chunks(), new JsonObject())
                    .map(m -> 0).recover(e -> io.vertx.core.Future.succeededFuture(
                            ((io.vertx.core.eventbus.ReplyException) e).failureCode())))).isEqualTo(Codes.BAD_REQUEST);
            assertThat(a.send(ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 9, 0, 0, g[0], 0, 64)))
                    .isEqualTo(Codes.UNKNOWN_WORKER);
            assertThat(a.send(ChunkFrame.toBuffer(ChunkFrame.KIND_AGGREGATE, 0, 0, 0, 0, g[0], 0, 64)))
                    .isEqualTo(Codes.BAD_REQUEST);
            // Joins: wrong dimension, a taken slot, a full job.
            assertThatThrownBy(() -> RawWorker.join(vertx, job.job(), "x", job.dim() + 1, 1))
                    .hasMessageContaining("dimension mismatch");
            assertThatThrownBy(() -> RawWorker.join(vertx, job.job(), "x", job.dim(), 0)).hasMessageContaining("not free");
            RawWorker b = RawWorker.join(vertx, job.job(), "b", job.dim(), 1);
            assertThatThrownBy(() -> RawWorker.join(vertx, job.job(), "c", job.dim(), -1)).hasMessageContaining("already has");
            // Round 1 cannot open before round 0 closed or a quorum (2) started it; then max_open_rounds (1) holds.
            assertThat(a.sendChunk(0, 0, g[0])).isNull();
            assertThat(a.sendChunk(1, 0, g[0])).isEqualTo(Codes.TOO_EARLY);
            assertThat(b.sendChunk(0, 0, g[1])).isNull();
            assertThat(a.sendChunk(1, 0, g[0])).isEqualTo(Codes.TOO_MANY);
            for (int k = 1; k < a.chunks(); k++) {
                assertThat(a.sendChunk(0, k, g[0])).isNull();
            }
            for (int k = 1; k < b.chunks(); k++) {
                assertThat(b.sendChunk(0, k, g[1])).isNull();
            }
            Engine.assertSameAggregate(Await.get(a.result(0).aggregate), engine.offline(g));
            assertThat(Await.get(engine.recordOf(0)).getJsonObject("excluded")).isEmpty();
            // A chunk for a round that is over.
            assertThat(a.sendChunk(0, 0, g[0])).isEqualTo(Codes.ROUND_OVER);
        }
    }
}
