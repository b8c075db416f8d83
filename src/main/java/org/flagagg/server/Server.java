package org.flagagg.server;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.Cluster;
import org.flagagg.config.InputException;
import org.flagagg.config.JobConfig;
import org.flagagg.config.JobServer;
import org.flagagg.config.ServerConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.engine.ShardHost;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.JobState;
import org.flagagg.engine.RoundLog;
import org.flagagg.engine.ShardKeeper;
import org.flagagg.link.LinkServer;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.Warmup;
import org.flagagg.rules.Rules;
import org.flagagg.web.Dashboard;
import org.flagagg.web.HttpApi;
import org.flagagg.web.Metrics;
import org.flagagg.web.RoundsApi;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;
import org.flagagg.ws.Gateway;

/**
 * The one place an aggregator node is put together from a {@link ServerConfig}: Vert.x (embedded or a
 * cluster member, with metrics), the chunk store, the aggregator, the data link, the HTTP server with the
 * WebSocket gateway, GET /rounds, the dashboard and /metrics. `flagagg server` runs all of it
 * ({@link #start}); loadtest, worker and the demo deploy the parts they need on their own Vert.x
 * ({@link #deploy}).
 *
 * <p>What an operator could get wrong in the files it names (the tokens files, the TLS key store, the job
 * secret) is checked before anything starts, each failure one line naming the file (exit code 2); a failed
 * start leaves nothing deployed.
 *
 * <p>A sharded job's shards 1..S-1 run here beside the coordinator, or on the cluster's shard hosts when it
 * finds any ({@link ShardHost}); {@link #startShardHost} starts such a host.
 *
 * <p>Over 400 lines: every way a node is composed (server, embedded parts, shard host) stays in this one
 * composition root.
 */
public final class Server {
    /** How long closing waits for a Vert.x that {@link #start} started. */
    private static final long CLOSE_WAIT_S = 10;

    /**
     * What runs beside the aggregator and its chunk store.
     *
     * @param link      the data link for worker nodes in other JVMs, on cluster.host:link.port
     * @param http      the HTTP server on http.host:http.port with the WebSocket gateway
     * @param dashboard with http: GET /rounds, the dashboard, /metrics and the read tokens
     */
    public record Parts(boolean link, boolean http, boolean dashboard) {
        /** The aggregator and its store only: workers join over the event bus. */
        public static final Parts ENGINE = new Parts(false, false, false);
    }

    private final Vertx vertx;
    private final ServerConfig config;
    private final ChunkStore store;
    /** The coordinator's store first, then those of the shards embedded here. */
    private final List<ChunkStore> stores;
    private final AggregatorVerticle aggregator;
    private final List<String> deployed;
    private final Cluster.Node node;
    private final LinkServer link;
    private final HttpServer http;
    private final Gateway gateway;
    /** Where a clustered server started its job (round id, records copied), else null. */
    private final JobState.Resume resume;

    private Server(Vertx vertx, ServerConfig config, List<ChunkStore> stores, AggregatorVerticle aggregator,
            List<String> deployed, Cluster.Node node, LinkServer link, HttpServer http, Gateway gateway,
            JobState.Resume resume) {
        this.vertx = vertx;
        this.config = config;
        this.store = stores.get(0);
        this.stores = List.copyOf(stores);
        this.aggregator = aggregator;
        this.deployed = List.copyOf(deployed);
        this.node = node;
        this.link = link;
        this.http = http;
        this.gateway = gateway;
        this.resume = resume;
    }

    /**
     * Starts Vert.x (a cluster member when {@code clustered}, with metrics), claims the job in the cluster
     * (one server per job) and deploys every part: the data link when clustered, the HTTP server, gateway and
     * dashboard always. {@link #close} stops Vert.x too.
     */
    public static Future<Server> start(ServerConfig config, boolean clustered) {
        return start(config, clustered, Deadlines.timers());
    }

    /** {@link #start(ServerConfig, boolean)} with these round deadlines ({@link Deadlines#timers()} but in tests). */
    public static Future<Server> start(ServerConfig config, boolean clustered, Deadlines deadlines) {
        Parts parts = new Parts(clustered, true, true);
        Wiring wiring;
        try {
            wiring = Wiring.of(config, parts, clustered, null);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        Metrics metrics = new Metrics();
        // Completed off Vert.x's contexts: after a failed start they are closed, and a future bound to one
        // would never hand on its failure.
        Promise<Server> started = Promise.promise();
        metrics.startVertx(config.cluster(), clustered).onFailure(started::fail).onSuccess(node -> {
            String job = config.job().job();
            Future<?> claimed = !clustered ? Future.succeededFuture()
                    : config.standby() ? JobServer.await(node, job) : JobServer.claim(node, job);
            if (clustered && config.standby() && config.jitWarmup()) {
                // While it waits, a standby warms up for its job's rule, so a take-over does not run cold.
                node.vertx().executeBlocking(() -> warmUp(config.job()), false);
            }
            claimed.compose(lock -> clustered ? resume(node.vertx(), config) : Future.succeededFuture(null))
                    .compose(resumed -> resumed == null || !resumed.resume().followed() ? Future.succeededFuture(resumed)
                            : ShardKeeper.untilForgotten(node.vertx(), new Addresses(job).engine(resumed.job().shards()),
                                    resumed.job().shardTimeoutMs()).map(resumed))
                    .compose(resumed -> build(node.vertx(), resumed == null ? config : config.withJob(resumed.job()),
                            parts, wiring, node, metrics, deadlines, resumed))
                    .onSuccess(started::complete)
                    .onFailure(e -> closeOwned(node.vertx(), () -> { }).onComplete(closed -> started.fail(e)));
        });
        return started.future();
    }

    /**
     * Where a clustered server starts its job ({@link JobState}): from round 0 when the job is new to the
     * cluster, else where the job's previous server left it (a standby with the job's stored configuration, a
     * server started by hand with its own); the job's records it does not have yet go into its round log first
     * (those of the rounds that server lost, failed).
     */
    private static Future<Resumed> resume(Vertx vertx, ServerConfig config) {
        JobConfig own = config.job();
        return JobState.open(vertx, own.job(), config.recordsKept()).compose(state -> state.resume(own,
                "the job's previous server left the cluster", config.standby()).compose(resume -> {
                    Path log = resume.job().roundLog();
                    if (log == null || resume.records().isEmpty()) {
                        return Future.succeededFuture(new Resumed(state, resume));
                    }
                    return vertx.executeBlocking(() -> {
                        if (log.getParent() != null) {
                            Files.createDirectories(log.getParent());
                        }
                        List<JsonObject> tail = RoundLog.tail(log, 1).records();
                        long last = tail.isEmpty() ? -1 : tail.get(0).getLong("round", -1L);
                        for (JsonObject record : resume.records()) {
                            if (record.getLong("round") > last) {
                                RoundLog.append(log, RoundLog.line(record));
                            }
                        }
                        return new Resumed(state, resume);
                    }, false);
                }));
    }

    /** A clustered server's job state, and where it resumed. */
    private record Resumed(JobState state, JobState.Resume resume) {
        JobConfig job() {
            return resume.job();
        }
    }

    /**
     * Closes a Vert.x that {@link #start} started, from a thread of its own, then runs {@code after}. The
     * future is bound to no context: those of the closed Vert.x run nothing any more.
     */
    private static Future<Void> closeOwned(Vertx vertx, Runnable after) {
        Promise<Void> closed = Promise.promise();
        new Thread(() -> {
            try {
                vertx.close().toCompletionStage().toCompletableFuture().get(CLOSE_WAIT_S, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Going on regardless: the process is stopping, or the start failed for another reason.
            } finally {
                after.run();
                closed.complete();
            }
        }, "flagagg-close").start();
        return closed.future();
    }

    /**
     * Deploys the aggregator and {@code parts} on {@code vertx}; the data link proves {@code secret} (null:
     * cluster.secret). {@link #close} undeploys them and leaves Vert.x running.
     */
    public static Future<Server> deploy(Vertx vertx, ServerConfig config, Parts parts, JobSecret secret) {
        return deploy(vertx, config, parts, secret, Deadlines.timers());
    }

    /** {@link #deploy(Vertx, ServerConfig, Parts, JobSecret)} with these round deadlines (tests). */
    public static Future<Server> deploy(Vertx vertx, ServerConfig config, Parts parts, JobSecret secret,
            Deadlines deadlines) {
        Wiring wiring;
        try {
            wiring = Wiring.of(config, parts, false, secret);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return build(vertx, config, parts, wiring, null, null, deadlines, null);
    }

    /** The aggregator and its chunk store alone, for {@code job} (the demo, load tests). */
    public static Future<Server> deploy(Vertx vertx, JobConfig job) {
        return deploy(vertx, job, Deadlines.timers());
    }

    /** {@link #deploy(Vertx, JobConfig)} with these round deadlines (tests). */
    public static Future<Server> deploy(Vertx vertx, JobConfig job, Deadlines deadlines) {
        return deploy(vertx, ServerConfig.defaults().withJob(job), Parts.ENGINE, null, deadlines);
    }

    /**
     * Starts a shard host ({@code server --shard-host}): a cluster member that serves no job of its own but
     * runs the shards other servers of the cluster place on it ({@link ShardHost}), proven with the job
     * secret (cluster.secret). Closing the returned node's Vert.x stops it.
     */
    public static Future<Cluster.Node> startShardHost(ServerConfig config) {
        JobSecret secret;
        try {
            secret = jobSecret(config, true);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        Promise<Cluster.Node> started = Promise.promise();
        new Metrics().startVertx(config.cluster(), true).onFailure(started::fail).onSuccess(node ->
                node.vertx().deployVerticle(new ShardHost(node, secret, config.job().spillDir()))
                        .onSuccess(id -> started.complete(node))
                        .onFailure(e -> closeOwned(node.vertx(), () -> { }).onComplete(closed -> started.fail(e))));
        return started.future();
    }

    /** What the parts need that is read from files: checked before anything starts. */
    private record Wiring(JobSecret secret, TokenTable workerTokens, TokenTable readTokens) {
        static Wiring of(ServerConfig config, Parts parts, boolean clustered, JobSecret given) {
            JobSecret secret = given != null ? given : jobSecret(config, clustered);
            if (parts.link() && secret == null) {
                throw new InputException("the data link needs the job secret: cluster.secret (--cluster-secret FILE)");
            }
            TokenTable workers = null;
            TokenTable readers = null;
            if (parts.http()) {
                workers = config.ws().tokens() == null ? TokenTable.empty() : TokenTable.read(config.ws().tokens());
                if (config.ws().tls()) {
                    checkKeystore(config.ws().tlsKeystore(), config.ws().tlsPassword());
                }
                readers = parts.dashboard() ? readers(config.http().readTokens()) : null;
            }
            return new Wiring(secret, workers, readers);
        }
    }

    /**
     * A sharded job in a cluster places shards 1..S-1 round-robin on the shard hosts it finds (members that
     * run {@code server --shard-host}); without any (or embedded, or without a job secret) it runs them here.
     */
    private static Future<Server> build(Vertx vertx, ServerConfig config, Parts parts, Wiring wiring,
            Cluster.Node node, Metrics metrics, Deadlines deadlines, Resumed resumed) {
        boolean placeable = config.job().shards() > 1 && wiring.secret() != null && VertxInternals.clusterActive(vertx);
        return (placeable ? ShardHost.find(vertx) : Future.succeededFuture(List.<String>of()))
                .compose(hosts -> build(vertx, config, parts, wiring, node, metrics, deadlines, resumed, hosts));
    }

    private static Future<Server> build(Vertx vertx, ServerConfig config, Parts parts, Wiring wiring,
            Cluster.Node node, Metrics metrics, Deadlines deadlines, Resumed resumed, List<String> hosts) {
        JobConfig job = config.job();
        ChunkStore store;
        try {
            store = new ChunkStore(job.memoryBudget(), job.slabBytes(), job.spillDir());
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        // Every shard starts where the job resumed (0 unless this server took the job over).
        long nextRound = resumed == null ? 0 : resumed.resume().nextRound();
        // A sharded job embedded here: shards 1..S-1 beside the coordinator, each on its own store (and budget).
        List<ChunkStore> stores = new ArrayList<>(List.of(store));
        List<AggregatorVerticle> shards = new ArrayList<>();
        try {
            for (int k = 1; k < job.shards() && hosts.isEmpty(); k++) {
                ChunkStore own = new ChunkStore(job.memoryBudget(), job.slabBytes(), job.spillDir().resolve("shard-" + k));
                stores.add(own);
                AggregatorVerticle shard = new AggregatorVerticle(job, k, own, wiring.secret(), null);
                shard.restore(AggregatorVerticle.startingAt(nextRound));
                shards.add(shard);
            }
        } catch (RuntimeException e) {
            stores.forEach(ChunkStore::close);
            return Future.failedFuture(e);
        }
        // Shards on other members: the job's messages that cross to them carry this token.
        String shardToken = hosts.isEmpty() ? null : JobSecret.nonce();
        AggregatorVerticle aggregator = new AggregatorVerticle(job, 0, store, wiring.secret(), deadlines, shardToken);
        if (resumed != null) {
            aggregator.jobState(resumed.state(), nextRound);
        }
        // On a worker thread while the aggregator deploys; the link and HTTP (/ready) only after (round.Warmup).
        Future<?> warmed = config.jitWarmup() ? vertx.executeBlocking(() -> warmUp(job), false)
                : Future.succeededFuture();
        LinkServer link = parts.link() ? new LinkServer(job, wiring.secret(), config.cluster().host(),
                config.link().port(), LinkServer.Limits.of(config.link())).shardToken(shardToken) : null;
        Gateway gateway = parts.http() ? new Gateway(vertx, job, wiring.workerTokens(), config.ws()).shardToken(shardToken)
                : null;
        List<String> deployed = new ArrayList<>();
        Future<Void> shardsUp = Future.succeededFuture();
        for (AggregatorVerticle shard : shards) {
            shardsUp = shardsUp.compose(x -> vertx.deployVerticle(shard).onSuccess(deployed::add).mapEmpty());
        }
        if (!hosts.isEmpty()) {
            // On the shard hosts, kept there (placed again when a host is lost) while the job runs.
            ShardKeeper keeper = new ShardKeeper(job, hosts, shardToken, wiring.secret(), aggregator, nextRound);
            shardsUp = shardsUp.compose(x -> vertx.deployVerticle(keeper).onSuccess(deployed::add).mapEmpty());
        }
        // The coordinator last: its joins reach every shard.
        Future<HttpServer> started = shardsUp.compose(x -> vertx.deployVerticle(aggregator)).compose(id -> {
            deployed.add(id);
            return warmed;
        }).compose(x -> link == null ? Future.succeededFuture() : listening(vertx.deployVerticle(link)
                .onSuccess(deployed::add), "data link", config.cluster().host(), config.link().port())
        ).compose(x -> gateway == null ? Future.succeededFuture()
                : listen(vertx, config, parts, wiring, gateway, store, aggregator, metrics));
        return started.map(http -> new Server(vertx, config, stores, aggregator, deployed, node, link, http, gateway,
                resumed == null ? null : resumed.resume()))
                .recover(e -> undeploy(vertx, deployed, stores).transform(x -> Future.failedFuture(e)));
    }

    /** The JIT warm-up for the job's rule and worker count, once per JVM (round.Warmup). */
    private static Object warmUp(JobConfig job) {
        return Warmup.once(Rules.create(job.rule()), job.workers(), Kernels.best());
    }

    /** The HTTP server: the gateway, and with the dashboard part GET /rounds, the dashboard and /metrics. */
    private static Future<HttpServer> listen(Vertx vertx, ServerConfig config, Parts parts, Wiring wiring,
            Gateway gateway, ChunkStore store, AggregatorVerticle aggregator, Metrics metrics) {
        JobConfig job = config.job();
        HttpApi api = new HttpApi(vertx).open("/ready").open(Gateway.PATH);
        Future<Void> mounted = Future.succeededFuture();
        if (parts.dashboard()) {
            api.readTokens(wiring.readTokens());
            if (config.http().metricsOpen()) {
                api.open("/metrics");
            }
            RoundsApi.mount(api.router(), vertx, job.roundLog());
        }
        gateway.mount(api);
        if (parts.dashboard()) {
            mounted = Dashboard.mount(api.router(), vertx, job, store, aggregator, metrics).following();
        }
        String host = config.http().host();
        int port = config.http().port();
        return mounted.compose(x -> listening(api.listen(gateway.serverOptions(new HttpServerOptions().setHost(host)
                .setPort(port))), "HTTP server", host, port));
    }

    /** Undeploys (newest first) what was deployed, then closes the store. */
    private static Future<Void> undeploy(Vertx vertx, List<String> deployed, List<ChunkStore> stores) {
        Future<Void> done = Future.succeededFuture();
        for (int i = deployed.size() - 1; i >= 0; i--) {
            String id = deployed.get(i);
            done = done.eventually(() -> vertx.undeploy(id));
        }
        return done.eventually(() -> {
            stores.forEach(ChunkStore::close);
            return Future.succeededFuture();
        });
    }

    /**
     * Stops what this server runs: Vert.x itself when {@link #start} started it, else its HTTP server and
     * verticles; then the chunk store.
     */
    public Future<Void> close() {
        if (node != null) {
            return closeOwned(vertx, () -> stores.forEach(ChunkStore::close));
        }
        Future<Void> stopped = http == null ? Future.succeededFuture() : http.close();
        return stopped.eventually(() -> undeploy(vertx, deployed, stores));
    }

    public Vertx vertx() {
        return vertx;
    }

    public ServerConfig config() {
        return config;
    }

    public JobConfig job() {
        return config.job();
    }

    public ChunkStore store() {
        return store;
    }

    /** The chunk stores of the shards running in this process: the coordinator's first. */
    public List<ChunkStore> stores() {
        return stores;
    }

    public AggregatorVerticle aggregator() {
        return aggregator;
    }

    /** The cluster member when {@link #start}ed, else null. */
    public Cluster.Node node() {
        return node;
    }

    /**
     * Where this clustered server started its job: round 0 of a new job, or where the job's previous server
     * left it; null when embedded.
     */
    public JobState.Resume resume() {
        return resume;
    }

    /** The data link's port, or -1 without one. */
    public int linkPort() {
        return link == null ? -1 : link.actualPort();
    }

    /** The HTTP server's port, or -1 without one. */
    public int httpPort() {
        return http == null ? -1 : http.actualPort();
    }

    /** The WebSocket workers' URL (ws:// or wss://), or null without the HTTP server. */
    public String workersUrl() {
        return http == null ? null : gateway.url(config.http().host(), http.actualPort());
    }

    /** A listen that failed because the address is taken says which one, as one line (exit 2). */
    public static <T> Future<T> listening(Future<T> listen, String what, String host, int port) {
        return listen.recover(e -> {
            Throwable bind = e instanceof BindException ? e : e.getCause() instanceof BindException b ? b : null;
            return Future.failedFuture(bind == null ? e : new InputException("cannot listen on " + host + ":" + port
                    + " for the " + what + ": " + String.valueOf(bind.getMessage()).toLowerCase(Locale.ROOT)
                    + " (choose another port, or 0 for a free one)"));
        });
    }

    /**
     * The job secret of cluster.secret; a clustered server refuses to start without one, since workers in
     * other JVMs could then neither join nor use the data link (and none of them must join unproven).
     */
    public static JobSecret jobSecret(ServerConfig config, boolean clustered) {
        Path file = config.cluster().secret();
        JobSecret secret;
        try {
            secret = file == null ? null : JobSecret.load(file);
        } catch (IllegalArgumentException e) {
            throw new InputException(e.getMessage());
        }
        if (secret == null && clustered) {
            throw new InputException("--cluster needs the job secret that worker nodes prove: --cluster-secret FILE "
                    + "(or cluster.secret, FLAGAGG_CLUSTER__SECRET), a file whose first line is at least "
                    + JobSecret.MIN_CHARS + " characters; 'flagagg certs' writes one");
        }
        return secret;
    }

    /** The read tokens of http.read_tokens, or null (open); a file without tokens is refused, not read as open. */
    private static TokenTable readers(Path file) {
        if (file == null) {
            return null;
        }
        TokenTable table = TokenTable.read(file);
        if (table.size() == 0) {
            // An empty file must not leave open what the operator meant to close.
            throw new InputException("--read-tokens " + file + ": the file lists no tokens ('flagagg token NAME' "
                    + "makes a line)");
        }
        return table;
    }

    /** Opens the key store as PKCS12 with its password, so a wrong file is one line naming it, before anything starts. */
    static void checkKeystore(Path file, String password) {
        if (!Files.isReadable(file)) {
            throw new InputException("--tls-keystore " + file + ": no such readable file");
        }
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore.getInstance("PKCS12").load(in, password == null ? null : password.toCharArray());
        } catch (IOException | GeneralSecurityException e) {
            boolean badPassword = e.getCause() instanceof UnrecoverableKeyException;
            throw new InputException("--tls-keystore " + file + ": " + (badPassword
                    ? "the password is wrong (--tls-password or FLAGAGG_TLS_PASSWORD)"
                    : "not a PKCS12 key store (" + e.getClass().getSimpleName()
                            + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")"));
        }
    }
}
