package org.flagagg.web;

import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.engine.Deadlines;
import org.flagagg.round.ChunkStore;
import org.flagagg.sim.Fleet;
import org.flagagg.wire.Addresses;
import org.flagagg.worker.Worker;

/**
 * Test fixture: Vert.x with Micrometer metrics, an aggregator with the dashboard on an HTTP server (port
 * 0), and simulated workers (a {@link Fleet}) that run rounds on one driver context.
 */
final class DashboardFixture implements AutoCloseable {

    final Metrics metrics = new Metrics();
    final Vertx vertx;
    final JobConfig job;
    final ChunkStore store;
    final AggregatorVerticle aggregator;
    final String deployment;
    final Dashboard dashboard;
    final HttpServer server;
    final Fleet fleet;
    final Context driver;
    final List<Worker> workers = new ArrayList<>();
    final Map<Long, CompletableFuture<JsonObject>> records = new ConcurrentHashMap<>();
    final Map<Long, CompletableFuture<Void>> released = new ConcurrentHashMap<>();
    private volatile boolean stopped;

    /** {@code overrides} on top of small test defaults (job name, p = 5, dim 3000, chunks of 500). */
    DashboardFixture(Path dir, JsonObject overrides, Fleet.Config fleetConfig) throws Exception {
        this(dir, overrides, fleetConfig, Deadlines.timers());
    }

    /** ... whose rounds close at their deadlines as {@code deadlines} says. */
    DashboardFixture(Path dir, JsonObject overrides, Fleet.Config fleetConfig, Deadlines deadlines) throws Exception {
        vertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(metrics.vertxOptions()))
                .withMetrics(metrics.vertxFactory()).build();
        JsonObject json = new JsonObject()
                .put("job", "dash" + Long.toHexString(System.nanoTime()))
                .put("workers", 5).put("dim", 3000).put("chunk_coords", 500)
                .put("deadline", new JsonObject().put("mode", "fixed").put("max_ms", 30_000))
                .put("memory_budget_mb", 1).put("slab_kib", 64).put("spill_dir", dir.resolve("spill").toString())
                .put("round_log", dir.resolve("rounds.jsonl").toString())
                .put("result_timeout_ms", 30_000);
        job = JobConfig.fromJson(json.mergeIn(overrides, true));
        store = new ChunkStore(job.memoryBudget(), job.slabBytes(), job.spillDir());
        Addresses addresses = new Addresses(job.job());
        await(vertx.eventBus().<JsonObject>localConsumer(addresses.rounds(),
                m -> recordOf(m.body().getLong("round")).complete(m.body())).completion());
        await(vertx.eventBus().<Long>localConsumer(addresses.released(), m -> releasedOf(m.body()).complete(null))
                .completion());
        aggregator = new AggregatorVerticle(job, store, null, deadlines);
        deployment = await(vertx.deployVerticle(aggregator));
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, job.roundLog());
        dashboard = Dashboard.mount(api.router(), vertx, job, store, aggregator, metrics);
        await(dashboard.following());
        server = await(api.listen(new HttpServerOptions().setHost("127.0.0.1").setPort(0)));
        fleet = new Fleet(fleetConfig, job.workers(), job.dim());
        driver = vertx.getOrCreateContext();
        for (int slot = 0; slot < job.workers(); slot++) {
            int s = slot;
            workers.add(await(on(() -> Worker.join(vertx, job.job(), "w" + s, job.dim(), s))));
        }
    }

    int port() {
        return server.actualPort();
    }

    CompletableFuture<JsonObject> recordOf(long round) {
        return records.computeIfAbsent(round, r -> new CompletableFuture<>());
    }

    CompletableFuture<Void> releasedOf(long round) {
        return released.computeIfAbsent(round, r -> new CompletableFuture<>());
    }

    /** Runs one round; the slots in {@code silent} send nothing (stragglers). Waits for its record and release. */
    JsonObject round(long round, int... silent) throws Exception {
        await(on(() -> exchangeAll(round, silent)));
        JsonObject record = recordOf(round).get(Await.WAIT_S, TimeUnit.SECONDS);
        releasedOf(round).get(Await.WAIT_S, TimeUnit.SECONDS);
        return record;
    }

    private Future<Void> exchangeAll(long round, int... silent) {
        List<Future<?>> all = new ArrayList<>();
        for (Worker w : workers) {
            boolean quiet = false;
            for (int s : silent) {
                quiet |= s == w.slot();
            }
            all.add(w.exchange(round, fleet.reader(round, w.slot()), (offset, values, count) -> Future.succeededFuture(),
                    quiet ? Future.failedFuture("silent") : Future.succeededFuture()));
        }
        return Future.all(all).mapEmpty();
    }

    /** Runs rounds 0, 1, ... one after another, {@code pauseMs} apart (so a watcher sees them), until closed. */
    void runForever(long pauseMs) {
        driver.runOnContext(v -> loop(0, pauseMs));
    }

    private void loop(long round, long pauseMs) {
        if (stopped) {
            return;
        }
        exchangeAll(round).onComplete(ar -> vertx.setTimer(pauseMs, t -> loop(round + 1, pauseMs)));
    }

    /** Runs {@code action} on the driver context. */
    <T> Future<T> on(java.util.function.Supplier<Future<T>> action) {
        Promise<T> promise = Promise.promise();
        driver.runOnContext(v -> action.get().onComplete(promise));
        return promise.future();
    }

    @Override
    public void close() throws Exception {
        stopped = true;
        try {
            await(dashboard.close());
            await(vertx.close());
        } finally {
            store.close();
        }
    }
}
