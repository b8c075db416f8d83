package org.flagagg.config;

import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Lock;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.UUID;
import org.flagagg.wire.VertxInternals;

/**
 * One aggregator server per job and cluster. A server {@link #claim claims} its job with a cluster-wide lock
 * (held until it stops; Hazelcast frees the locks of a member that leaves or dies) and records who it is in
 * the cluster map {@value #MAP}; a second server for the job finds the lock taken and refuses to start,
 * naming the first. Workers in other JVMs {@link #find find} the server there (a bounded wait) and
 * {@link #gone watch} its membership, so they stop when it dies instead of waiting for ever.
 */
public final class JobServer {
    /** The cluster map of job name to its server: {"member": "host:port", "id": Hazelcast member UUID}. */
    static final String MAP = "flagagg.servers";
    /** How long a claim waits for the lock: long enough for a lock free now, short of a held one's release. */
    private static final long CLAIM_WAIT_MS = 2_000;
    /** How long a standby's claim waits at a time. */
    private static final long STANDBY_WAIT_MS = 5_000;
    /** How often {@link #find} looks again while the job has no server. */
    private static final long FIND_POLL_MS = 250;

    /** The server holding a job: its Hazelcast member address ("host:port") and UUID. */
    public record Holder(String member, String id) {
    }

    private JobServer() {
    }

    /**
     * Claims {@code job} for this server node; fails with one line naming the job and the server holding it
     * when there is one. The claim lasts until {@link Lock#release()} or this member leaves the cluster.
     */
    public static Future<Lock> claim(Cluster.Node node, String job) {
        var shared = node.vertx().sharedData();
        return shared.getLockWithTimeout(lockName(job), CLAIM_WAIT_MS)
                .recover(e -> holder(node, job).transform(h -> Future.failedFuture(new IllegalStateException(
                        "job '" + job + "' already has a server in this cluster: "
                        + (h.succeeded() && h.result() != null ? "member " + h.result().member()
                                + " (" + h.result().id() + ")" : "its lock is held")
                        + "; stop it or use another job name"))))
                .compose(lock -> holding(node, job, lock));
    }

    /** Records this node as {@code job}'s server, holding {@code lock} (released if that fails). */
    private static Future<Lock> holding(Cluster.Node node, String job, Lock lock) {
        return servers(node).compose(map -> map.put(job, new JsonObject().put("member", node.member())
                .put("id", node.memberId()))).map(lock).onFailure(e -> lock.release());
    }

    /**
     * Claims {@code job} as soon as it is free: a standby server, which takes the job over when the member of
     * its server leaves the cluster (Hazelcast then frees that member's claim). Waits without bound, in
     * {@value #STANDBY_WAIT_MS} ms steps so no thread is held longer.
     */
    public static Future<Lock> await(Cluster.Node node, String job) {
        return node.vertx().sharedData().getLockWithTimeout(lockName(job), STANDBY_WAIT_MS)
                .recover(e -> node.manager().isActive() ? await(node, job) : Future.failedFuture(e))
                .compose(lock -> holding(node, job, lock));
    }

    /**
     * The live server of {@code job}: the recorded holder whose node is a current member, waiting up to
     * {@code waitMs} for one; fails with "no aggregator for job X answered within N s" after.
     */
    public static Future<Holder> find(Cluster.Node node, String job, long waitMs) {
        Promise<Holder> found = Promise.promise();
        long deadline = System.nanoTime() + waitMs * 1_000_000;
        look(node, job, deadline, waitMs, found);
        return found.future();
    }

    private static void look(Cluster.Node node, String job, long deadline, long waitMs, Promise<Holder> found) {
        holder(node, job).onComplete(h -> {
            if (h.succeeded() && h.result() != null && node.hasMember(h.result().id())) {
                found.complete(h.result());
            } else if (System.nanoTime() - deadline >= 0) {
                found.fail(new IllegalStateException("no aggregator for job '" + job + "' answered within "
                        + Math.round(waitMs / 1000.0) + " s: is 'flagagg server --cluster --job " + job
                        + "' running and in this cluster (same cluster name and members)?"));
            } else {
                node.vertx().setTimer(FIND_POLL_MS, t -> look(node, job, deadline, waitMs, found));
            }
        });
    }

    /**
     * Completes (with a one-line reason) when {@code holder}'s member leaves the cluster, at once if it is
     * already gone. Hazelcast notices a killed member when its connections drop.
     */
    public static Future<String> gone(Cluster.Node node, String job, Holder holder) {
        return gone(node, job, holder, Promise.promise().future());
    }

    /**
     * {@link #find(Cluster.Node, String, long)} for a caller that holds only its clustered Vert.x (a worker);
     * fails at once when {@code vertx} is not clustered.
     */
    public static Future<Holder> find(Vertx vertx, String job, long waitMs) {
        return node(vertx).compose(node -> find(node, job, waitMs));
    }

    /**
     * {@link #gone(Cluster.Node, String, Holder)} for a caller that holds only its clustered Vert.x, watching
     * only until {@code until} completes (then the listener is removed and the result never completes): a
     * worker that leaves or re-joins leaves no listener behind.
     */
    public static Future<String> gone(Vertx vertx, String job, Holder holder, Future<?> until) {
        return node(vertx).compose(node -> gone(node, job, holder, until));
    }

    private static Future<Cluster.Node> node(Vertx vertx) {
        return VertxInternals.clusterManager(vertx) instanceof HazelcastClusterManager manager
                ? Future.succeededFuture(new Cluster.Node(vertx, null, manager))
                : Future.failedFuture(new IllegalStateException("not a member of a Hazelcast cluster"));
    }

    private static Future<String> gone(Cluster.Node node, String job, Holder holder, Future<?> until) {
        Promise<String> left = Promise.promise();
        String reason = "the aggregator of job '" + job + "' (member " + holder.member() + ") left the cluster; "
                + "its rounds cannot complete";
        var cluster = node.manager().getHazelcastInstance().getCluster();
        UUID id = cluster.addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                if (event.getMember().getUuid().toString().equals(holder.id())) {
                    left.tryComplete(reason);
                }
            }
        });
        if (!node.hasMember(holder.id())) {
            left.tryComplete(reason);
        }
        until.onComplete(r -> cluster.removeMembershipListener(id));
        return left.future().onComplete(r -> cluster.removeMembershipListener(id));
    }

    private static Future<Holder> holder(Cluster.Node node, String job) {
        return servers(node).compose(map -> map.get(job))
                .map(json -> json == null ? null : new Holder(json.getString("member"), json.getString("id")));
    }

    private static Future<AsyncMap<String, JsonObject>> servers(Cluster.Node node) {
        return node.vertx().sharedData().getClusterWideMap(MAP);
    }

    private static String lockName(String job) {
        return "flagagg.server." + job;
    }
}
