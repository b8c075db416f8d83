package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.VertxInternals;

/**
 * The event-bus messages between a job's shards: the coordinator's control requests to shards 1..S-1 (each
 * failing within shard_timeout_ms with a reason naming the shard) and a shard's reports to the coordinator.
 * They stay in this JVM unless shards run on other members; then they carry the job's shard token, and
 * only messages from this JVM or with that token are taken ({@link #fromThisJob}).
 */
final class ShardLink {
    private final EventBus bus;
    private final Addresses addresses;
    private final int shards;
    private final long timeoutMs;
    private final String shardToken;
    /** Shards whose host was lost and that are not placed again yet: requests to them fail at once. */
    private final java.util.Set<Integer> lost = new java.util.HashSet<>();

    ShardLink(EventBus bus, Addresses addresses, int shards, long timeoutMs, String shardToken) {
        this.bus = bus;
        this.addresses = addresses;
        this.shards = shards;
        this.timeoutMs = timeoutMs;
        this.shardToken = shardToken;
    }

    private DeliveryOptions options() {
        DeliveryOptions options = new DeliveryOptions().setLocalOnly(shardToken == null);
        return shardToken == null ? options : options.addHeader(Addresses.SHARD_TOKEN_HEADER, shardToken);
    }

    /** Shard k's host was lost ({@code true}) or it runs again: while lost, requests to it fail at once. */
    void lost(int k, boolean isLost) {
        if (isLost) {
            lost.add(k);
        } else {
            lost.remove(k);
        }
    }

    /** A control request to shard k; its answer's body, or a failure "shard k: OP failed: ...". */
    Future<Object> request(int k, JsonObject request, long timeoutMs) {
        String op = request.getString("op");
        if (lost.contains(k)) {
            return Future.failedFuture("shard " + k + ": " + op + " failed: its host was lost; it is being placed again");
        }
        return bus.request(addresses.shard(k), request, options().setSendTimeout(timeoutMs))
                .transform(ar -> ar.succeeded() ? Future.succeededFuture(ar.result().body())
                        : Future.failedFuture("shard " + k + ": " + op + " failed: " + ar.cause().getMessage()));
    }

    /** The request to every shard 1..S-1 within shard_timeout_ms; the answers in shard order. */
    List<Future<Object>> requestAll(JsonObject request) {
        return requestAll(request, timeoutMs);
    }

    List<Future<Object>> requestAll(JsonObject request, long timeoutMs) {
        List<Future<Object>> answers = new ArrayList<>();
        for (int k = 1; k < shards; k++) {
            answers.add(request(k, request, timeoutMs));
        }
        return answers;
    }

    /** A message to every shard 1..S-1 that needs no answer (an exclusion). */
    void sendAll(JsonObject message) {
        for (int k = 1; k < shards; k++) {
            bus.send(addresses.shard(k), message, options());
        }
    }

    /** Shard {@code shard} reports to the coordinator. */
    void report(JsonObject report) {
        bus.send(addresses.coordinator(), report, options());
    }

    /** A control message or report of this job: from this JVM, or from another member with the shard token. */
    boolean fromThisJob(Message<Object> msg) {
        return !VertxInternals.fromOtherMember(msg)
                || JobSecret.same(msg.headers().get(Addresses.SHARD_TOKEN_HEADER), shardToken);
    }
}
