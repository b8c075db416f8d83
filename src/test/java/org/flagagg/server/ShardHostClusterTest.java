package org.flagagg.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.flagagg.Await;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.Engine;
import org.flagagg.engine.ShardHost;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sharded job in a cluster: the job's server places its shards on the shard host it finds (another Vert.x
 * cluster member, here in the same JVM on loopback), and the round is the one an unsharded engine gives, to
 * the byte: same aggregate, same record but for timings and the per-shard list.
 */
class ShardHostClusterTest {
    @TempDir
    Path dir;

    private final List<Cluster.Node> nodes = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = nodes.size() - 1; i >= 0; i--) {
            await(nodes.get(i).vertx().close());
        }
    }

    private Cluster.Node start(String name, String... members) throws Exception {
        JsonObject section = Configuration.defaults().getJsonObject("cluster").copy().put("name", name).put("port", 0)
                .put("members", new JsonArray(List.of((Object[]) members)));
        Cluster.Node node = await(Cluster.start(ClusterConfig.fromJson(section), true));
        nodes.add(node);
        return node;
    }

    @Test
    void shardsPlacedOnAShardHostGiveTheUnshardedRoundToTheByte() throws Exception {
        String name = "shards-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        JobSecret secret = JobSecret.random();
        Cluster.Node host = start(name);
        ShardHost shardHost = new ShardHost(host, secret, dir.resolve("host"));
        await(host.vertx().deployVerticle(shardHost));
        Cluster.Node server = start(name, host.member());

        JsonObject overrides = new JsonObject().put("workers", 4).put("shards", 3)
                .put("rule", new JsonObject().put("name", "flag"));
        JobConfig job = Engine.job(overrides, dir.resolve("cluster"));
        float[][] g = Engine.gradients(4, (int) job.dim(), 33);

        Map<Long, CompletableFuture<JsonObject>> records = new ConcurrentHashMap<>();
        await(server.vertx().eventBus().<JsonObject>consumer(new Addresses(job.job()).rounds(),
                m -> records.computeIfAbsent(m.body().getLong("round"), r -> new CompletableFuture<>()).complete(m.body()))
                .completion());
        Server sharded = await(Server.deploy(server.vertx(), ServerConfig.defaults().withJob(job), Server.Parts.ENGINE,
                secret, Deadlines.timers()));
        assertThat(await(ShardHost.find(server.vertx()))).containsExactly(org.flagagg.wire.VertxInternals.nodeId(host.vertx()));
        float[][] clustered = exchange(server.vertx(), job, g);
        JsonObject record = Await.get(records.computeIfAbsent(0L, r -> new CompletableFuture<>()));
        assertThat(record.getString("status")).isEqualTo("completed");
        assertThat(record.getJsonArray("shards")).hasSize(3);
        assertThat(shardHost.shards()).isEqualTo(2);
        await(sharded.close());

        // The same round on one aggregator, in a JVM of its own making.
        JobConfig single = Engine.job(overrides.copy().put("shards", 1), dir.resolve("single"));
        Vertx plain = Vertx.vertx();
        try (Engine engine = Engine.start(plain, single)) {
            float[][] reference = exchange(plain, single, g);
            JsonObject expected = Await.get(engine.recordOf(0)).copy();
            for (int w = 0; w < 4; w++) {
                assertThat(clustered[w]).as("worker %d's aggregate", w).isEqualTo(reference[0]);
            }
            JsonObject actual = record.copy();
            for (JsonObject r : List.of(expected, actual)) {
                r.remove("timings_ms");
                r.remove("shards");
            }
            assertThat(actual).isEqualTo(expected);
        } finally {
            await(plain.close());
        }
    }

    /** Four bus workers of this Vert.x exchange round 0; their aggregates in slot order. */
    private static float[][] exchange(Vertx vertx, JobConfig job, float[][] g) throws Exception {
        List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            Context context = vertx.getOrCreateContext();
            int slot = w;
            Worker worker = Await.get(Await.on(context, () -> Worker.join(vertx, job.job(), "w" + slot, job.dim(), slot)));
            results.add(Await.on(context, () -> worker.exchange(0, g[slot])));
        }
        float[][] out = new float[4][];
        for (int w = 0; w < 4; w++) {
            out[w] = Await.get(results.get(w)).values();
        }
        return out;
    }
}
