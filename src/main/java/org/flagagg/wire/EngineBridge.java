package org.flagagg.wire;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The server side of one client connection that is not on the event bus (a data-link node, a WebSocket
 * worker), towards the engine of this JVM: gradient frames go to {@code flagagg.JOB.chunks} (sharded: to the
 * address of the shard that owns the frame's column, {@link ShardPlan}) and the engine's
 * answer comes back as a code, and each aggregate frame's request from the engine is held until the client
 * acknowledges that frame, so the engine's own credit limit holds across the connection. Both ends of the
 * bridge (the link's records, the WebSocket's messages) stay with the caller. Confined to one context.
 *
 * @param <K> how the client names an aggregate frame in its acknowledgement (a sequence number, a round and
 *     chunk)
 */
public final class EngineBridge<K> {

    /**
     * The engine's answer to a gradient frame: {@code code} 0 stored, else the refusal's code and reason.
     * {@code engineDone}: the engine answered, so it no longer reads the frame (after a timeout it may).
     */
    public record Answer(int code, String reason, boolean engineDone) {
    }

    /** An aggregate frame's request from the engine, and the timer that gives up waiting for its ack (or -1). */
    private record Held(Message<Object> request, long timer) {
    }

    private final Vertx vertx;
    private final Addresses addresses;
    private final ShardPlan plan;
    private final DeliveryOptions chunkOptions;
    private final Map<K, Held> held = new HashMap<>();
    private int forwarding;

    /**
     * A bridge to {@code addresses}' engine; gradient frames wait at most {@code sendTimeoutMs} for its answer
     * and carry the {@code relay} header unless it is null.
     */
    public EngineBridge(Vertx vertx, Addresses addresses, long sendTimeoutMs, String relay) {
        this(vertx, addresses, null, sendTimeoutMs, relay);
    }

    /** {@link #EngineBridge(Vertx, Addresses, long, String)} of a job split as {@code plan} (null: one shard). */
    public EngineBridge(Vertx vertx, Addresses addresses, ShardPlan plan, long sendTimeoutMs, String relay) {
        this(vertx, addresses, plan, sendTimeoutMs, relay, null);
    }

    /**
     * {@link #EngineBridge(Vertx, Addresses, ShardPlan, long, String)} of a job whose shards may run on other
     * members (shard hosts): frames may leave this JVM and carry the job's {@code shardToken} (null: local only).
     */
    public EngineBridge(Vertx vertx, Addresses addresses, ShardPlan plan, long sendTimeoutMs, String relay,
            String shardToken) {
        this.vertx = vertx;
        this.addresses = addresses;
        this.plan = plan;
        // Local only: the frames are for the aggregator of this JVM, never another node that registered the
        // address, and the clustered bus need not look the address up in the cluster for every chunk. Shards
        // on shard hosts are the exception: their frames go there, with the job's shard token.
        this.chunkOptions = new DeliveryOptions().setCodecName(FrameCodec.NAME).setSendTimeout(sendTimeoutMs)
                .setLocalOnly(shardToken == null);
        if (shardToken != null) {
            chunkOptions.addHeader(Addresses.SHARD_TOKEN_HEADER, shardToken);
        }
        if (relay != null) {
            // Binds the frame to this connection: the aggregator refuses slots that joined elsewhere.
            chunkOptions.addHeader(Addresses.RELAY_HEADER, relay);
        }
    }

    /** Sends a client's gradient frame to the engine; completes (never fails) with the engine's answer. */
    public Future<Answer> forward(Buffer frame) {
        forwarding++;
        String address = addresses.chunks(plan == null ? 0 : plan.shardOf(frame));
        return vertx.eventBus().request(address, frame, chunkOptions).transform(ar -> {
            forwarding--;
            if (ar.succeeded()) {
                return Future.succeededFuture(new Answer(0, null, true));
            }
            if (ar.cause() instanceof ReplyException e && e.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
                return Future.succeededFuture(new Answer(e.failureCode(), e.getMessage(), true));
            }
            if (ar.cause() instanceof ReplyException e && e.failureType() == ReplyFailure.NO_HANDLERS) {
                // Nobody consumes the shard's chunks now: its host died and it is being placed again (or the
                // server is stopping). A client resends after a pause (429), as the round will end either way.
                return Future.succeededFuture(new Answer(Codes.TOO_MANY, "no aggregator takes this chunk's shard "
                        + "right now (being placed again?): send it again after a pause", true));
            }
            return Future.succeededFuture(new Answer(Codes.SERVER_ERROR, "the aggregator did not answer: "
                    + ar.cause().getMessage(), false));
        });
    }

    /** Gradient frames forwarded and not answered yet. */
    public int forwarding() {
        return forwarding;
    }

    /**
     * Holds the engine's request for an aggregate frame the client will acknowledge as {@code key}; a
     * {@code timer} (or -1) is cancelled with it. A frame held again under the same key (the engine resent
     * it) replaces the first, whose timer is cancelled.
     */
    public void hold(K key, Message<Object> request, long timer) {
        Held previous = held.put(key, new Held(request, timer));
        if (previous != null) {
            cancel(previous);
        }
    }

    /**
     * The client acknowledged {@code key}: code 0 took it, else refused it with the reason. False if no frame
     * is held under that key.
     */
    public boolean acknowledge(K key, int code, String reason) {
        Held h = held.remove(key);
        if (h == null) {
            return false;
        }
        cancel(h);
        if (code == 0) {
            h.request().reply(null);
        } else {
            h.request().fail(code, reason);
        }
        return true;
    }

    /** Aggregate frames held for the client's acknowledgement. */
    public int held() {
        return held.size();
    }

    /** The connection closed: every held aggregate frame is refused with {@link Codes#GONE} and the reason. */
    public void close(String reason) {
        List<Held> all = List.copyOf(held.values());
        held.clear();
        for (Held h : all) {
            cancel(h);
            h.request().fail(Codes.GONE, reason);
        }
    }

    private void cancel(Held h) {
        if (h.timer() >= 0) {
            vertx.cancelTimer(h.timer());
        }
    }
}
