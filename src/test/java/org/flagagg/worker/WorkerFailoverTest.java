package org.flagagg.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.flagagg.Await;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.config.ServerConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.Engine;
import org.flagagg.server.Server;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Workers follow their job across a failover (issue 17): the job's server dies mid-round, the exchanges in
 * flight fail with {@link Worker.AggregatorLostException}, and once a server for the job is back the workers
 * join it again by themselves (bus workers of a worker node: through the cluster; WebSocket workers: their
 * second URL) and its rounds' aggregates are the mean of the gradients. A refusal is never retried, and with
 * no server coming back the re-join gives up after its bound with a clear message.
 */
class WorkerFailoverTest {
    private static final int DIM = 300;
    private static final int WORKERS = 4;

    @TempDir
    Path dir;

    private final List<Runnable> cleanup = new ArrayList<>();

    @AfterEach
    void close() {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).run();
        }
    }

    private void closing(Vertx vertx) {
        cleanup.add(() -> {
            try {
                await(vertx.close());
            } catch (Exception e) {
                // Already closed (a killed server): nothing left to release.
            }
        });
    }

    private static String name() {
        return "failover-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    /** A 4-worker mean job on port {@code httpPort}, tokens and secret from {@code dir}; clustered on name/members. */
    private ServerConfig config(String job, int httpPort, String cluster, String... members) throws Exception {
        Path secret = dir.resolve("secret.txt");
        if (!Files.exists(secret)) {
            Files.writeString(secret, JobSecret.newSecretText() + "\n");
        }
        JsonObject json = Configuration.defaults().mergeIn(new JsonObject()
                .put("job", job).put("workers", WORKERS).put("dim", DIM).put("chunk_coords", 64)
                .put("rule", new JsonObject().put("name", "mean"))
                .put("deadline", new JsonObject().put("mode", "fixed").put("max_ms", 30_000))
                .put("memory_budget_mb", 8).put("slab_kib", 64).put("spill_dir", dir.resolve("spill").toString())
                .put("round_log", "").put("jit_warmup", false)
                .put("http", new JsonObject().put("port", httpPort))
                .put("ws", new JsonObject().put("tokens", dir.resolve("tokens.txt").toString()))
                .put("cluster", new JsonObject().put("name", cluster).put("port", 0).put("secret", secret.toString())
                        .put("members", new JsonArray(List.of((Object[]) members)))), true);
        return ServerConfig.parse(json);
    }

    private Map<String, String> tokens() throws Exception {
        Map<String, String> tokens = TokenTable.generate(List.of("w0", "w1", "w2", "w3"));
        TokenTable.write(dir.resolve("tokens.txt"), tokens);
        return tokens;
    }

    /** A port free now, for the standby's gateway: the workers must know its URL before it starts (loopback). */
    private static int freePort() throws Exception {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    /** The job's server dies abruptly: its Hazelcast member without a goodbye, then its Vert.x. */
    private static void kill(Server server) throws Exception {
        server.node().manager().getHazelcastInstance().getLifecycleService().terminate();
        await(server.close());
    }

    /** The mean of the rows, in double, as float32: what a mean job's aggregate must be. */
    private static float[] mean(float[][] rows) {
        float[] mean = new float[rows[0].length];
        for (int k = 0; k < mean.length; k++) {
            double sum = 0;
            for (float[] row : rows) {
                sum += row[k];
            }
            mean[k] = (float) (sum / rows.length);
        }
        return mean;
    }

    @Test
    void busAndWebSocketWorkersFollowTheJobToItsNextServer() throws Exception {
        String cluster = name();
        String job = "follow";
        Map<String, String> tokens = tokens();
        // A data member that outlives both servers holds the cluster's maps, as a standby server would.
        Cluster.Node bystander = await(Cluster.start(ClusterConfig.fromJson(Configuration.defaults()
                .getJsonObject("cluster").copy().put("name", cluster).put("port", 0)), true));
        closing(bystander.vertx());
        Server first = await(Server.start(config(job, 0, cluster, bystander.member()), true));
        closing(first.vertx());
        int standbyPort = freePort();
        Server[] second = new Server[1];
        cleanup.add(() -> {
            if (second[0] != null) {
                second[0].close();
            }
        });

        ServerConfig settings = first.config();
        JobSecret secret = Server.jobSecret(settings, true);
        Cluster.Node node = await(Cluster.startWorkerNode(ClusterConfig.fromJson(Configuration.defaults()
                .getJsonObject("cluster").copy().put("name", cluster).put("port", 0)
                .put("members", new JsonArray(List.of(bystander.member())))), job));
        closing(node.vertx());
        assertThat(VertxInternals.clusterManager(node.vertx())).as("the worker node's Hazelcast manager").isNotNull();
        Vertx wsVertx = Vertx.vertx();
        closing(wsVertx);

        // The standby's URL first: nothing answers there yet, so the first join goes on to the second URL.
        List<String> urls = List.of("ws://127.0.0.1:" + standbyPort + "/v1/workers", first.workersUrl());
        LinkClient link = await(LinkClient.connect(node.vertx(), job, secret));
        cleanup.add(() -> link.close());
        // Slot 0 on the event bus, slot 1 on the node's data link, slots 2 and 3 over WebSockets.
        List<Engine.Client> workers = new ArrayList<>();
        for (int slot = 0; slot < WORKERS; slot++) {
            int s = slot;
            Context context = slot < 2 ? node.vertx().getOrCreateContext() : wsVertx.getOrCreateContext();
            Worker worker = Await.get(Await.on(context, () -> s < 2
                    ? Worker.join(node.vertx(), job, "w" + s, DIM, s, s == 1 ? link : null, secret)
                    : Worker.connect(wsVertx, urls, tokens.get("w" + s), DIM, new WsTransport.Options().setSlot(s))));
            workers.add(new Engine.Client(context, worker));
        }

        // Round 0 with the first server.
        float[][] g0 = Engine.gradients(WORKERS, DIM, 170);
        roundIsTheMean(workers, 0, g0);

        // Round 1: three workers send, the fourth holds back so the round stays open; then the server dies.
        float[][] g1 = Engine.gradients(WORKERS, DIM, 171);
        List<CompletableFuture<Worker.Aggregate>> inFlight = new ArrayList<>();
        for (int slot = 0; slot < 3; slot++) {
            inFlight.add(workers.get(slot).exchange(1, g1[slot]));
        }
        inFlight.add(holdingBack(workers.get(3), 1));
        kill(first);
        for (CompletableFuture<Worker.Aggregate> exchange : inFlight) {
            assertThatThrownBy(() -> Await.get(exchange)).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(Worker.AggregatorLostException.class)
                    .hasMessageStartingWith("aggregator lost: ");
        }

        // The standby takes the job over: every worker joins it by itself at its next exchange.
        second[0] = await(Server.start(config(job, standbyPort, cluster, bystander.member()), true));
        List<Long> next = new ArrayList<>();
        for (Engine.Client client : workers) {
            next.add(Await.get(Await.on(client.context(), () -> client.worker().ready())));
        }
        long round = next.get(0);
        for (Engine.Client client : workers) {
            assertThat(client.worker().rejoins()).isEqualTo(1);
            assertThat(client.worker().session().getLong("round")).as("the next round is the new server's")
                    .isEqualTo(round);
        }
        assertThat(next).containsOnly(round);
        for (int k = 0; k < 2; k++) {
            roundIsTheMean(workers, round + k, Engine.gradients(WORKERS, DIM, 180 + k));
        }
        assertThat(workers).extracting(c -> c.worker().slot()).containsExactly(0, 1, 2, 3);
        assertThat(await(link.current())).as("the link worker's node reconnected its link").isNotSameAs(link);

        // No server comes back: a bus worker's re-join gives up after its bound, saying why.
        Engine.Client bus = workers.get(0);
        bus.worker().setFailoverMs(1_000);
        CompletableFuture<Worker.Aggregate> open = holdingBack(bus, round + 2);
        kill(second[0]);
        second[0] = null;
        assertThatThrownBy(() -> Await.get(open)).cause().isInstanceOf(Worker.AggregatorLostException.class);
        float[] gradient = g0[0];
        assertThatThrownBy(() -> Await.get(Await.on(bus.context(), () -> bus.worker().exchange(gradient))))
                .cause().isInstanceOf(Worker.AggregatorLostException.class)
                .hasMessageContaining("within 1000 ms")
                .hasMessageContaining("no aggregator for job 'follow' answered");
    }

    /** An exchange of {@code round} that sends nothing (yet): it waits for the round's result. */
    private static CompletableFuture<Worker.Aggregate> holdingBack(Engine.Client client, long round) {
        return Await.on(client.context(), () -> client.worker().exchange(round, (offset, count, dst) -> { },
                (offset, values, count) -> io.vertx.core.Future.succeededFuture(), io.vertx.core.Promise.promise().future()));
    }

    /** Every worker exchanges {@code round}; each gets the mean of {@code g} and took part. */
    private static void roundIsTheMean(List<Engine.Client> workers, long round, float[][] g) throws Exception {
        List<CompletableFuture<Worker.Aggregate>> exchanges = new ArrayList<>();
        for (int slot = 0; slot < workers.size(); slot++) {
            exchanges.add(workers.get(slot).exchange(round, g[slot]));
        }
        float[] expected = mean(g);
        for (CompletableFuture<Worker.Aggregate> exchange : exchanges) {
            Worker.Aggregate aggregate = Await.get(exchange);
            assertThat(aggregate.round()).isEqualTo(round);
            assertThat(aggregate.included()).isTrue();
            Engine.assertSameAggregate(aggregate.values(), expected);
        }
    }
}
