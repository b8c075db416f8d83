package org.flagagg.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import ch.qos.logback.classic.Level;
import org.flagagg.Await;
import org.flagagg.LogCapture;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.Engine;
import org.flagagg.engine.RoundLog;
import org.flagagg.engine.ShardHost;
import org.flagagg.engine.ShardKeeper;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover in one JVM (members on loopback, a member's death simulated by terminating its Hazelcast instance
 * without a goodbye): a shard host that dies has its shard placed on another and the job goes on with the same
 * workers; a job server that dies is replaced by its standby, which resumes the round sequence and keeps every
 * completed round's record.
 */
class FailoverTest {
    private static final int P = 4;

    @TempDir
    Path dir;

    private final List<Vertx> toClose = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close().toCompletionStage().toCompletableFuture().exceptionally(e -> null).get();
        }
    }

    private static JsonObject clusterSection(String name, String... members) {
        return Configuration.defaults().getJsonObject("cluster").copy().put("name", name).put("port", 0)
                .put("members", new JsonArray(List.of((Object[]) members))).put("failure_timeout_s", 3);
    }

    private Cluster.Node member(String name, String... members) throws Exception {
        Cluster.Node node = await(Cluster.start(ClusterConfig.fromJson(clusterSection(name, members)), true));
        toClose.add(node.vertx());
        return node;
    }

    /** The member dies: its Hazelcast instance stops without leaving the cluster, then its Vert.x. */
    private static void kill(Cluster.Node node) throws Exception {
        node.manager().getHazelcastInstance().getLifecycleService().terminate();
        node.vertx().close().toCompletionStage().toCompletableFuture().exceptionally(e -> null).get();
    }

    /** The mean of the rows, in double, rounded to float: the aggregate of rule "mean". */
    private static float[] mean(float[][] g) {
        float[] out = new float[g[0].length];
        for (int i = 0; i < out.length; i++) {
            double sum = 0;
            for (float[] row : g) {
                sum += row[i];
            }
            out[i] = (float) (sum / g.length);
        }
        return out;
    }

    private static void assertMean(float[] actual, float[][] g) {
        float[] expected = mean(g);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("coordinate %d", i).isCloseTo(expected[i],
                    org.assertj.core.data.Offset.offset(1e-6f * (1 + Math.abs(expected[i]))));
        }
    }

    @Test
    void aLostShardHostsShardIsPlacedAgainAndTheSameWorkersGoOn() throws Exception {
        String name = "failover-shard-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        JobSecret secret = JobSecret.random();
        Cluster.Node first = member(name);
        ShardHost firstHost = new ShardHost(first, secret, dir.resolve("h1"));
        await(first.vertx().deployVerticle(firstHost));
        Cluster.Node server = member(name, first.member());
        Cluster.Node second = member(name, first.member());

        JobConfig job = Engine.job(new JsonObject().put("workers", P).put("shards", 2)
                .put("rule", new JsonObject().put("name", "mean")), dir.resolve("job"));
        await(Server.deploy(server.vertx(), ServerConfig.defaults().withJob(job), Server.Parts.ENGINE, secret,
                Deadlines.timers()));
        assertThat(firstHost.shards()).isEqualTo(1);
        // A shard host that comes later is the spare.
        ShardHost spare = new ShardHost(second, secret, dir.resolve("h2"));
        await(second.vertx().deployVerticle(spare));

        List<Joined> workers = join(server.vertx(), job);
        float[][] g0 = Engine.gradients(P, (int) job.dim(), 1);
        assertMean(exchange(workers, 0, g0).get(0).values(), g0);

        // Round 1 opens with two workers in; the host of shard 1 dies; the round fails, naming what was lost.
        float[][] g1 = Engine.gradients(P, (int) job.dim(), 2);
        List<CompletableFuture<Worker.Aggregate>> round1 = start(workers, 1, g1, 2);
        LogCapture keeper = new LogCapture(ShardKeeper.class.getName());
        kill(first);
        for (CompletableFuture<Worker.Aggregate> exchange : round1) {
            assertThat(exchange).failsWithin(java.time.Duration.ofSeconds(Await.WAIT_S))
                    .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                    .withMessageContaining("aggregator lost: shard 1");
        }
        JsonObject failed = record(server.vertx(), job, 1);
        assertThat(failed.getString("status")).isEqualTo("failed");
        assertThat(failed.getString("error")).startsWith("aggregator lost: shard 1 (shard host ");

        // The spare runs shard 1 now; the same workers (no new join) complete the next rounds.
        until(second.vertx(), () -> Future.succeededFuture(!keeper.messages(Level.INFO, "re-placed").isEmpty()),
                "the server says shard 1 was placed again");
        keeper.close();
        assertThat(spare.shards()).isEqualTo(1);
        for (long round = 2; round < 4; round++) {
            float[][] g = Engine.gradients(P, (int) job.dim(), 10 + round);
            List<Worker.Aggregate> results = exchange(workers, round, g);
            for (Worker.Aggregate a : results) {
                assertMean(a.values(), g);
            }
            assertThat(record(server.vertx(), job, round).getString("status")).isEqualTo("completed");
        }
    }

    @Test
    void aStandbyTakesTheJobOverResumingItsRoundsOnEveryShardAndKeepingItsRecords() throws Exception {
        String name = "failover-standby-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Path secretFile = dir.resolve("secret");
        String secretText = JobSecret.newSecretText();
        Files.writeString(secretFile, secretText + "\n");
        JobSecret secret = JobSecret.of(secretText);
        // A data member that also hosts shard 1 of the (two-shard) job, for one server and then the other.
        Cluster.Node data = member(name);
        ShardHost shardHost = new ShardHost(data, secret, dir.resolve("host"));
        await(data.vertx().deployVerticle(shardHost));
        ServerConfig a = serverConfig(name, data.member(), secretFile, dir.resolve("a"), false);
        Server active = await(Server.start(a, true));
        ServerConfig b = serverConfig(name, data.member(), secretFile, dir.resolve("b"), true);
        Future<Server> standby = Server.start(b, true);
        assertThat(standby.isComplete()).isFalse();

        JobConfig job = a.job();
        Cluster.Node workerNode = member(name, data.member());
        List<Joined> workers = join(workerNode.vertx(), job, secret);
        for (long round = 0; round < 2; round++) {
            float[][] g = Engine.gradients(P, (int) job.dim(), round);
            assertMean(exchange(workers, round, g).get(0).values(), g);
        }
        // Round 2 opens (and the cluster knows it did), then the job's server dies.
        List<CompletableFuture<Worker.Aggregate>> round2 = start(workers, 2, Engine.gradients(P, (int) job.dim(), 2), 2);
        awaitStoredNextRound(data.vertx(), job.job(), 3);
        Vertx activeVertx = active.vertx();
        toClose.add(activeVertx);
        kill(new Cluster.Node(activeVertx, active.node().member(), active.node().manager()));

        Server taken = await(standby);
        toClose.add(taken.vertx());
        assertThat(taken.resume().nextRound()).isEqualTo(3);
        assertThat(taken.resume().lost()).isEqualTo(1);
        List<JsonObject> log = RoundLog.tail(taken.job().roundLog(), 100).records();
        assertThat(log).extracting(r -> r.getLong("round")).containsExactly(0L, 1L, 2L);
        assertThat(log).extracting(r -> r.getString("status")).containsExactly("completed", "completed", "failed");
        assertThat(log.get(2).getString("error")).startsWith("aggregator lost");
        for (CompletableFuture<Worker.Aggregate> exchange : round2) {
            assertThat(exchange).failsWithin(java.time.Duration.ofSeconds(Await.WAIT_S))
                    .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                    .withCauseInstanceOf(Worker.AggregatorLostException.class);
        }

        // The same workers carry on by themselves: each re-joins the new server and exchanges its next round, 3.
        float[][] g3 = Engine.gradients(P, (int) job.dim(), 3);
        List<CompletableFuture<Worker.Aggregate>> round3 = new ArrayList<>();
        for (int w = 0; w < P; w++) {
            Joined joined = workers.get(w);
            float[] gradient = g3[w];
            round3.add(Await.on(joined.context(), () -> joined.worker().exchange(gradient)));
        }
        for (CompletableFuture<Worker.Aggregate> exchange : round3) {
            Worker.Aggregate result = Await.get(exchange);
            assertThat(result.round()).isEqualTo(3);
            assertMean(result.values(), g3);
        }
        assertThat(workers).allSatisfy(j -> assertThat(j.worker().rejoins()).isEqualTo(1));
        JsonObject record3 = record(taken.vertx(), taken.job(), 3);
        assertThat(record3.getString("status")).isEqualTo("completed");
        assertThat(record3.getJsonArray("shards")).hasSize(2);
        assertThat(shardHost.shards()).isEqualTo(1);
        assertThat(RoundLog.tail(taken.job().roundLog(), 100).records()).extracting(r -> r.getLong("round"))
                .containsExactly(0L, 1L, 2L, 3L);
    }

    private ServerConfig serverConfig(String name, String member, Path secret, Path own, boolean standby) {
        JsonObject json = Configuration.defaults().copy();
        json.mergeIn(new JsonObject().put("job", "fo").put("workers", P).put("dim", 1000).put("chunk_coords", 64).put("shards", 2)
                .put("rule", new JsonObject().put("name", "mean").put("f", 0).put("m", 0).put("r", 0).put("lambda", 0)
                        .put("iterations", 10).put("scale", "norm").put("pre", ""))
                .put("memory_budget_mb", 8).put("slab_kib", 64).put("spill_dir", own.resolve("spill").toString())
                .put("round_log", own.resolve("rounds.jsonl").toString()).put("jit_warmup", false)
                .put("standby", standby), true);
        json.getJsonObject("http").put("port", 0);
        json.put("cluster", clusterSection(name, member).put("secret", secret.toString()));
        return ServerConfig.parse(json);
    }

    /** Waits (bounded, on the cluster's own state) until the job's stored next round id is {@code next}. */
    private static void awaitStoredNextRound(Vertx vertx, String job, long next) throws Exception {
        until(vertx, () -> vertx.sharedData().<String, JsonObject>getClusterWideMap("flagagg.jobs")
                .compose(map -> map.get(job)).map(entry -> entry != null && entry.getLong("next_round") == next),
                "the job's next round id reaches " + next);
    }

    /** Looks every 20 ms until {@code condition} holds; fails after Await.WAIT_S. */
    private static void until(Vertx vertx, Supplier<Future<Boolean>> condition, String what) throws Exception {
        Promise<Void> reached = Promise.promise();
        long deadline = System.nanoTime() + Await.WAIT_S * 1_000_000_000L;
        vertx.setPeriodic(20, t -> condition.get().onSuccess(holds -> {
            if (holds) {
                vertx.cancelTimer(t);
                reached.tryComplete();
            } else if (System.nanoTime() > deadline) {
                vertx.cancelTimer(t);
                reached.tryFail("timed out waiting until " + what);
            }
        }));
        await(reached.future());
    }

    /** Round {@code round}'s record in the job's round log, once it is there (the log is written after the summary). */
    private static JsonObject record(Vertx vertx, JobConfig job, long round) throws Exception {
        until(vertx, () -> vertx.executeBlocking(() -> find(job, round) != null), "round " + round + " is logged");
        return find(job, round);
    }

    private static JsonObject find(JobConfig job, long round) throws java.io.IOException {
        return RoundLog.tail(job.roundLog(), 100).records().stream().filter(r -> r.getLong("round") == round)
                .findFirst().orElse(null);
    }

    /** A bus worker and the context it joined on (it is used from there only). */
    private record Joined(Worker worker, Context context) {
    }

    private static List<Joined> join(Vertx vertx, JobConfig job) throws Exception {
        return join(vertx, job, null);
    }

    private static List<Joined> join(Vertx vertx, JobConfig job, JobSecret secret) throws Exception {
        List<Joined> workers = new ArrayList<>();
        for (int w = 0; w < P; w++) {
            Context context = vertx.getOrCreateContext();
            int slot = w;
            workers.add(new Joined(Await.get(Await.on(context, () -> Worker.join(vertx, job.job(), "w" + slot,
                    job.dim(), slot, null, secret))), context));
        }
        return workers;
    }

    /** The first {@code sending} workers exchange {@code round}. */
    private static List<CompletableFuture<Worker.Aggregate>> start(List<Joined> workers, long round, float[][] g,
            int sending) {
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int w = 0; w < sending; w++) {
            Joined joined = workers.get(w);
            float[] gradient = g[w];
            results.add(Await.on(joined.context(), () -> joined.worker().exchange(round, gradient)));
        }
        return results;
    }

    /** Every worker exchanges {@code round}; their aggregates in slot order. */
    private static List<Worker.Aggregate> exchange(List<Joined> workers, long round, float[][] g) throws Exception {
        List<Worker.Aggregate> out = new ArrayList<>();
        for (CompletableFuture<Worker.Aggregate> f : start(workers, round, g, workers.size())) {
            out.add(Await.get(f));
        }
        return out;
    }
}
