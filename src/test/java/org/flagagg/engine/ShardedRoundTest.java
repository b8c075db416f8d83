package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.rules.Rules;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.Codes;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A job's columns split over S aggregator shards gives the same round as one aggregator, to the byte: the same
 * aggregate and the same round record for S = 1, 2, 3 and every rule, with chunks in random order, a
 * straggler and a worker excluded on the last shard only. The shards agree on one set of participants; a
 * shard that fails fails the round for everyone, and the next round runs.
 */
@ExtendWith(VertxExtension.class)
class ShardedRoundTest {
    private static final int P = 7;
    /** dim 1000 in chunks of 64: 16 columns, so S = 3 owns [0, 5), [5, 10), [10, 16). */
    private static final int CHUNKS = 16;
    private static final int STRAGGLER = 5;
    private static final int EXCLUDED = 6;
    /** The straggler sends columns [0, 8): all of shard 0 for S = 2, 3, part of shard 1 for S = 3. */
    private static final int STRAGGLER_COLUMNS = 8;

    @TempDir
    Path dir;

    static List<String> rules() {
        return Rules.NAMES;
    }

    /** One round's outcome: every worker's aggregate and the record without timings and per-shard figures. */
    private record Outcome(List<float[]> aggregates, JsonObject record, JsonObject fullRecord) {
    }

    @ParameterizedTest
    @MethodSource("rules")
    void oneTwoAndThreeShardsGiveTheSameAggregateAndRecordToTheByte(String rule, Vertx vertx) throws Exception {
        float[][] g = Engine.gradients(P, 1000, 21);
        List<Outcome> outcomes = new ArrayList<>();
        for (int shards = 1; shards <= 3; shards++) {
            outcomes.add(runRound(vertx, rule, shards, g, dir.resolve("s" + shards)));
        }
        Outcome single = outcomes.get(0);
        assertThat(single.record.getString("status")).isEqualTo("completed");
        assertThat(single.record.getJsonObject("excluded").getString("w" + EXCLUDED)).startsWith("non-finite value NaN");
        assertThat(single.record.getJsonArray("stragglers").getJsonObject(0))
                .isEqualTo(new JsonObject().put("worker", "w" + STRAGGLER).put("chunks", STRAGGLER_COLUMNS).put("of", CHUNKS));
        assertThat(single.fullRecord.containsKey("shards")).isFalse();
        JobConfig job = job(rule, 1, dir.resolve("offline"));
        float[][] participants = new float[STRAGGLER][];
        System.arraycopy(g, 0, participants, 0, STRAGGLER);
        Engine.assertSameAggregate(single.aggregates.get(0), Engine.offline(job, participants));
        for (int s = 1; s < outcomes.size(); s++) {
            Outcome sharded = outcomes.get(s);
            assertThat(sharded.record).as("record with %d shards", s + 1).isEqualTo(single.record);
            for (int w = 0; w < P; w++) {
                assertThat(bits(sharded.aggregates.get(w))).as("worker %d's aggregate with %d shards", w, s + 1)
                        .isEqualTo(bits(single.aggregates.get(0)));
            }
            assertThat(sharded.fullRecord.getJsonArray("shards")).hasSize(s + 1);
        }
        // Bytes in, per shard, add up to the round's.
        JsonObject three = outcomes.get(2).fullRecord;
        long perShard = three.getJsonArray("shards").stream().mapToLong(o -> ((JsonObject) o).getLong("bytes_in")).sum();
        assertThat(perShard).isEqualTo(three.getLong("bytes_in"));
        assertThat(three.getJsonArray("shards").getJsonObject(2).getJsonArray("columns").getList()).containsExactly(10, 16);
    }

    /**
     * Sends every frame of the round over the bus in a seeded random order (each to its shard): workers 0..4
     * whole, the straggler its first columns, the excluded worker all but a NaN in the last column, which goes
     * last but one (followed by worker 0's last column, so the coordinator has heard of the exclusion when
     * worker 0 delivered); closes the round at its deadline once five workers delivered.
     */
    private Outcome runRound(Vertx vertx, String rule, int shards, float[][] g, Path where) throws Exception {
        JobConfig job = job(rule, shards, where);
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            List<RawWorker> workers = new ArrayList<>();
            List<Buffer> frames = new ArrayList<>();
            for (int w = 0; w < P; w++) {
                RawWorker worker = RawWorker.join(vertx, job.job(), "w" + w, job.dim(), w);
                workers.add(worker);
                int columns = w == STRAGGLER ? STRAGGLER_COLUMNS : w == EXCLUDED || w == 0 ? CHUNKS - 1 : CHUNKS;
                for (int k = 0; k < columns; k++) {
                    frames.add(worker.frame(0, k, g[w]));
                }
            }
            Collections.shuffle(frames, new Random(7));
            float[] poisoned = g[EXCLUDED].clone();
            poisoned[(CHUNKS - 1) * 64 + 3] = Float.NaN;
            frames.add(workers.get(EXCLUDED).frame(0, CHUNKS - 1, poisoned));
            frames.add(workers.get(0).frame(0, CHUNKS - 1, g[0]));
            for (int i = 0; i < frames.size(); i++) {
                Integer code = workers.get(0).send(frames.get(i));
                assertThat(code).as("frame %d", i).isEqualTo(i == frames.size() - 2 ? Integer.valueOf(Codes.BAD_CHUNK) : null);
            }
            Await.get(engine.delivered(0, STRAGGLER));
            Await.get(engine.fireDeadline(0));
            List<float[]> aggregates = new ArrayList<>();
            for (RawWorker worker : workers) {
                aggregates.add(Await.get(worker.result(0).aggregate));
            }
            JsonObject full = Await.get(engine.recordOf(0));
            Await.get(engine.releasedOf(0));
            assertThat(engine.store.stats().bytesInMemory()).isZero();
            for (var store : engine.shardStores) {
                assertThat(store.stats().bytesInMemory()).isZero();
            }
            JsonObject record = full.copy();
            record.remove("timings_ms");
            record.remove("shards");
            return new Outcome(aggregates, record, full);
        }
    }

    /** f = 1, but for Bulyan, which needs 4f + 3 inputs and gets the five participants. */
    private static JobConfig job(String rule, int shards, Path where) {
        return Engine.job(new JsonObject().put("workers", P).put("quorum", STRAGGLER).put("shards", shards)
                .put("rule", new JsonObject().put("name", rule).put("f", rule.equals("bulyan") ? 0 : 1)), where);
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }

    @Test
    void aQuorumCountsOnlyWorkersThatDeliveredOnEveryShard(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 4).put("quorum", 3).put("shards", 2), dir);
        float[][] g = Engine.gradients(4, 1000, 5);
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            List<RawWorker> workers = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                workers.add(RawWorker.join(vertx, job.job(), "w" + w, job.dim(), w));
            }
            // Workers 0 and 1 deliver everything; 2 and 3 only shard 0's columns [0, 8).
            for (int w = 0; w < 4; w++) {
                int columns = w < 2 ? CHUNKS : CHUNKS / 2;
                for (int k = 0; k < columns; k++) {
                    assertThat(workers.get(w).sendChunk(0, k, g[w])).isNull();
                }
            }
            Await.get(engine.delivered(0, 2));
            Await.get(engine.fireDeadline(0));
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("status")).isEqualTo("failed");
            assertThat(record.getString("error")).isEqualTo("quorum not reached: 2 of 4 workers delivered, quorum 3");
            assertThat(record.getJsonArray("stragglers")).hasSize(2);
            assertThat(Await.get(workers.get(2).result(0).summary).getString("status")).isEqualTo("failed");
            Await.get(engine.releasedOf(0));
            for (var store : engine.shardStores) {
                assertThat(store.stats().bytesInMemory()).isZero();
            }
        }
    }

    @Test
    void aShardThatFailsFailsTheRoundForEveryWorkerAndTheNextRoundRuns(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 3).put("shards", 3), dir);
        try (Engine engine = Engine.start(vertx, job)) {
            List<Engine.Client> clients = engine.clients(3);
            engine.shards.get(0).failNextControl("close");
            float[][] g = Engine.gradients(3, 1000, 8);
            for (CompletableFuture<Worker.Aggregate> result : Engine.exchangeAll(clients, 0, g)) {
                assertThatThrownBy(() -> Await.get(result)).hasMessageContaining("shard 1: close failed");
            }
            JsonObject failed = Await.get(engine.recordOf(0));
            assertThat(failed.getString("status")).isEqualTo("failed");
            assertThat(failed.getString("error")).contains("shard 1");
            Await.get(engine.releasedOf(0));

            float[][] next = Engine.gradients(3, 1000, 9);
            List<CompletableFuture<Worker.Aggregate>> results = Engine.exchangeAll(clients, 1, next);
            float[] expected = engine.offline(next);
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            assertThat(Await.get(engine.recordOf(1)).getString("status")).isEqualTo("completed");
        }
    }
    @Test
    void aChunkSentToTheWrongShardExcludesItsWorkerOnEveryShard(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 2).put("quorum", 1).put("shards", 2), dir);
        float[][] g = Engine.gradients(2, 1000, 12);
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            RawWorker lost = RawWorker.join(vertx, job.job(), "w0", job.dim(), 0);
            RawWorker whole = RawWorker.join(vertx, job.job(), "w1", job.dim(), 1);
            // Chunk 0 belongs to shard 0; shard 1 refuses it and the coordinator excludes the worker.
            Integer code = Await.get(vertx.eventBus().request(new Addresses(job.job()).chunks(1), lost.frame(0, 0, g[0]))
                    .map(m -> (Integer) null).recover(e -> io.vertx.core.Future.succeededFuture(
                            ((io.vertx.core.eventbus.ReplyException) e).failureCode()))
                    .toCompletionStage().toCompletableFuture());
            assertThat(code).isEqualTo(Codes.BAD_CHUNK);
            for (int k = 0; k < CHUNKS; k++) {
                assertThat(whole.sendChunk(0, k, g[1])).isNull();
            }
            // The coordinator counts the worker as excluded: the round closes without waiting for it (manual
            // deadlines never fire here), and a late chunk of it, once the round is over, is refused.
            JsonObject record = Await.get(engine.recordOf(0));
            assertThat(record.getString("trigger")).isEqualTo("all workers delivered");
            Await.get(engine.releasedOf(0));
            assertThat(lost.sendChunk(0, 1, g[0])).isEqualTo(Codes.ROUND_OVER);
            assertThat(record.getJsonObject("excluded").getString("w0"))
                    .isEqualTo("wrong shape: chunk 0 was sent to the shard of columns [8, 16)");
            assertThat(record.getJsonArray("participants").getList()).containsExactly("w1");
            Engine.assertSameAggregate(Await.get(whole.result(0).aggregate), Engine.offline(job, new float[][] {g[1]}));
        }
    }
    @Test
    void aShardThatSawNothingOfAFailedRoundTakesTheNextOne(Vertx vertx) throws Exception {
        JobConfig job = Engine.job(new JsonObject().put("workers", 3).put("quorum", 2).put("shards", 2), dir);
        float[][] g = Engine.gradients(3, 1000, 13);
        try (Engine engine = Engine.startWithManualDeadlines(vertx, job)) {
            List<Engine.Client> clients = engine.clients(2);
            RawWorker early = RawWorker.join(vertx, job.job(), "w2", job.dim(), 2);
            // Round 0 gets one chunk, on shard 0, and fails at its deadline: shard 1 never saw it.
            assertThat(early.sendChunk(0, 0, g[2])).isNull();
            Await.get(engine.fireDeadline(0));
            assertThat(Await.get(engine.recordOf(0)).getString("status")).isEqualTo("failed");
            Await.get(engine.releasedOf(0));
            // Round 1: shard 1 takes its chunks (not 425), and the round closes with the two workers.
            List<CompletableFuture<Worker.Aggregate>> results = Engine.exchangeAll(clients, 1, g);
            Await.get(engine.delivered(1, 2));
            Await.get(engine.fireDeadline(1));
            float[] expected = engine.offline(new float[][] {g[0], g[1]});
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Engine.assertSameAggregate(Await.get(result).values(), expected);
            }
            assertThat(Await.get(engine.recordOf(1)).getString("status")).isEqualTo("completed");
        }
    }
}
