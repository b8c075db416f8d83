package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.Codes;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A peer of the cluster plays the attacker on a shard host's placements (the job's configuration, the shard and,
 * mid-job, the coordinator's snapshot of slots and round ids, all under the placement's HMAC): only a fresh proof
 * of the job secret over exactly what is sent starts a shard, once.
 */
class ShardPlacementAttackTest {
    @TempDir
    static Path dir;

    private static Vertx vertx;
    private static ShardHost host;
    private static String address;
    private static final JobSecret SECRET = JobSecret.random();

    @BeforeAll
    static void aShardHost() throws Exception {
        JsonObject section = Configuration.defaults().getJsonObject("cluster").copy()
                .put("name", "placement-" + ProcessHandle.current().pid() + "-" + System.nanoTime()).put("port", 0);
        Cluster.Node node = await(Cluster.start(ClusterConfig.fromJson(section), true));
        vertx = node.vertx();
        host = new ShardHost(node, SECRET, dir.resolve("host"));
        await(vertx.deployVerticle(host));
        address = ShardHost.address(VertxInternals.nodeId(vertx));
    }

    @AfterAll
    static void close() throws Exception {
        await(vertx.close());
    }

    /** A placement of shard 1 of a two-shard job, proven with {@code secret} over what it says. */
    private static JsonObject placement(JobSecret secret, long issued, JsonObject snapshot) {
        String job = Engine.job(new JsonObject().put("job", "attacked").put("shards", 2), dir.resolve("job")).toJson()
                .encode();
        String snapshotText = snapshot.encode();
        return new JsonObject().put("job", job).put("shard", 1).put("token", "t").put("coordinator", "c")
                .put("issued", issued).put("snapshot", snapshotText)
                .put("proof", secret.mac(Addresses.PLACE_PROOF, job, "1", "t", "c", Long.toString(issued), snapshotText));
    }

    private static ReplyException refusal(Object request) {
        try {
            await(vertx.eventBus().request(address, request));
        } catch (Exception e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            assertThat(cause).isInstanceOf(ReplyException.class);
            return (ReplyException) cause;
        }
        throw new AssertionError("the placement was taken");
    }

    @Test
    void onlyAFreshProofOverExactlyWhatIsSentStartsAShardOnce() throws Exception {
        long now = System.currentTimeMillis();
        JsonObject snapshot = AggregatorVerticle.startingAt(7);

        assertThat(refusal("not json").failureCode()).isEqualTo(Codes.BAD_REQUEST);
        assertThat(refusal(new JsonObject().put("job", "{}").put("shard", 1)).failureCode())
                .isEqualTo(Codes.UNAUTHORIZED);
        // Another secret, a proof older than the host accepts, a snapshot changed after it was signed.
        assertThat(refusal(placement(JobSecret.random(), now, snapshot)).failureCode()).isEqualTo(Codes.UNAUTHORIZED);
        assertThat(refusal(placement(SECRET, now - ShardHost.PLACE_TTL_MS - 1_000, snapshot)).failureCode())
                .isEqualTo(Codes.UNAUTHORIZED);
        JsonObject tampered = placement(SECRET, now, snapshot);
        tampered.put("snapshot", AggregatorVerticle.startingAt(0).encode());
        assertThat(refusal(tampered).failureCode()).isEqualTo(Codes.UNAUTHORIZED);
        // Signed but malformed: refused with the reason, and nothing keeps running.
        JsonObject malformed = new JsonObject().put("round", 7).put("slots", new JsonArray().add(new JsonObject()
                .put("slot", 99).put("worker", "w")));
        ReplyException bad = refusal(placement(SECRET, now, malformed));
        assertThat(bad.failureCode()).isEqualTo(Codes.SERVER_ERROR);
        assertThat(bad.getMessage()).contains("a malformed snapshot");
        assertThat(host.shards()).isZero();

        // The genuine placement starts the shard; the same message again is refused (no replays).
        JsonObject genuine = placement(SECRET, now, snapshot);
        await(vertx.eventBus().request(address, genuine));
        assertThat(host.shards()).isEqualTo(1);
        assertThat(refusal(genuine).failureCode()).isEqualTo(Codes.UNAUTHORIZED);
        assertThat(host.shards()).isEqualTo(1);
    }
}
