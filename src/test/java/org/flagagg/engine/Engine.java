package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.Aggregation;
import org.flagagg.round.ArraySource;
import org.flagagg.round.ChunkStore;
import org.flagagg.rules.Rules;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;

/** Test fixture: an aggregator verticle on a chunk store, its round records, and workers on their own contexts. */
public final class Engine implements AutoCloseable {

    final Vertx vertx;
    public final JobConfig job;
    public final ChunkStore store;
    /** The deployed engine (the coordinator when sharded): its {@link AggregatorVerticle#load()} counts what it sent. */
    public final AggregatorVerticle aggregator;
    /** Shards 1..S-1 of a sharded job, each on its own store (empty when unsharded). */
    public final List<AggregatorVerticle> shards = new ArrayList<>();
    final List<ChunkStore> shardStores = new ArrayList<>();
    final List<JsonObject> records = Collections.synchronizedList(new ArrayList<>());
    final Map<Long, CompletableFuture<JsonObject>> recordOf = new ConcurrentHashMap<>();
    final Map<Long, CompletableFuture<Void>> releasedOf = new ConcurrentHashMap<>();

    /** The round deadlines when the test passes them itself ({@link #startWithManualDeadlines}), else null. */
    private final ManualDeadlines manual;

    private Engine(Vertx vertx, JobConfig job, ChunkStore store, JobSecret secret, Deadlines deadlines) {
        this.vertx = vertx;
        this.job = job;
        this.store = store;
        this.manual = deadlines instanceof ManualDeadlines m ? m : null;
        this.aggregator = new AggregatorVerticle(job, 0, store, secret, deadlines);
        for (int k = 1; k < job.shards(); k++) {
            ChunkStore own = new ChunkStore(job.memoryBudget(), job.slabBytes(), job.spillDir().resolve("shard-" + k));
            shardStores.add(own);
            shards.add(new AggregatorVerticle(job, k, own, secret, null));
        }
    }

    /** A job from JSON overrides on top of small test defaults. */
    public static JobConfig job(JsonObject overrides, Path dir) {
        JsonObject json = new JsonObject()
                .put("job", "t" + Long.toHexString(System.nanoTime()))
                .put("workers", 4).put("dim", 1000).put("chunk_coords", 64)
                .put("deadline", new JsonObject().put("mode", "fixed").put("max_ms", 30_000))
                .put("memory_budget_mb", 1).put("slab_kib", 64).put("spill_dir", dir.resolve("spill").toString())
                .put("round_log", dir.resolve("rounds.jsonl").toString())
                .put("result_timeout_ms", 30_000);
        return JobConfig.fromJson(json.mergeIn(overrides, true));
    }

    public static Engine start(Vertx vertx, JobConfig job) throws Exception {
        return start(vertx, job, (JobSecret) null);
    }

    /** An engine that workers in other JVMs join with a proof of {@code secret} (null: they cannot). */
    public static Engine start(Vertx vertx, JobConfig job, JobSecret secret) throws Exception {
        return start(vertx, job, secret, Deadlines.timers());
    }

    /** An engine on these round deadlines, e.g. {@link Deadlines#waitingFor} the workers a test expects in. */
    public static Engine start(Vertx vertx, JobConfig job, Deadlines deadlines) throws Exception {
        return start(vertx, job, null, deadlines);
    }

    /**
     * An engine whose round deadlines pass only at {@link #fireDeadline}: a test closes a round at its deadline
     * once the workers it means to include delivered ({@link #delivered}), however loaded the machine.
     */
    public static Engine startWithManualDeadlines(Vertx vertx, JobConfig job) throws Exception {
        return start(vertx, job, null, new ManualDeadlines());
    }

    private static Engine start(Vertx vertx, JobConfig job, JobSecret secret, Deadlines deadlines)
            throws Exception {
        ChunkStore store = new ChunkStore(job.memoryBudget(), job.slabBytes(), job.spillDir());
        Engine engine = new Engine(vertx, job, store, secret, deadlines);
        Addresses addresses = new Addresses(job.job());
        var records = vertx.eventBus().<JsonObject>consumer(addresses.rounds(), m -> {
            engine.records.add(m.body());
            engine.recordOf(m.body().getLong("round")).complete(m.body());
        });
        var released = vertx.eventBus().<Long>consumer(addresses.released(),
                m -> engine.releasedOf(m.body()).complete(null));
        await(Future.all(records.completion(), released.completion()));
        for (AggregatorVerticle shard : engine.shards) {
            await(vertx.deployVerticle(shard));
        }
        await(vertx.deployVerticle(engine.aggregator));
        return engine;
    }

    /** Completes once {@code workers} workers stored their whole gradient of open round {@code round}. */
    public CompletableFuture<Void> delivered(long round, int workers) {
        return aggregator.whenDelivered(round, workers).toCompletionStage().toCompletableFuture();
    }

    /**
     * How long round {@code round}'s deadline runs, as the engine last armed it; -1 if none is armed (an engine
     * from {@link #startWithManualDeadlines} only).
     */
    public long deadlineMs(long round) {
        return manual.armedMs(round);
    }

    /** Passes round {@code round}'s deadline (an engine from {@link #startWithManualDeadlines} only). */
    public CompletableFuture<Void> fireDeadline(long round) {
        return manual.fire(round).toCompletionStage().toCompletableFuture();
    }

    public CompletableFuture<JsonObject> recordOf(long round) {
        return recordOf.computeIfAbsent(round, r -> new CompletableFuture<>());
    }

    public CompletableFuture<Void> releasedOf(long round) {
        return releasedOf.computeIfAbsent(round, r -> new CompletableFuture<>());
    }

    /** A Worker living on its own event-loop context, as in a worker verticle. */
    public Client client(String id, int slot) throws Exception {
        return client(id, slot, null);
    }

    /** {@link #client(String, int)} whose chunks go over a worker node's data link (null: the event bus only). */
    public Client client(String id, int slot, LinkClient link) throws Exception {
        Context context = vertx.getOrCreateContext();
        Worker client = Await.get(Await.on(context, () -> Worker.join(vertx, job.job(), id, job.dim(), slot, link)));
        return new Client(context, client);
    }

    /** Workers "w0".."w{n-1}" in slots 0..n-1, each on its own context. */
    public List<Client> clients(int n) throws Exception {
        List<Client> clients = new ArrayList<>();
        for (int w = 0; w < n; w++) {
            clients.add(client("w" + w, w));
        }
        return clients;
    }

    /** Client i exchanges gradients[i] in {@code round}; the futures in client order. */
    public static List<CompletableFuture<Worker.Aggregate>> exchangeAll(List<Client> clients, long round,
            float[][] gradients) {
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int i = 0; i < clients.size(); i++) {
            results.add(clients.get(i).exchange(round, gradients[i]));
        }
        return results;
    }

    public record Client(Context context, Worker worker) {
        public CompletableFuture<Worker.Aggregate> exchange(long round, float[] gradient) {
            return Await.on(context, () -> worker.exchange(round, gradient));
        }
    }

    /** The offline aggregate of these gradients (rows in slot order) with the job's rule, as float32. */
    public float[] offline(float[][] gradients) throws Exception {
        return offline(job, gradients);
    }

    /** The offline aggregate of these gradients (rows in slot order) with {@code job}'s rule, as float32. */
    public static float[] offline(JobConfig job, float[][] gradients) throws Exception {
        float[] out = new float[(int) job.dim()];
        new Aggregation(Rules.create(job.rule()), job.chunkCoords(), Kernels.best()).run(new ArraySource(gradients),
                (offset, values, len) -> {
                    for (int k = 0; k < len; k++) {
                        out[(int) offset + k] = (float) values[k];
                    }
                });
        return out;
    }

    /** p gradients of dimension n: most near a shared direction, the last two far off (Byzantine-like). */
    public static float[][] gradients(int p, int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] direction = new float[n];
        for (int k = 0; k < n; k++) {
            direction[k] = (float) random.nextGaussian();
        }
        float[][] g = new float[p][n];
        for (int i = 0; i < p; i++) {
            for (int k = 0; k < n; k++) {
                g[i][k] = i < p - 2 ? direction[k] + 0.3f * (float) random.nextGaussian() : -5f * direction[k]
                        + (float) random.nextGaussian();
            }
        }
        return g;
    }

    /** Equal to float precision: within 1e-5 of the largest expected magnitude (at least 1). */
    public static void assertSameAggregate(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double scale = 1;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int k = 0; k < expected.length; k++) {
            assertThat((double) actual[k]).as("coordinate " + k).isCloseTo(expected[k],
                    org.assertj.core.data.Offset.offset(1e-5 * scale));
        }
    }

    @Override
    public void close() {
        store.close();
        shardStores.forEach(ChunkStore::close);
    }
}
