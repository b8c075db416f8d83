package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.config.Cluster;
import org.flagagg.config.JobConfig;
import org.flagagg.round.ChunkStore;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.Codes;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A shard host: a cluster member ({@code flagagg server --shard-host}) that runs shards of other servers'
 * jobs. It advertises itself in the cluster map {@value #MAP} and takes placements on
 * {@code flagagg.shard-host.NODE}: a job's server sends the job's configuration, the shard and the job's
 * shard token, with a proof of the job secret; the host deploys that shard's {@link AggregatorVerticle} on
 * a chunk store of its own, and undeploys it when the job's server leaves the cluster (looked at every
 * second) or places the shard again. Confined to the verticle's event loop.
 */
public final class ShardHost extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(ShardHost.class);
    /** The cluster map of shard hosts: node id to {"member": "host:port"}. */
    static final String MAP = "flagagg.shard-hosts";
    /** How long a placement's proof is good for after its server issued it. */
    static final long PLACE_TTL_MS = 30_000;

    private final Cluster.Node node;
    private final JobSecret secret;
    private final Path spillDir;
    /** Shards running here by "job/shard". */
    private final Map<String, Placed> placed = new HashMap<>();
    /** Proofs of placements taken, and when issued; pruned after PLACE_TTL_MS (no replays). */
    private final Map<String, Long> spent = new HashMap<>();
    /** How often the host looks whether the servers of its shards are still members. */
    private static final long WATCH_MS = 1_000;
    private long watch = -1;

    private record Placed(String deployment, ChunkStore store, String coordinator) {
    }

    /** A host for shards of the jobs whose servers prove {@code secret}; their chunks spill under spillDir. */
    public ShardHost(Cluster.Node node, JobSecret secret, Path spillDir) {
        this.node = node;
        this.secret = java.util.Objects.requireNonNull(secret, "a shard host needs the job secret (cluster.secret)");
        this.spillDir = spillDir;
    }

    static String address(String nodeId) {
        return "flagagg.shard-host." + nodeId;
    }

    @Override
    public Future<?> start() {
        // Vert.x's own node ids (not Hazelcast's member UUIDs): what the event bus and its member list use.
        String self = VertxInternals.nodeId(vertx);
        watch = vertx.setPeriodic(WATCH_MS, t -> {
            List<String> members = VertxInternals.nodes(vertx);
            placed.values().stream().map(Placed::coordinator).filter(c -> !members.contains(c)).distinct().toList()
                    .forEach(this::releaseShardsOf);
        });
        return vertx.eventBus().<Object>consumer(address(self), this::onPlace).completion()
                .compose(v -> hosts(vertx)).compose(map -> map.put(self, new JsonObject().put("member", node.member())));
    }

    @Override
    public Future<?> stop() {
        vertx.cancelTimer(watch);
        List<Future<?>> stopped = new ArrayList<>();
        for (String key : List.copyOf(placed.keySet())) {
            stopped.add(release(key));
        }
        return Future.join(stopped).compose(v -> hosts(vertx)).compose(map -> map.remove(VertxInternals.nodeId(vertx)));
    }

    /** Shards running here (for tests and the log). */
    public int shards() {
        return placed.size();
    }

    private void onPlace(Message<Object> msg) {
        if (!(msg.body() instanceof JsonObject body)) {
            msg.fail(Codes.BAD_REQUEST, "a placement is JSON");
            return;
        }
        String jobText = body.getString("job");
        int shard = body.getInteger("shard", -1);
        String token = body.getString("token");
        String coordinator = body.getString("coordinator");
        long issued = body.getLong("issued", -1L);
        String proof = body.getString("proof");
        String snapshotText = body.getString("snapshot", "");
        long now = System.currentTimeMillis();
        if (jobText == null || token == null || coordinator == null || proof == null || Math.abs(now - issued) > PLACE_TTL_MS
                || spent.containsKey(proof) || !secret.verify(proof, Addresses.PLACE_PROOF, jobText, Integer.toString(shard),
                        token, coordinator, Long.toString(issued), snapshotText)) {
            LOG.warn("refused a shard placement: no fresh proof of the job secret");
            msg.fail(Codes.UNAUTHORIZED, "a placement must prove the job secret (cluster.secret) within "
                    + PLACE_TTL_MS / 1000 + " s, once");
            return;
        }
        spent.values().removeIf(at -> Math.abs(now - at) > PLACE_TTL_MS);
        spent.put(proof, issued);
        JobConfig job;
        JsonObject snapshot;
        try {
            snapshot = snapshotText.isEmpty() ? null : new JsonObject(snapshotText);
            job = JobConfig.fromJson(new JsonObject(jobText).put("round_log", "")
                    .put("spill_dir", spillDir.resolve("shards").toString()));
            if (shard < 1 || shard >= job.shards()) {
                throw new IllegalArgumentException("shard must be in 1.." + (job.shards() - 1) + ", got " + shard);
            }
        } catch (RuntimeException e) {
            msg.fail(Codes.BAD_REQUEST, "cannot run this shard: " + e.getMessage());
            return;
        }
        String key = job.job() + "/" + shard;
        JobConfig placedJob = job;
        JsonObject placedSnapshot = snapshot;
        release(key).compose(v -> vertx.executeBlocking(() -> new ChunkStore(placedJob.memoryBudget(), placedJob.slabBytes(),
                placedJob.spillDir().resolve(placedJob.job() + "-" + shard)), false)).compose(store -> {
                    AggregatorVerticle verticle = new AggregatorVerticle(placedJob, shard, store, secret, null, token);
                    try {
                        if (placedSnapshot != null) {
                            verticle.restore(placedSnapshot);
                        }
                    } catch (RuntimeException e) {
                        store.close();
                        return Future.failedFuture("a malformed snapshot: " + e);
                    }
                    return vertx.deployVerticle(verticle).onSuccess(id -> placed.put(key, new Placed(id, store, coordinator)))
                            .onFailure(e -> store.close());
                }).onComplete(ar -> {
                    if (ar.succeeded()) {
                        LOG.info("running shard {} of job '{}' for member {}", shard, placedJob.job(), coordinator);
                        msg.reply(new JsonObject().put("member", node.member()));
                    } else {
                        msg.fail(Codes.SERVER_ERROR, "shard " + shard + " did not start: " + ar.cause().getMessage());
                    }
                });
    }

    /** The job server that placed them left the cluster: its shards here stop. */
    private void releaseShardsOf(String coordinator) {
        placed.entrySet().stream().filter(e -> e.getValue().coordinator().equals(coordinator)).map(Map.Entry::getKey)
                .toList().forEach(this::release);
    }

    private Future<Void> release(String key) {
        Placed p = placed.remove(key);
        if (p == null) {
            return Future.succeededFuture();
        }
        LOG.info("shard {} stops", key);
        // A shard is this verticle's child: when the host stops, Vert.x has undeployed it already.
        return vertx.undeploy(p.deployment()).otherwiseEmpty().compose(v -> vertx.executeBlocking(() -> {
            p.store().close();
            return null;
        }, false)).mapEmpty();
    }

    private static Future<AsyncMap<String, JsonObject>> hosts(Vertx vertx) {
        return vertx.sharedData().getClusterWideMap(MAP);
    }

    /** The node ids of the live shard hosts in the cluster, but this member, in order. */
    public static Future<List<String>> find(Vertx vertx) {
        String self = VertxInternals.nodeId(vertx);
        List<String> members = VertxInternals.nodes(vertx);
        return hosts(vertx).compose(AsyncMap::keys).map(ids -> ids.stream()
                .filter(id -> members.contains(id) && !id.equals(self)).sorted().toList());
    }

    /**
     * Places shard {@code shard} of {@code job} on the shard host {@code hostId}, with the job's shard token
     * and a proof of the secret; fails within shard_timeout_ms with a reason naming the host. The shard starts
     * from {@code snapshot}: the next round id and the joined slots (AggregatorVerticle#startingAt, #shardSnapshot).
     */
    static Future<Void> place(Vertx vertx, String hostId, JobConfig job, int shard, String token, JobSecret secret,
            JsonObject snapshot) {
        String jobText = job.toJson().encode();
        String coordinator = VertxInternals.nodeId(vertx);
        long issued = System.currentTimeMillis();
        String snapshotText = snapshot.encode();
        JsonObject request = new JsonObject().put("job", jobText).put("shard", shard).put("token", token)
                .put("coordinator", coordinator).put("issued", issued).put("snapshot", snapshotText)
                .put("proof", secret.mac(Addresses.PLACE_PROOF, jobText, Integer.toString(shard), token, coordinator,
                        Long.toString(issued), snapshotText));
        return vertx.eventBus().request(address(hostId), request, new DeliveryOptions().setSendTimeout(job.shardTimeoutMs()))
                .<Void>mapEmpty().recover(e -> Future.failedFuture("placing shard " + shard + " of job '" + job.job()
                        + "' on shard host " + hostId + " failed: " + e.getMessage()));
    }
}
