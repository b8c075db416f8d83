package org.flagagg.cli;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import java.net.BindException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.Cluster;
import org.flagagg.config.Configuration;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.InputException;
import org.flagagg.config.JobConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.engine.JobServer;
import org.flagagg.link.LinkServer;
import org.flagagg.round.ChunkStore;
import org.flagagg.rules.Rules;
import org.flagagg.web.Dashboard;
import org.flagagg.web.HttpApi;
import org.flagagg.web.Metrics;
import org.flagagg.web.RoundsApi;
import org.flagagg.wire.JobSecret;
import org.flagagg.ws.Gateway;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code flagagg server}: an aggregator node for one job, embedded or in a cluster, until stopped. */
@Command(name = "server", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Runs the aggregator of one job until stopped (Ctrl-C or SIGTERM).",
            "Workers join over the event bus: in this JVM, or from other JVMs with --cluster; or over WebSocket at",
            "ws://HOST:PORT/v1/workers (wss:// with --tls-keystore) with a token from --tokens FILE.",
            "Prints one line when ready; round records go to the round log and GET /rounds."})
final class ServerCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    JobOptions job;

    @Mixin
    ClusterOptions cluster;

    @Mixin
    WsOptions ws;

    @Option(names = "--host", paramLabel = "HOST", description = "Interface of the HTTP server (GET /rounds, "
            + "GET /health) (default: 127.0.0.1).")
    String httpHost;

    @Option(names = "--port", paramLabel = "PORT", description = "Port of the HTTP server; 0 picks a free one "
            + "(default: 8080).")
    Integer httpPort;

    @Option(names = "--link-port", paramLabel = "PORT", description = "Port of the data link for worker nodes in "
            + "other JVMs, on the cluster host; 0 picks a free one, announced over the event bus (default: 0).")
    Integer linkPort;

    @Option(names = "--read-tokens", paramLabel = "FILE", description = "Read tokens for the dashboard, /rounds, "
            + "/events and /metrics: one 'NAME SHA256_HEX' a line ('flagagg token NAME' makes one). Without it those "
            + "are open to anyone who reaches the HTTP port (default: http.read_tokens, empty).")
    Path readTokens;

    @Option(names = "--metrics-open", description = "Serve /metrics without a read token (for Prometheus) "
            + "(default: http.metrics_open, false).")
    Boolean metricsOpen;

    @Override
    public Integer call() throws Exception {
        JsonObject json = job.resolve();
        cluster.applyTo(json.getJsonObject("cluster"));
        JsonObject http = json.getJsonObject("http");
        RuleOptions.putIfSet(http, "host", httpHost);
        RuleOptions.putIfSet(http, "port", httpPort);
        RuleOptions.putIfSet(http, "read_tokens", readTokens == null ? null : readTokens.toString());
        RuleOptions.putIfSet(http, "metrics_open", metricsOpen);
        RuleOptions.putIfSet(json.getJsonObject("link"), "port", linkPort);
        Configuration.check(json);
        JobConfig config = JobConfig.fromJson(json);
        Rules.create(config.rule()).validate(config.workers());
        GatewayConfig wsConfig = ws.resolve(json, System.getenv());
        TokenTable tokens = WsOptions.tokenTable(wsConfig);
        JobSecret secret = jobSecret(json, cluster.enabled);
        LinkServer.Limits linkLimits = LinkServer.Limits.fromJson(json.getJsonObject("link"));
        String readers = http.getString("read_tokens");
        TokenTable readTable = readers.isEmpty() ? null : TokenTable.read(Path.of(readers));
        if (readTable != null && readTable.size() == 0) {
            // An empty file must not leave open what the operator meant to close.
            throw new InputException("--read-tokens " + readers + ": the file lists no tokens ('flagagg token NAME' "
                    + "makes a line)");
        }
        String host = http.getString("host");
        if (readTable == null && !isLoopback(host)) {
            spec.commandLine().getErr().printf("server: warning: the HTTP server binds %s without read tokens: the "
                    + "dashboard, /rounds, /events and /metrics are open to anyone who reaches it (--read-tokens FILE)%n",
                    host);
        }

        ChunkStore store = new ChunkStore(config.memoryBudget(), config.slabBytes(), config.spillDir());
        Metrics metrics = new Metrics();
        Cluster.Node node = metrics.startVertx(json.getJsonObject("cluster"), cluster.enabled).await();
        Vertx vertx = node.vertx();
        if (cluster.enabled) {
            // One server per job and cluster: a second one would share the joins round-robin with the first.
            try {
                JobServer.claim(node, config.job()).await();
            } catch (RuntimeException e) {
                vertx.close().await();
                store.close();
                throw e;
            }
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            try {
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Exiting anyway.
            } finally {
                store.close();
                stopped.countDown();
            }
        }, "flagagg-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        HttpServer server;
        LinkServer link;
        Gateway gateway;
        try {
            AggregatorVerticle aggregator = new AggregatorVerticle(config, store, secret);
            vertx.deployVerticle(aggregator).await();
            // The data link is for worker nodes in other JVMs: only a cluster member has any.
            String linkHost = json.getJsonObject("cluster").getString("host");
            int linkPort = json.getJsonObject("link").getInteger("port");
            link = cluster.enabled ? new LinkServer(config, secret, linkHost, linkPort, linkLimits) : null;
            if (link != null) {
                listening(vertx.deployVerticle(link), "data link", linkHost, linkPort).await();
            }
            HttpApi api = new HttpApi(vertx).readTokens(readTable).open("/ready").open(Gateway.PATH);
            if (http.getBoolean("metrics_open")) {
                api.open("/metrics");
            }
            RoundsApi.mount(api.router(), vertx, config.roundLog());
            gateway = new Gateway(vertx, config, tokens, wsConfig);
            gateway.mount(api);
            Dashboard.mount(api.router(), vertx, config, store, aggregator, metrics).following().await();
            server = listening(api.listen(gateway.serverOptions(new HttpServerOptions().setHost(host)
                    .setPort(http.getInteger("port")))), "HTTP server", host, http.getInteger("port")).await();
        } catch (Exception e) {
            // Nothing keeps running after a failed start (tests run the command in their JVM).
            Runtime.getRuntime().removeShutdownHook(hook);
            hook.run();
            throw e;
        }
        spec.commandLine().getOut().printf("aggregator ready: job '%s', rule %s, %d workers, dim %d, %s; "
                + "rounds at %s://%s:%d/rounds%n", config.job(), config.rule().name(), config.workers(), config.dim(),
                node.member() == null ? "embedded" : "cluster member " + node.member(), wsConfig.tls() ? "https" : "http",
                host, server.actualPort());
        spec.commandLine().getOut().printf("listening on %s%n", gateway.url(host, server.actualPort()));
        if (link != null) {
            spec.commandLine().getOut().printf("data link for worker nodes on %s:%d%n",
                    json.getJsonObject("cluster").getString("host"), link.actualPort());
        }
        spec.commandLine().getOut().printf("dashboard at http://%s:%d/ (metrics at /metrics, readiness at /ready)%n",
                host, server.actualPort());
        spec.commandLine().getOut().flush();
        stopped.await();
        return 0;
    }

    /** A listen that failed because the address is taken says which one, as one line (exit 2). */
    static <T> Future<T> listening(Future<T> listen, String what, String host, int port) {
        return listen.recover(e -> {
            Throwable bind = e instanceof BindException ? e : e.getCause() instanceof BindException b ? b : null;
            return Future.failedFuture(bind == null ? e : new InputException("cannot listen on " + host + ":" + port
                    + " for the " + what + ": " + String.valueOf(bind.getMessage()).toLowerCase(Locale.ROOT)
                    + " (choose another port, or 0 for a free one)"));
        });
    }

    static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /**
     * The job secret of cluster.secret; a clustered server refuses to start without one, since workers in
     * other JVMs could then neither join nor use the data link (and none of them must join unproven).
     */
    static JobSecret jobSecret(JsonObject json, boolean clustered) {
        JobSecret secret;
        try {
            secret = JobSecret.fromConfig(json.getJsonObject("cluster"));
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
}
