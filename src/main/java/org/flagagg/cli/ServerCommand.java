package org.flagagg.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.Cluster;
import org.flagagg.config.InputException;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.engine.JobState;
import org.flagagg.server.Server;
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

    @Mixin
    TestDeadlinesOption testDeadlines;

    @Option(names = "--shard-host", description = "Serve no job: run the shards that job servers of the cluster "
            + "place here ('server --cluster --shards S' places shards 1..S-1 round-robin on the shard hosts it "
            + "finds, else runs them itself). Needs --cluster and the job secret (--cluster-secret FILE).")
    boolean shardHost;

    @Option(names = "--standby", description = "With --cluster: when the job has a server already, wait and take the "
            + "job over when that server's member leaves the cluster (after --cluster-failure-timeout), resuming "
            + "its round sequence, instead of refusing to start. Nothing listens here until then "
            + "(default: standby, false).")
    Boolean standby;

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

    /** The keys these flags set: the command line's configuration layer. */
    FlagLayer flags(Map<String, String> env) {
        FlagLayer flags = new FlagLayer();
        job.addTo(flags);
        cluster.addTo(flags);
        ws.addTo(flags, env);
        return flags.put("http.host", httpHost).put("http.port", httpPort).put("http.read_tokens", readTokens)
                .put("http.metrics_open", metricsOpen).put("link.port", linkPort).put("standby", standby);
    }

    @Override
    public Integer call() throws Exception {
        ServerConfig config = ServerConfig.load(job.conf, System.getenv(), flags(System.getenv()).json());
        if (shardHost) {
            return runShardHost(config);
        }
        String host = config.http().host();
        if (config.http().readTokens() == null && !Cluster.loopback(host)) {
            spec.commandLine().getErr().printf("server: warning: the HTTP server binds %s without read tokens: the "
                    + "dashboard, /rounds, /events and /metrics are open to anyone who reaches it (--read-tokens FILE)%n",
                    host);
        }
        PrintWriter out = spec.commandLine().getOut();
        JobConfig job = config.job();
        boolean standing = config.standby() && cluster.enabled;
        if (standing) {
            out.printf("standby for job '%s': waiting to take it over%n", job.job());
            out.flush();
        }
        Server server = Server.start(config, cluster.enabled, testDeadlines.deadlines()).await();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.close().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Exiting anyway.
            } finally {
                stopped.countDown();
            }
        }, "flagagg-shutdown"));
        JobState.Resume resume = server.resume();
        if (resume != null && resume.followed()) {
            out.printf("%s job '%s' at round %d (%d round records kept in the cluster, %d rounds lost with the "
                    + "previous server)%n", standing ? "took over" : "resumed", job.job(), resume.nextRound(),
                    resume.records().size() - resume.lost(), resume.lost());
        }
        job = server.job();
        out.printf("aggregator ready: job '%s', rule %s, %d workers, dim %d, %s; rounds at %s://%s:%d/rounds%n",
                job.job(), job.rule().name(), job.workers(), job.dim(),
                server.node().member() == null ? "embedded" : "cluster member " + server.node().member(),
                config.ws().tls() ? "https" : "http", host, server.httpPort());
        out.printf("listening on %s%n", server.workersUrl());
        if (server.linkPort() >= 0) {
            out.printf("data link for worker nodes on %s:%d%n", config.cluster().host(), server.linkPort());
        }
        out.printf("dashboard at http://%s:%d/ (metrics at /metrics, readiness at /ready)%n", host, server.httpPort());
        out.flush();
        stopped.await();
        return 0;
    }

    /** A shard host until stopped: one line when ready, nothing of its own to serve. */
    private int runShardHost(ServerConfig config) throws Exception {
        if (!cluster.enabled) {
            throw new InputException("--shard-host serves shards of a cluster's jobs: it needs --cluster");
        }
        Cluster.Node node = Server.startShardHost(config).await();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.vertx().close().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Exiting anyway.
            } finally {
                stopped.countDown();
            }
        }, "flagagg-shutdown"));
        PrintWriter out = spec.commandLine().getOut();
        out.printf("shard host ready: cluster member %s; job servers place shards here%n", node.member());
        out.flush();
        stopped.await();
        return 0;
    }
}
