package org.flagagg.worker;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.JobSecret;

/**
 * A worker of a job, for a Java training loop inside the Vert.x cluster: join once, then
 * {@link #exchange} each round's gradient for the round's aggregate. Chunks go out with at most
 * {@code credits} unacknowledged (the aggregator's reply is the credit); the aggregate comes back the same
 * way. Use it from one Vert.x context (a verticle, or the thread that created it via {@link #join}).
 */
public final class WorkerClient implements GradientExchange {

    /**
     * A round's aggregate, and whether this worker's gradient was part of it. {@code values} is null when
     * the aggregate went to a {@link ResultSink}.
     */
    public record Aggregate(long round, float[] values, boolean included, String reason, JsonObject record) {
    }

    /** Supplies a gradient chunk by chunk: coordinates [offset, offset + count) into dst[0, count). */
    @FunctionalInterface
    public interface GradientReader {
        void read(long offset, int count, float[] dst);
    }

    /** Receives the aggregate chunk by chunk (in any order): values[0, count) are coordinates [offset, ..). */
    @FunctionalInterface
    public interface ResultSink {
        void accept(long offset, float[] values, int count);
    }

    /**
     * A {@link ResultSink} that acknowledges a chunk (returns the credit to the aggregator) only when the
     * returned future completes: a slow or back-pressured reader. values[0, count) are valid only during
     * the call, and only to read (the workers of one node may be handed the same array). A failed future
     * refuses the chunk, and the aggregator stops streaming to this worker.
     */
    @FunctionalInterface
    public interface AsyncResultSink {
        Future<Void> accept(long offset, float[] values, int count);
    }

    /** The round failed (below quorum at its deadline, or a server failure): there is no aggregate. */
    public static class RoundFailedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public RoundFailedException(String message) {
            super(message);
        }
    }

    /**
     * The server refused the round id at once: ahead of its schedule ({@link Codes#TOO_EARLY}) or over before
     * this worker took part ({@link Codes#ROUND_OVER}); the message names the current round, and
     * {@link GradientExchange#nextRound()} is the id to use.
     */
    public static final class RoundRefusedException extends RoundFailedException {
        private static final long serialVersionUID = 1L;
        private final int code;

        public RoundRefusedException(int code, String message) {
            super(message);
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    private final Vertx vertx;
    private final EventBus bus;
    private final Addresses addresses;
    private final JsonObject session;
    private final int slot;
    private final int chunkCoords;
    /** One chunk's values, for every exchange of this worker (see {@link RoundExchange#chunk}). */
    private final float[] scratch;
    private final int chunks;
    private final long dim;
    private final int credits;
    private final long timeoutMs;
    private final Map<Long, Exchange> exchanges = new HashMap<>();
    private final LinkClient link;
    private final Context context;
    private MessageConsumer<Object> results;
    /** The round to exchange next: the session's current round, then the one after the latest result. */
    private long nextRound;

    private WorkerClient(Vertx vertx, String job, JsonObject session, LinkClient link) {
        this.vertx = vertx;
        this.link = link;
        this.context = vertx.getOrCreateContext();
        this.bus = vertx.eventBus();
        this.addresses = new Addresses(job);
        this.session = session;
        this.slot = session.getInteger("slot");
        this.chunkCoords = session.getInteger("chunk_coords");
        this.scratch = new float[chunkCoords];
        this.chunks = session.getInteger("chunks");
        this.dim = session.getLong("dim");
        this.credits = session.getInteger("credits");
        // A chunk unacknowledged this long means the aggregator is gone or wedged.
        this.timeoutMs = session.getLong("deadline_max_ms") + session.getLong("result_timeout_ms");
        this.nextRound = session.getLong("round", 0L);
    }

    /**
     * Joins {@code job} as {@code workerId} with a gradient of {@code dim} values; {@code slot} >= 0 asks for
     * a given slot (reproducible worker order), -1 takes the first free one.
     */
    public static Future<WorkerClient> join(Vertx vertx, String job, String workerId, long dim, int slot) {
        return join(vertx, job, workerId, dim, slot, null);
    }

    /**
     * {@link #join(Vertx, String, String, long, int)} with the gradient and the aggregate's chunks on this
     * node's data link instead of the event bus (the join, round summaries and records stay on the bus).
     * The aggregate then comes once per link for all the node's workers. The join proves the link's job
     * secret.
     */
    public static Future<WorkerClient> join(Vertx vertx, String job, String workerId, long dim, int slot,
            LinkClient link) {
        return join(vertx, job, workerId, dim, slot, link, link == null ? null : link.secret());
    }

    /**
     * The general join: with a {@code secret}, the worker first asks the aggregator for a nonce and joins with
     * its proof (needed from another JVM of the cluster; docs/protocol.md, "Joining from another JVM"), and
     * its bus chunks carry the chunk_token the join gave it. {@code link} may be null (chunks on the bus).
     */
    public static Future<WorkerClient> join(Vertx vertx, String job, String workerId, long dim, int slot,
            LinkClient link, JobSecret secret) {
        FrameCodec.register(vertx.eventBus());
        JsonObject request = new JsonObject().put("worker", workerId).put("dim", dim);
        if (slot >= 0) {
            request.put("slot", slot);
        }
        if (link != null) {
            request.put("relay", link.relay());
        }
        String address = new Addresses(job).join();
        Future<JsonObject> proven = secret == null ? Future.succeededFuture(request)
                : vertx.eventBus().<JsonObject>request(address, new JsonObject().put("challenge", true)).map(reply -> {
                    String nonce = reply.body().getString("nonce");
                    return request.put("nonce", nonce).put("proof", secret.mac(Addresses.JOIN_PROOF, job,
                            workerId, Long.toString(dim), slot >= 0 ? Integer.toString(slot) : "",
                            link != null ? link.relay() : "", nonce));
                });
        return proven.compose(r -> vertx.eventBus().<JsonObject>request(address, r))
                .map(reply -> new WorkerClient(vertx, job, reply.body(), link))
                .compose(client -> client.listen().map(client));
    }

    private Future<Void> listen() {
        results = bus.consumer(addresses.results(slot), this::onResult);
        if (link != null) {
            link.attach(slot, new LinkClient.Receiver() {
                @Override
                public Context context() {
                    return context;
                }

                @Override
                public Future<Void> aggregateChunk(ChunkFrame.Header header, float[] values) {
                    Exchange exchange = exchangeFor(header);
                    return exchange == null ? unexpected(header) : exchange.chunk(header, values);
                }

                @Override
                public void linkClosed(String reason) {
                    // The aggregate's chunks cannot come any more: the exchanges fail now, not at their timeout.
                    List.copyOf(exchanges.values()).forEach(e -> e.fail(new IllegalStateException(reason)));
                }
            });
        }
        return results.completion();
    }

    @Override
    public JsonObject session() {
        return session.copy();
    }

    @Override
    public int slot() {
        return slot;
    }

    @Override
    public long nextRound() {
        return nextRound;
    }

    /**
     * The streaming exchange with two hooks (simulated stragglers and slow readers use them): the round is
     * registered at once, so its summary and aggregate are received whenever they come, but sending starts
     * only when {@code sendWhen} succeeds; if it fails, nothing is sent (the worker skips the round and
     * still receives the aggregate, as a straggler). Each aggregate chunk is acknowledged when the future
     * the sink returned completes.
     */
    @Override
    public Future<Aggregate> exchange(long round, GradientReader gradient, AsyncResultSink aggregate,
            Future<?> sendWhen) {
        if (exchanges.containsKey(round)) {
            return Future.failedFuture(new IllegalStateException("round " + round + " is already being exchanged"));
        }
        Exchange exchange = new Exchange(round, gradient, aggregate);
        exchanges.put(round, exchange);
        return exchange.begin(timeoutMs * 2, sendWhen);
    }

    /** Chunks from another JVM carry the token this worker's join was given (none in the aggregator's JVM). */
    private DeliveryOptions withToken(DeliveryOptions options) {
        String token = session.getString(Addresses.TOKEN_HEADER);
        return token == null ? options : options.addHeader(Addresses.TOKEN_HEADER, token);
    }

    /** Stops listening for results. */
    @Override
    public Future<Void> close() {
        if (link != null) {
            link.detach(slot);
        }
        return results == null ? Future.succeededFuture() : results.unregister();
    }

    private void onResult(Message<Object> msg) {
        String type = msg.headers().get("type");
        if ("summary".equals(type) && msg.body() instanceof JsonObject summary) {
            long round = summary.getLong("round");
            nextRound = Math.max(nextRound, round + 1);
            Exchange exchange = exchanges.get(round);
            msg.reply(null);
            if (exchange != null) {
                exchange.summary(summary);
            }
        } else if ("dropped".equals(type) && msg.body() instanceof JsonObject notice) {
            Exchange exchange = exchanges.get(notice.getLong("round"));
            if (exchange != null) {
                exchange.dropped(notice.getString("reason"));
            }
        } else if ("chunk".equals(type) && msg.body() instanceof Buffer frame) {
            ChunkFrame.Header h;
            try {
                h = ChunkFrame.parse(frame);
            } catch (FrameException e) {
                msg.fail(Codes.BAD_REQUEST, "malformed aggregate frame: " + e.getMessage());
                return;
            }
            if (!exchanges.containsKey(h.round())) {
                msg.fail(Codes.BAD_REQUEST, "unexpected aggregate chunk for round " + h.round());
                return;
            }
            aggregateChunk(frame, h).onComplete(ar -> {
                if (ar.succeeded()) {
                    msg.reply(null);
                } else {
                    msg.fail(Codes.SERVER_ERROR, "aggregate chunk not accepted: " + ar.cause().getMessage());
                }
            });
        } else {
            msg.fail(Codes.BAD_REQUEST, "unexpected message type " + type);
        }
    }

    /**
     * One valid aggregate frame for this worker from the bus: handed to its round's exchange; one for no
     * exchange of this worker, or out of the job's shape, is refused.
     */
    private Future<Void> aggregateChunk(Buffer frame, ChunkFrame.Header h) {
        Exchange exchange = exchangeFor(h);
        return exchange == null ? unexpected(h) : exchange.chunk(frame, h);
    }

    /** The exchange an aggregate frame belongs to, or null if none of this worker or out of the job's shape. */
    private Exchange exchangeFor(ChunkFrame.Header h) {
        Exchange exchange = exchanges.get(h.round());
        return exchange == null || h.offset() + h.count() > dim || h.count() > chunkCoords ? null : exchange;
    }

    private static Future<Void> unexpected(ChunkFrame.Header h) {
        return Future.failedFuture(new IllegalArgumentException("unexpected aggregate chunk for round " + h.round()));
    }

    /** One round's exchange: chunks out under credits, summary and aggregate chunks in. */
    private final class Exchange extends RoundExchange {
        final DeliveryOptions options = withToken(new DeliveryOptions().setSendTimeout(timeoutMs)
                .setCodecName(FrameCodec.NAME));

        Exchange(long round, GradientReader gradient, AsyncResultSink sink) {
            super(vertx, round, gradient, sink, scratch);
        }

        @Override
        protected void pump() {
            while (!stopSending && inFlight < credits && next < chunks) {
                int index = next++;
                long offset = (long) index * chunkCoords;
                int count = (int) Math.min(chunkCoords, dim - offset);
                gradient.read(offset, count, chunk);
                inFlight++;
                Future<?> sent = link != null ? link.send(round, slot, index, offset, chunk, count)
                        : bus.request(addresses.chunks(), ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, round, slot,
                                index, offset, chunk, 0, count), options);
                sent.onComplete(ar -> {
                    inFlight--;
                    if (ar.succeeded()) {
                        acknowledged();
                        pump();
                    } else if (ar.cause() instanceof ReplyException e && e.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
                        // Closed, excluded, refused: stop sending; the aggregate still comes (or the failure).
                        refused(e.failureCode(), e.getMessage());
                    } else {
                        fail(ar.cause());
                    }
                });
            }
        }

        @Override
        protected void ended() {
            exchanges.remove(round, this);
        }
    }
}
