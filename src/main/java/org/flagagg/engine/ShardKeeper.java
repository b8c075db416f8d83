package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.flagagg.config.JobConfig;
import org.flagagg.round.ChunkStore;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a sharded job's shards 1..S-1 running on the cluster's shard hosts, for its coordinator (shard 0,
 * which deploys after this). It places them round-robin on the hosts it is given, then looks every
 * {@value #WATCH_MS} ms whether each shard's host is still a member. When one is gone (its JVM died, or the
 * cluster declared it dead after cluster.failure_timeout_s), the coordinator fails its open rounds with
 * {@link JobState#LOST}, and the shard is placed again, from the coordinator's joined slots and round ids: on
 * the live shard host running the fewest of the job's shards, else in this JVM. The job goes on with the same
 * workers. Confined to this verticle's event loop.
 */
public final class ShardKeeper extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(ShardKeeper.class);
    /** How often the shards' hosts are looked at: a lost one adds at most this to the cluster's detection. */
    static final long WATCH_MS = 250;
    /** How often the cluster's consumers of a lost shard are looked at until the dead member's are gone. */
    private static final long FORGET_POLL_MS = 20;

    private final JobConfig job;
    private final String shardToken;
    private final JobSecret secret;
    private final AggregatorVerticle coordinator;
    private final List<String> hosts;
    private final Addresses addresses;
    private final long nextRound;
    /** Shard k to the node id of the shard host running it, or null while it runs in this JVM. */
    private final Map<Integer, String> placed = new HashMap<>();
    /** Shards run in this JVM after their hosts were lost: deployment ids and stores, closed at stop. */
    private final List<String> ownDeployments = new ArrayList<>();
    private final List<ChunkStore> ownStores = new ArrayList<>();
    /** The shards being placed again, one at a time. */
    private Future<Void> replacing = Future.succeededFuture();
    private long watch = -1;

    /**
     * Shards 1..S-1 of {@code job} for {@code coordinator}, first on {@code hosts} (node ids, non-empty), starting
     * at round {@code nextRound} (a job resumed by a server that took it over starts there on every shard).
     */
    public ShardKeeper(JobConfig job, List<String> hosts, String shardToken, JobSecret secret,
            AggregatorVerticle coordinator, long nextRound) {
        this.nextRound = nextRound;
        this.job = job;
        this.hosts = List.copyOf(hosts);
        this.addresses = new Addresses(job.job());
        this.shardToken = shardToken;
        this.secret = secret;
        this.coordinator = coordinator;
    }

    @Override
    public Future<?> start() {
        Future<Void> all = Future.succeededFuture();
        for (int k = 1; k < job.shards(); k++) {
            int shard = k;
            String host = hosts.get((k - 1) % hosts.size());
            all = all.compose(v -> ShardHost.place(vertx, host, job, shard, shardToken, secret,
                    AggregatorVerticle.startingAt(nextRound)).onSuccess(x -> placed.put(shard, host)));
        }
        return all.onSuccess(v -> watch = vertx.setPeriodic(WATCH_MS, t -> look()));
    }

    @Override
    public Future<?> stop() {
        vertx.cancelTimer(watch);
        Future<Void> undeployed = Future.succeededFuture();
        for (String id : ownDeployments) {
            undeployed = undeployed.eventually(() -> vertx.undeploy(id).otherwiseEmpty());
        }
        return undeployed.eventually(() -> vertx.executeBlocking(() -> {
            ownStores.forEach(ChunkStore::close);
            return null;
        }, false));
    }

    private void look() {
        List<String> members = VertxInternals.nodes(vertx);
        if (members.isEmpty()) {
            return; // this member left the cluster or is stopping: nothing can be placed
        }
        placed.forEach((shard, host) -> {
            if (host != null && !members.contains(host)) {
                placed.put(shard, null);
                long lostAt = System.nanoTime();
                String reason = JobState.LOST + ": shard " + shard + " (shard host " + host + ") left the cluster";
                LOG.warn("job '{}': {}", job.job(), reason);
                replacing = replacing.eventually(() -> replace(shard, host, reason, lostAt));
            }
        });
    }

    /**
     * The coordinator fails the open rounds; the shard is placed again, starting from the coordinator's
     * snapshot (slots, round ids), so it refuses no chunk of the job from its first one.
     */
    private Future<Void> replace(int shard, String lost, String reason, long lostAt) {
        List<String> shardAddresses = List.of(addresses.chunks(shard), addresses.shard(shard));
        return coordinator.shardLost(shard, reason)
                .compose(v -> untilForgotten(vertx, shardAddresses, job.shardTimeoutMs()))
                .compose(v -> Future.all(coordinator.shardSnapshot(), ShardHost.find(vertx))).compose(both -> {
                    JsonObject snapshot = both.resultAt(0);
                    List<String> live = both.resultAt(1);
                    String host = live.stream().filter(h -> !h.equals(lost))
                            .min(Comparator.comparingLong(this::count).thenComparing(Comparator.naturalOrder()))
                            .orElse(null);
                    Future<Void> running = host == null ? runHere(shard, snapshot)
                            : ShardHost.place(vertx, host, job, shard, shardToken, secret, snapshot)
                                    .map(x -> {
                                        placed.put(shard, host);
                                        return (Void) null;
                                    }).recover(e -> {
                                        LOG.warn("job '{}': {}; shard {} runs in this JVM instead", job.job(),
                                                e.getMessage(), shard);
                                        return runHere(shard, snapshot);
                                    });
                    return running.compose(x -> coordinator.shardFound(shard));
                }).onSuccess(v -> LOG.info("shard {} of job '{}' re-placed on {} in {} ms: its host left the cluster",
                        shard, job.job(), placed.get(shard) == null ? "this member" : "shard host " + placed.get(shard),
                        (System.nanoTime() - lostAt) / 1_000_000))
                .onFailure(e -> LOG.error("job '{}': shard {} could not be placed again: {}", job.job(), shard,
                        e.getMessage()));
    }

    /**
     * Completes once no consumer of {@code addresses} is listed on a member that left the cluster (else a
     * message could still be routed to a dead member), or after {@code timeoutMs} (then with a warning). A
     * member's death and the cleanup of its consumers are separate steps of the cluster.
     */
    public static Future<Void> untilForgotten(Vertx vertx, List<String> addresses, long timeoutMs) {
        Promise<Void> gone = Promise.promise();
        lookAgain(vertx, addresses, System.nanoTime() + timeoutMs * 1_000_000, gone);
        return gone.future();
    }

    private static void lookAgain(Vertx vertx, List<String> addresses, long deadline, Promise<Void> gone) {
        Future.all(addresses.stream().map(a -> VertxInternals.consumerNodes(vertx, a)).toList()).onComplete(ar -> {
            List<String> members = VertxInternals.nodes(vertx);
            boolean stale = ar.failed() || ar.result().<Set<String>>list().stream()
                    .anyMatch(nodes -> !members.containsAll(nodes));
            if (!stale) {
                gone.complete();
            } else if (System.nanoTime() - deadline > 0) {
                LOG.warn("the cluster still lists consumers of {} on a member that left: going on", addresses);
                gone.complete();
            } else {
                vertx.setTimer(FORGET_POLL_MS, t -> lookAgain(vertx, addresses, deadline, gone));
            }
        });
    }

    private long count(String host) {
        return placed.values().stream().filter(host::equals).count();
    }

    /**
     * Shard k in this JVM from the coordinator's snapshot, on a chunk store of its own; its messages still carry
     * the job's shard token.
     */
    private Future<Void> runHere(int shard, JsonObject snapshot) {
        return vertx.executeBlocking(() -> new ChunkStore(job.memoryBudget(), job.slabBytes(),
                job.spillDir().resolve("shard-" + shard)), false).compose(store -> {
                    ownStores.add(store);
                    AggregatorVerticle verticle = new AggregatorVerticle(job, shard, store, secret, null, shardToken);
                    verticle.restore(snapshot);
                    return vertx.deployVerticle(verticle);
                }).map(id -> {
                    ownDeployments.add(id);
                    placed.put(shard, null);
                    return null;
                });
    }
}
