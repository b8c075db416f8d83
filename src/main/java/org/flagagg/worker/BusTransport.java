package org.flagagg.worker;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.JobServer;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.ShardPlan;
import org.flagagg.wire.VertxInternals;

/**
 * A worker on the event bus (docs/protocol.md, "Control messages on the event bus"): it joins over
 * {@code flagagg.JOB.join}, sends chunks as requests to {@code flagagg.JOB.chunks} (the reply is the credit)
 * and receives summaries and aggregate frames on {@code flagagg.JOB.worker.SLOT}, answering each frame once
 * the worker took it. {@link LinkTransport} keeps the join and the summaries and moves the chunks.
 */
class BusTransport implements Transport {

    /**
     * What a join asks for: the job, the worker's id and dimension, a slot or -1, and the secret or null; a
     * re-join also bounds its requests ({@code timeoutMs} > 0; 0: the event bus's default).
     */
    record Join(String job, String workerId, long dim, int slot, JobSecret secret, long timeoutMs) {
        Join(String job, String workerId, long dim, int slot, JobSecret secret) {
            this(job, workerId, dim, slot, secret, 0);
        }

        Join again(int slot, long timeoutMs) {
            return new Join(job, workerId, dim, slot, secret, timeoutMs);
        }
    }

    final Vertx vertx;
    final EventBus bus;
    final Addresses addresses;
    final Join join;
    /** The job's server this transport joined, watched so that its loss is noticed; null: not watched. */
    final JobServer.Holder holder;
    private final Promise<Void> closed = Promise.promise();
    Worker worker;
    private DeliveryOptions chunkOptions;
    private ShardPlan plan;
    private MessageConsumer<Object> results;

    BusTransport(Vertx vertx, Join join, JobServer.Holder holder) {
        this.vertx = vertx;
        this.bus = vertx.eventBus();
        this.addresses = new Addresses(join.job());
        this.join = join;
        this.holder = holder;
    }

    /**
     * The recipe of a bus worker's join, or a link worker's when {@code link} is not null. In a cluster it
     * looks the job's server up first: on the first join only to watch it (none found: not watched), on a
     * re-join waiting up to waitMs for the new one, then reconnecting the node's link
     * ({@link LinkClient#current}).
     */
    static Worker.Joining joining(Vertx vertx, Join join, LinkClient link) {
        return (slot, attempt, waitMs) -> {
            boolean first = slot < 0;
            Future<JobServer.Holder> holder = !VertxInternals.clusterActive(vertx) ? Future.succeededFuture()
                    : first ? JobServer.find(vertx, join.job(), 0).otherwiseEmpty()
                    : JobServer.find(vertx, join.job(), waitMs);
            Join asked = first ? join : join.again(slot, Math.min(Worker.ASK_MS, Worker.attemptMs(waitMs)));
            return holder.compose(h -> link == null ? Future.succeededFuture(new BusTransport(vertx, asked, h))
                    : (first ? Future.succeededFuture(link)
                            : link.current().timeout(asked.timeoutMs(), TimeUnit.MILLISECONDS))
                            .map(current -> new LinkTransport(vertx, asked, current, h)));
        };
    }

    /** The relay address the worker's aggregate comes through, or null: its own results address. */
    String relay() {
        return null;
    }

    @Override
    public Future<Void> join(Worker worker) {
        this.worker = worker;
        FrameCodec.register(bus);
        String relay = relay();
        JsonObject request = new JsonObject().put("worker", join.workerId()).put("dim", join.dim());
        if (join.slot() >= 0) {
            request.put("slot", join.slot());
        }
        if (relay != null) {
            request.put("relay", relay);
        }
        String address = addresses.join();
        JobSecret secret = join.secret();
        DeliveryOptions bounded = join.timeoutMs() > 0 ? new DeliveryOptions().setSendTimeout(join.timeoutMs())
                : new DeliveryOptions();
        Future<JsonObject> proven = secret == null ? Future.succeededFuture(request)
                : bus.<JsonObject>request(address, new JsonObject().put("challenge", true), bounded).map(reply -> {
                    String nonce = reply.body().getString("nonce");
                    String slot = join.slot() >= 0 ? Integer.toString(join.slot()) : "";
                    return request.put("nonce", nonce).put("proof", secret.mac(Addresses.JOIN_PROOF, join.job(),
                            join.workerId(), Long.toString(join.dim()), slot, relay != null ? relay : "", nonce));
                });
        return proven.compose(r -> bus.<JsonObject>request(address, r, bounded)).compose(reply -> {
            JsonObject session = reply.body();
            worker.session(session);
            plan = ShardPlan.fromSession(session);
            // Chunks from another JVM carry the token this worker's join was given (none in the aggregator's JVM).
            chunkOptions = new DeliveryOptions().setCodecName(FrameCodec.NAME)
                    .setSendTimeout(session.getLong("deadline_max_ms") + session.getLong("result_timeout_ms"));
            String token = session.getString(Addresses.TOKEN_HEADER);
            if (token != null) {
                chunkOptions.addHeader(Addresses.TOKEN_HEADER, token);
            }
            results = bus.consumer(addresses.results(worker.slot()), this::onResult);
            return results.completion();
        }).onSuccess(v -> watch());
    }

    /** Tells the worker when the server it joined leaves the cluster (until this transport closes). */
    private void watch() {
        if (holder != null) {
            JobServer.gone(vertx, join.job(), holder, closed.future()).onSuccess(reason ->
                    worker.context.runOnContext(v -> serverLeft(reason)));
        }
    }

    /** The server this transport joined left the cluster: the worker's session is lost. */
    void serverLeft(String reason) {
        worker.lost(this, new IllegalStateException(reason));
    }

    @Override
    public Future<Void> send(long round, int slot, int chunkIndex, long offset, float[] values, int count) {
        // Each chunk goes to the shard that owns its column (the session's plan; one shard: flagagg.JOB.chunks).
        return bus.request(addresses.chunks(plan.shardOf(chunkIndex)), ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, round, slot, chunkIndex,
                offset, values, 0, count), chunkOptions).mapEmpty();
    }

    @Override
    public Future<Void> close() {
        closed.tryComplete();
        return results == null ? Future.succeededFuture() : results.unregister();
    }

    private void onResult(Message<Object> msg) {
        String type = msg.headers().get("type");
        if ("summary".equals(type) && msg.body() instanceof JsonObject summary) {
            msg.reply(null);
            worker.summary(summary);
        } else if ("dropped".equals(type) && msg.body() instanceof JsonObject notice) {
            worker.dropped(notice.getLong("round", -1L), notice.getString("reason"));
        } else if ("chunk".equals(type) && msg.body() instanceof Buffer frame) {
            ChunkFrame.Header h;
            try {
                h = ChunkFrame.parse(frame);
            } catch (FrameException e) {
                msg.fail(Codes.BAD_REQUEST, "malformed aggregate frame: " + e.getMessage());
                return;
            }
            worker.aggregate(h, frame).onComplete(ar -> {
                if (ar.succeeded()) {
                    msg.reply(null);
                } else {
                    msg.fail(ar.cause() instanceof IllegalArgumentException ? Codes.BAD_REQUEST : Codes.SERVER_ERROR,
                            "aggregate chunk not accepted: " + ar.cause().getMessage());
                }
            });
        } else {
            msg.fail(Codes.BAD_REQUEST, "unexpected message type " + type);
        }
    }
}
