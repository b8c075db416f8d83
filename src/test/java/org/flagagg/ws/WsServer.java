package org.flagagg.ws;

import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.flagagg.Await;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.Engine;
import org.flagagg.round.ChunkStore;
import org.flagagg.web.HttpApi;
import org.flagagg.wire.Addresses;
import org.flagagg.worker.Worker;
import org.flagagg.worker.WsTransport;

/**
 * Test fixture: an aggregator verticle, the HTTP server with the gateway on a free loopback port, tokens for
 * workers "w0".."w9", round records by id, and clients of both kinds on their own contexts.
 */
public final class WsServer implements AutoCloseable {

    public final Vertx vertx;
    public final JobConfig job;
    final ChunkStore store;
    public final Gateway gateway;
    final HttpServer http;
    public final String url;
    final Map<String, String> tokens = new LinkedHashMap<>();
    private final Map<Long, CompletableFuture<JsonObject>> records;
    private final Map<Long, CompletableFuture<Void>> released;

    private WsServer(Vertx vertx, JobConfig job, ChunkStore store, Gateway gateway, HttpServer http,
            Map<Long, CompletableFuture<JsonObject>> records, Map<Long, CompletableFuture<Void>> released) {
        this.records = records;
        this.released = released;
        this.vertx = vertx;
        this.job = job;
        this.store = store;
        this.gateway = gateway;
        this.http = http;
        this.url = gateway.url("127.0.0.1", http.actualPort());
    }

    /** A job from JSON overrides on top of small test defaults. */
    public static JobConfig job(JsonObject overrides, Path dir) {
        JsonObject json = new JsonObject()
                .put("job", "ws" + Long.toHexString(System.nanoTime()))
                .put("workers", 4).put("dim", 1000).put("chunk_coords", 64)
                .put("deadline", new JsonObject().put("mode", "fixed").put("max_ms", 30_000))
                .put("memory_budget_mb", 1).put("slab_kib", 64).put("spill_dir", dir.resolve("spill").toString())
                .put("round_log", "")
                .put("result_timeout_ms", 30_000);
        return JobConfig.fromJson(json.mergeIn(overrides, true));
    }

    public static WsServer start(Vertx vertx, JobConfig job, GatewayConfig config) throws Exception {
        return start(vertx, job, config, Deadlines.timers());
    }

    /** A server whose rounds close at their deadlines as {@code deadlines} says. */
    public static WsServer start(Vertx vertx, JobConfig job, GatewayConfig config, Deadlines deadlines)
            throws Exception {
        Map<String, String> tokens = new LinkedHashMap<>();
        for (int w = 0; w < 10; w++) {
            tokens.put("w" + w, TokenTable.newToken());
        }
        ChunkStore store = new ChunkStore(job.memoryBudget(), job.slabBytes(), job.spillDir());
        Addresses addresses = new Addresses(job.job());
        Map<Long, CompletableFuture<JsonObject>> recordOf = new ConcurrentHashMap<>();
        Map<Long, CompletableFuture<Void>> releasedOf = new ConcurrentHashMap<>();
        var records = vertx.eventBus().<JsonObject>consumer(addresses.rounds(),
                m -> recordOf.computeIfAbsent(m.body().getLong("round"), r -> new CompletableFuture<>()).complete(m.body()));
        var released = vertx.eventBus().<Long>consumer(addresses.released(),
                m -> releasedOf.computeIfAbsent(m.body(), r -> new CompletableFuture<>()).complete(null));
        await(Future.all(records.completion(), released.completion()));
        await(vertx.deployVerticle(new AggregatorVerticle(job, store, null, deadlines)));
        Gateway gateway = new Gateway(vertx, job, TokenTable.ofTokens(tokens), config);
        HttpApi api = new HttpApi(vertx);
        gateway.mount(api);
        HttpServer http = await(api.listen(gateway.serverOptions(new HttpServerOptions().setHost("127.0.0.1").setPort(0))));
        WsServer server = new WsServer(vertx, job, store, gateway, http, recordOf, releasedOf);
        server.tokens.putAll(tokens);
        return server;
    }

    public CompletableFuture<JsonObject> recordOf(long round) {
        return records.computeIfAbsent(round, r -> new CompletableFuture<>());
    }

    public CompletableFuture<Void> releasedOf(long round) {
        return released.computeIfAbsent(round, r -> new CompletableFuture<>());
    }

    public String token(int worker) {
        return tokens.get("w" + worker);
    }

    /** A client on its own context, of either transport. */
    public record Client(Context context, org.flagagg.worker.Worker worker) {
        public CompletableFuture<Worker.Aggregate> exchange(long round, float[] gradient) {
            return Await.on(context, () -> worker.exchange(round, gradient));
        }
    }

    Client busClient(int worker) throws Exception {
        Context context = vertx.getOrCreateContext();
        return new Client(context, Await.get(Await.on(context, () -> Worker.join(vertx, job.job(), "w" + worker, job.dim(), worker))));
    }

    public Client wsClient(int worker) throws Exception {
        return wsClient(worker, new WsTransport.Options().setSlot(worker));
    }

    Client wsClient(int worker, WsTransport.Options options) throws Exception {
        Context context = vertx.getOrCreateContext();
        return new Client(context, Await.get(Await.on(context, () -> Worker.connect(vertx, url, token(worker), job.dim(), options))));
    }

    public RawWs raw(String token) throws Exception {
        return RawWs.connect(vertx, url, token, null);
    }

    /**
     * The Python client's directory (client/python), for PYTHONPATH; the test is skipped (with the reason)
     * where python3 cannot import it with numpy and websockets.
     */
    static Path pythonClient() throws Exception {
        Path client = Path.of("client/python").toAbsolutePath();
        ProcessBuilder probe = new ProcessBuilder("python3", "-c", "import flagagg, numpy, websockets")
                .redirectErrorStream(true);
        probe.environment().put("PYTHONPATH", client.toString());
        Process check = probe.start();
        boolean usable = check.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) && check.exitValue() == 0;
        org.junit.jupiter.api.Assumptions.assumeTrue(usable, "python3 with numpy and websockets is needed "
                + "(.ci/run installs client/python before the Maven tests)");
        return client;
    }

    /** The offline aggregate of these rows with the job's rule, as float32. */
    public float[] offline(float[][] gradients) throws Exception {
        return Engine.offline(job, gradients);
    }

    /** p gradients of dimension n: most near a shared direction, the last two far off. */
    public static float[][] gradients(int p, int n, long seed) {
        return Engine.gradients(p, n, seed);
    }

    static float[][] rows(float[][] g, int... slots) {
        List<float[]> rows = new ArrayList<>();
        for (int s : slots) {
            rows.add(g[s]);
        }
        return rows.toArray(new float[0][]);
    }

    @Override
    public void close() throws Exception {
        await(http.close());
        store.close();
    }
}
