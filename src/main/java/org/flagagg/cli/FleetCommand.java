package org.flagagg.cli;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.config.InputException;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.config.JobServer;
import org.flagagg.server.Server;
import org.flagagg.sim.LoadTest;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;
import org.flagagg.worker.WsTransport;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What `loadtest` and `worker` share: simulated workers driving an aggregator for R rounds, a progress bar,
 * a table and a JSON report. The aggregator is in this JVM (embedded), in a child JVM joined over the
 * cluster (`loadtest --cluster`), or already running in the cluster (`worker --cluster`).
 */
abstract class FleetCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    JobOptions job;

    @Mixin
    ClusterOptions cluster;

    @Mixin
    FleetOptions fleet;

    @Mixin
    TestDeadlinesOption testDeadlines;

    @Option(names = "--server-jvm", paramLabel = "OPTS", split = " ", defaultValue = "-Xmx1g",
            description = "JVM options of the aggregator's child JVM with --cluster (default: ${DEFAULT-VALUE}, plus "
                    + "-XX:MaxDirectMemorySize of the memory budget + 256 MiB).")
    List<String> serverJvm;

    @Option(names = "--server-wait", paramLabel = "S", description = "With --cluster: how long to wait for the "
            + "job's aggregator to be in the cluster before giving up (default: 30, cluster.server_wait_s).")
    Integer serverWait;

    /** True: with --cluster, start the aggregator in a child JVM; false: it is already in the cluster. */
    abstract boolean startsServer();

    @Option(names = "--transport", paramLabel = "bus|link|ws", description = "How the simulated workers reach the "
            + "aggregator: the event bus, the data link (TCP beside the bus; the aggregate comes once per JVM) or "
            + "WebSockets through the gateway (loadtest only; WebSocket workers with generated tokens). Default: link with "
            + "--cluster, bus embedded.")
    String transport;

    @Override
    public Integer call() throws Exception {
        FlagLayer flags = new FlagLayer();
        job.addTo(flags);
        cluster.addTo(flags);
        flags.put("cluster.server_wait_s", serverWait);
        if (job.roundLog == null) {
            flags.put("round_log", ""); // loadtest and worker keep a round log only when asked (--round-log)
        }
        String via = transport != null ? transport : cluster.enabled ? "link" : "bus";
        boolean ws = via.equals("ws");
        if (!List.of("bus", "link", "ws").contains(via)) {
            throw new InputException("--transport must be bus, link or ws, got '" + via + "'");
        }
        if (ws && cluster.enabled && !startsServer()) {
            throw new InputException("--transport ws needs the aggregator's gateway: use it with loadtest");
        }
        JsonObject json = Configuration.load(job.conf, System.getenv(), flags.json());
        PrintWriter err = spec.commandLine().getErr();
        int workers = json.getInteger("workers");
        // WebSocket workers w0..w(P-1) get fresh tokens; the aggregator's gateway gets their hashes.
        Map<String, String> tokens = ws ? TokenTable.generate(IntStream.range(0, workers).mapToObj(s -> "w" + s).toList())
                : Map.of();
        Path tokensFile = null;
        Path secretFile = null;
        ServerProcess child = null;
        Server embedded = null;
        LinkClient link = null;
        Vertx vertx = null;
        try {
            if (ws) {
                tokensFile = Files.createTempFile("flagagg-tokens-", ".txt");
                TokenTable.write(tokensFile, tokens);
                // Every simulated worker connects from this host: the gateway's connection bounds must fit them all.
                int connections = Math.max(json.getJsonObject("ws").getInteger("max_connections"), workers + 16);
                json.getJsonObject("ws").put("tokens", tokensFile.toString()).put("tls_keystore", "")
                        .put("max_connections_per_address", connections).put("max_connections", connections);
                json.getJsonObject("http").put("host", "127.0.0.1").put("port", 0);
            }
            if (cluster.enabled && startsServer() && json.getJsonObject("cluster").getString("secret").isEmpty()) {
                // The child server and these workers share a secret made for this run.
                secretFile = Files.createTempFile("flagagg-secret-", ".txt");
                Files.writeString(secretFile, JobSecret.newSecretText() + "\n");
                json.getJsonObject("cluster").put("secret", secretFile.toString());
            }
            ServerConfig settings = ServerConfig.parse(json);
            JobConfig config = settings.job();
            // Workers in this JVM prove the secret; an embedded data link gets one that lives in memory.
            JobSecret secret = cluster.enabled ? Server.jobSecret(settings, true) : JobSecret.random();
            ClusterConfig member = settings.cluster();
            String wsUrl = null;
            if (cluster.enabled && startsServer()) {
                String name = "flagagg-load-" + ProcessHandle.current().pid();
                JsonObject serverConfig = json.copy();
                serverConfig.getJsonObject("cluster").put("name", name).put("port", 0);
                serverConfig.getJsonObject("http").put("port", 0);
                List<String> jvm = new java.util.ArrayList<>(serverJvm);
                jvm.add("-XX:MaxDirectMemorySize=" + ((config.memoryBudget() >> 20) + 256) + "m");
                child = ServerProcess.start(serverConfig, jvm, testDeadlines.args());
                wsUrl = child.wsUrl();
                member = member.joining(name, List.of(child.member()), 0);
            }
            // Clustered, the server is another JVM: this one only runs workers and holds no cluster data. Until a
            // server member is there each join attempt fails, and Vert.x would log every one as an ERROR trace.
            ClusterConfig joining = member;
            Cluster.Node node = cluster.enabled
                    ? Main.withLoggerOff("io.vertx.core.impl.VertxImpl",
                            () -> Cluster.startWorkerNode(joining, config.job()).await())
                    : Cluster.start(member, false).await();
            vertx = node.vertx();
            // Clustered, the job's server is in another JVM: find it (bounded) and stop if it leaves the cluster.
            Future<String> serverGone = Promise.<String>promise().future();
            if (cluster.enabled) {
                JobServer.Holder holder = JobServer.find(node, config.job(), member.serverWaitS() * 1000).await();
                serverGone = JobServer.gone(node, config.job(), holder);
            } else {
                embedded = Server.deploy(vertx, settings, new Server.Parts(via.equals("link"), ws, false), secret,
                        testDeadlines.deadlines()).await();
                wsUrl = embedded.workersUrl();
            }
            LoadTest load = new LoadTest(vertx, config, fleet.toConfig(), fleet.rounds, fleet.verify)
                    .withWarmup(fleet.warmup).onProgress((done, total) -> progress(err, done, total));
            if (load.fleet().stragglers().delaysSending() && config.quorum() == config.workers()) {
                err.println("note: the quorum is all " + config.workers() + " workers, so a late worker is waited for "
                        + "(or the round fails at its deadline) and never counts as a straggler: give --quorum below " + config.workers()
                        + " and a --deadline-ms below the delay");
            }
            if (via.equals("link")) {
                LinkClient client = link = LinkClient.connect(vertx, config.job(), secret).await();
                load.withWorkers((v, slot) -> Worker.join(v, config.job(), "w" + slot, config.dim(), slot, client));
            } else if (via.equals("bus") && cluster.enabled) {
                load.withWorkers((v, slot) -> Worker.join(v, config.job(), "w" + slot, config.dim(), slot, null,
                        secret));
            }
            if (ws) {
                String url = wsUrl;
                load.withWorkers((v, slot) -> Worker.connect(v, url, tokens.get("w" + slot), config.dim(),
                        new WsTransport.Options().setSlot(slot)));
            }
            if (embedded != null) {
                load.withStores(embedded.stores());
            }
            progress(err, 0, fleet.warmup + fleet.rounds);
            Promise<JsonObject> outcome = Promise.promise();
            load.run().onComplete(outcome);
            serverGone.onSuccess(reason -> outcome.tryFail(new IllegalStateException(reason)));
            JsonObject report;
            try {
                report = outcome.future().await();
            } catch (RuntimeException e) {
                ProgressLine.end(err);
                if (child != null) {
                    printServerLog(err, child.logTail(SERVER_LOG_LINES));
                }
                throw e;
            }
            ProgressLine.end(err);
            report.put("transport", (cluster.enabled ? "clustered" : "embedded") + ", " + via);
            if (child != null) {
                report.put("server_peak_rss_mb", child.peakRssMb());
                if (report.getInteger("failed_rounds") > 0 || report.containsKey("error")
                        || report.getBoolean("timed_out", false)) {
                    report.put("server_log", new JsonArray(child.logTail(SERVER_LOG_LINES)));
                }
            }
            printTable(spec.commandLine().getOut(), report);
            if (report.containsKey("server_log")) {
                printServerLog(err, report.getJsonArray("server_log").stream().map(String::valueOf).toList());
            }
            if (report.getBoolean("timed_out", false) && !report.containsKey("error")) {
                err.printf("%s: timed out after %.0f s waiting for round %d's aggregate from the aggregator of job '%s' "
                        + "(%d of %d rounds done)%n", spec.name(), report.getDouble("wall_s"), report.getInteger("rounds"),
                        config.job(), report.getInteger("rounds"), report.getInteger("rounds_requested"));
            }
            if (fleet.json != null) {
                Files.writeString(fleet.json, report.encodePrettily() + "\n");
            }
            return report.containsKey("error") || report.getBoolean("timed_out", false) ? Main.EXIT_FAILURE : 0;
        } finally {
            if (link != null) {
                link.close().await();
            }
            if (embedded != null) {
                embedded.close().await();
            }
            if (vertx != null) {
                vertx.close().await();
            }
            if (child != null) {
                child.close();
            }
            if (tokensFile != null) {
                Files.deleteIfExists(tokensFile);
            }
            if (secretFile != null) {
                Files.deleteIfExists(secretFile);
            }
        }
    }

    /** Lines of the child server's log shown (and put in the report) when a clustered run has failures. */
    static final int SERVER_LOG_LINES = 20;
    /** Failed rounds listed in the table; the JSON report has them all. */
    static final int FAILURES_SHOWN = 5;

    private static void printServerLog(PrintWriter err, List<String> lines) {
        err.println(lines.isEmpty() ? "the aggregator server's log is empty"
                : "the aggregator server's last " + lines.size() + " log lines:");
        lines.forEach(line -> err.println("  " + line));
        err.flush();
    }

    private static void progress(PrintWriter err, int done, int total) {
        ProgressLine.draw(err, total == 0 ? 1 : (double) done / total, done + "/" + total + " rounds");
    }

    static void printTable(PrintWriter out, JsonObject r) {
        JsonObject latency = r.getJsonObject("latency_ms", new JsonObject());
        String[][] rows = {
            {"transport", r.getString("transport")},
            {"rule / workers / dim", r.getString("rule") + " / " + r.getInteger("workers") + " / " + r.getLong("dim")},
            {"chunk", fmt(r.getDouble("chunk_kib")) + " KiB"},
            {"rounds (completed / failed)", r.getInteger("rounds") + " (" + r.getInteger("completed_rounds") + " / "
                + r.getInteger("failed_rounds") + ")"},
            {"rounds per second", fmt(r.getDouble("rounds_per_s"))},
            {"gradient data in", fmt(r.getDouble("gbps")) + " GB/s over whole rounds, "
                + fmt(r.getDouble("transfer_gbps")) + " GB/s while receiving"},
            {"round latency p50 / p95 / p99", fmt(latency.getDouble("p50")) + " / " + fmt(latency.getDouble("p95"))
                + " / " + fmt(latency.getDouble("p99")) + " ms"},
            {"byzantine / attack", r.getInteger("byzantine") + " / " + r.getString("attack")},
            {"stragglers / excluded", r.getValue("stragglers") + " / " + r.getValue("excluded")},
            {"peak heap / RSS", fmt(r.getDouble("peak_heap_mb")) + " / " + fmt(r.getDouble("peak_rss_mb")) + " MiB"
                + (r.containsKey("server_peak_rss_mb") ? " (server RSS " + fmt(r.getDouble("server_peak_rss_mb")) + ")" : "")},
            {"max relative error", r.getInteger("verified_rounds", 0) > 0 ? String.format("%.3g over %d rounds",
                r.getDouble("max_rel_error"), r.getInteger("verified_rounds")) : "not verified"},
        };
        for (String[] row : rows) {
            out.printf("%-30s %s%n", row[0], row[1]);
        }
        JsonArray shards = r.getJsonArray("shards", new JsonArray());
        for (int k = 0; shards.size() > 1 && k < shards.size(); k++) {
            JsonObject shard = shards.getJsonObject(k);
            JsonArray columns = shard.getJsonArray("columns");
            out.printf("%-30s %s MB in, fold %s + output %s ms%s (per round)%n",
                    "shard " + shard.getInteger("shard") + " [" + columns.getValue(0) + ", " + columns.getValue(1) + ")",
                    fmt(shard.getDouble("bytes_in") / 1e6), fmt(shard.getDouble("fold_ms")), fmt(shard.getDouble("output_ms")),
                    shard.containsKey("store_peak_held_mb") ? ", store peak " + fmt(shard.getDouble("store_peak_held_mb")) + " MiB" : "");
        }
        JsonArray failures = r.getJsonArray("failures", new JsonArray());
        for (int k = 0; k < Math.min(failures.size(), FAILURES_SHOWN); k++) {
            JsonObject failure = failures.getJsonObject(k);
            out.printf("%-30s %s%n", "failed round " + failure.getLong("round"), failure.getString("reason"));
        }
        if (failures.size() > FAILURES_SHOWN) {
            out.printf("%-30s %d more in the JSON report (--json)%n", "", failures.size() - FAILURES_SHOWN);
        }
        if (r.containsKey("error")) {
            out.printf("%-30s %s%n", "error", r.getString("error"));
        }
        out.flush();
    }

    private static String fmt(Double value) {
        return value == null || value.isNaN() ? "-" : String.format(value >= 100 ? "%.0f" : "%.3g", value);
    }
}
