package org.flagagg.worker;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.JobSecret;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker of a job, for a Java training loop: join once, then {@link #exchange} each round's gradient for
 * the round's aggregate. The same worker runs over three transports ({@link Transport}): the event bus
 * inside the cluster ({@link #join(Vertx, String, String, long, int)}), a worker node's data link
 * ({@link #join(Vertx, String, String, long, int, LinkClient)}) and a WebSocket to the gateway
 * ({@link #connect}). Chunks go out with at most {@code credits} unacknowledged (the aggregator's answer is
 * the credit); the aggregate comes back the same way. Use it from one Vert.x context (the one that joined).
 */
public final class Worker {
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

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
     * {@link #nextRound()} is the id to use. (Over a WebSocket the refusal is a {@link FlagaggException}.)
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

    final Vertx vertx;
    final Transport transport;
    private final Map<Long, RoundExchange> exchanges = new HashMap<>();
    private JsonObject session;
    private int slot;
    private int chunkCoords;
    private int chunks;
    private long dim;
    private int credits;
    /** A chunk unacknowledged this long means the aggregator is gone or wedged. */
    private long timeoutMs;
    /** One chunk's values, for every exchange of this worker (see {@link RoundExchange#chunk}). */
    private float[] scratch;
    /** The round to exchange next: the session's current round, then the one after the latest result. */
    private long nextRound;
    /** The transport failed for good (a WebSocket closed): every exchange fails with it. */
    private Throwable gone;
    /** Aggregate frames of rounds this worker was not exchanging: acknowledged, dropped and counted. */
    private long strayFrames;
    private long lastStrayRound = -1;

    private Worker(Vertx vertx, Transport transport) {
        this.vertx = vertx;
        this.transport = transport;
    }

    /** Joins through {@code transport}; it hands this worker the session, then everything the server sends. */
    private static Future<Worker> start(Vertx vertx, Transport transport) {
        Worker worker = new Worker(vertx, transport);
        return transport.join(worker).map(worker);
    }

    /**
     * Joins {@code job} over the event bus as {@code workerId} with a gradient of {@code dim} values;
     * {@code slot} >= 0 asks for a given slot (reproducible worker order), -1 takes the first free one.
     */
    public static Future<Worker> join(Vertx vertx, String job, String workerId, long dim, int slot) {
        return join(vertx, job, workerId, dim, slot, null);
    }

    /**
     * {@link #join(Vertx, String, String, long, int)} with the gradient and the aggregate's chunks on this
     * node's data link instead of the event bus (the join, round summaries and records stay on the bus; null:
     * the bus only). The aggregate then comes once per link for all the node's workers. The join proves the
     * link's job secret.
     */
    public static Future<Worker> join(Vertx vertx, String job, String workerId, long dim, int slot, LinkClient link) {
        return join(vertx, job, workerId, dim, slot, link, link == null ? null : link.secret());
    }

    /**
     * The general event-bus join: with a {@code secret}, the worker first asks the aggregator for a nonce and
     * joins with its proof (needed from another JVM of the cluster; docs/protocol.md, "Joining from another
     * JVM"), and its bus chunks carry the chunk_token the join gave it. {@code link} may be null (chunks on
     * the bus).
     */
    public static Future<Worker> join(Vertx vertx, String job, String workerId, long dim, int slot, LinkClient link,
            JobSecret secret) {
        BusTransport.Join join = new BusTransport.Join(job, workerId, dim, slot, secret);
        return start(vertx, link == null ? new BusTransport(vertx, join) : new LinkTransport(vertx, join, link));
    }

    /**
     * Connects to {@code url} (ws:// or wss://.../v1/workers) with {@code token}, says hello with the
     * gradient's dimension and completes once the server sent the session. Fails with a
     * {@link FlagaggException} if the server refuses (HTTP 401 bad token, 4409 token in use or job full, 4400
     * wrong dimension). Every later server error fails the exchanges with a {@link FlagaggException}.
     */
    public static Future<Worker> connect(Vertx vertx, String url, String token, long dim, WsTransport.Options options) {
        return WsTransport.connect(vertx, url, token, dim, options).compose(ws -> start(vertx, ws));
    }

    /** The session the aggregator gave this worker (job, rule, dim, chunk_coords, credits, slot, ...). */
    public JsonObject session() {
        return session.copy();
    }

    /** This worker's slot. */
    public int slot() {
        return slot;
    }

    /** Largest number of values per chunk (chunk_coords of the session). */
    public int chunkCoords() {
        return chunkCoords;
    }

    /**
     * The round id to exchange next: the server owns the sequence. It starts at the current round the session
     * named (a worker joining or rejoining mid-job follows the job, it does not start at 0) and moves past
     * every round whose result this worker received. An id ahead of the server's schedule, or of a round that
     * is over, is refused at once ({@link RoundRefusedException}, or a {@link FlagaggException} over a
     * WebSocket).
     */
    public long nextRound() {
        return nextRound;
    }

    /**
     * Aggregate frames that came for a round this worker was not exchanging (it skipped the round, or its
     * exchange already ended): acknowledged and dropped, never an error (docs/protocol.md).
     */
    public long strayFrames() {
        return strayFrames;
    }

    /**
     * Sends this worker's gradient for {@code round} and completes with the round's aggregate (also when
     * this worker was a straggler or excluded: {@link Aggregate#included()} tells). Fails with
     * {@link RoundFailedException} if the round failed.
     */
    public Future<Aggregate> exchange(long round, float[] gradient) {
        if (gradient.length != dim) {
            return Future.failedFuture(new IllegalArgumentException("gradient has " + gradient.length
                    + " values, the job's dim is " + dim));
        }
        float[] aggregate = new float[gradient.length];
        return exchange(round, (offset, count, dst) -> System.arraycopy(gradient, (int) offset, dst, 0, count),
                (offset, values, count) -> System.arraycopy(values, 0, aggregate, (int) offset, count))
                .map(a -> new Aggregate(a.round(), aggregate, a.included(), a.reason(), a.record()));
    }

    /** {@link #exchange(long, float[])} of the {@linkplain #nextRound() next round}. */
    public Future<Aggregate> exchange(float[] gradient) {
        return exchange(nextRound(), gradient);
    }

    /**
     * The streaming form of {@link #exchange(long, float[])}: the gradient is read chunk by chunk and the
     * aggregate handed over chunk by chunk, so neither has to fit in the heap.
     */
    public Future<Aggregate> exchange(long round, GradientReader gradient, ResultSink aggregate) {
        return exchange(round, gradient, (offset, values, count) -> {
            aggregate.accept(offset, values, count);
            return Future.succeededFuture();
        }, Future.succeededFuture());
    }

    /**
     * The streaming exchange with two hooks (simulated stragglers and slow readers use them): the round is
     * registered at once, so its summary and aggregate are received whenever they come, but sending starts
     * only when {@code sendWhen} succeeds; if it fails, nothing is sent (the worker skips the round and
     * still receives the aggregate, as a straggler). Each aggregate chunk is acknowledged when the future
     * the sink returned completes.
     */
    public Future<Aggregate> exchange(long round, GradientReader gradient, AsyncResultSink aggregate,
            Future<?> sendWhen) {
        if (gone != null) {
            return Future.failedFuture(gone);
        }
        if (exchanges.containsKey(round)) {
            return Future.failedFuture(new IllegalStateException("round " + round + " is already being exchanged"));
        }
        RoundExchange exchange = new RoundExchange(this, round, gradient, aggregate, scratch);
        exchanges.put(round, exchange);
        return exchange.begin(timeoutMs * 2, sendWhen);
    }

    /** Leaves: stops receiving results and releases the transport; pending exchanges fail. */
    public Future<Void> close() {
        return transport.close();
    }

    // ---------------------------------------------------------------------------------------------------
    // What the transport hands over, on this worker's context

    /** The session: called once, before anything else. */
    void session(JsonObject s) {
        session = s;
        slot = s.getInteger("slot");
        chunkCoords = s.getInteger("chunk_coords");
        scratch = new float[chunkCoords];
        chunks = s.getInteger("chunks");
        dim = s.getLong("dim");
        credits = s.getInteger("credits");
        timeoutMs = s.getLong("deadline_max_ms") + s.getLong("result_timeout_ms");
        nextRound = Math.max(nextRound, s.getLong("round", 0L));
    }

    int chunks() {
        return chunks;
    }

    long dim() {
        return dim;
    }

    int credits() {
        return credits;
    }

    /** A round's summary (the result message): moves {@link #nextRound} on, and ends or announces its exchange. */
    void summary(JsonObject summary) {
        long round = summary.getLong("round", -1L);
        nextRound = Math.max(nextRound, round + 1);
        RoundExchange exchange = exchanges.get(round);
        if (exchange != null) {
            exchange.summary(summary);
        }
    }

    /** The server stopped streaming {@code round}'s results to this worker. */
    void dropped(long round, String reason) {
        RoundExchange exchange = exchanges.get(round);
        if (exchange != null) {
            exchange.dropped(reason);
        }
    }

    /**
     * One valid aggregate frame, values still encoded. The returned future completes when the worker took it
     * (then the transport acknowledges it); it fails when the frame is out of the job's shape.
     */
    Future<Void> aggregate(ChunkFrame.Header h, Buffer frame) {
        RoundExchange exchange = exchanges.get(h.round());
        return exchange == null ? stray(h) : !fits(h) ? misfit(h) : exchange.chunk(frame, h);
    }

    /** {@link #aggregate(ChunkFrame.Header, Buffer)} already decoded: values[0, h.count()), only read. */
    Future<Void> aggregate(ChunkFrame.Header h, float[] values) {
        RoundExchange exchange = exchanges.get(h.round());
        return exchange == null ? stray(h) : !fits(h) ? misfit(h) : exchange.chunk(h, values);
    }

    /**
     * A frame of a round this worker is not exchanging: not its business to fail on (it skipped the round, or
     * gave it up), so it is acknowledged and dropped, and counted, with one warning per round.
     */
    private Future<Void> stray(ChunkFrame.Header h) {
        strayFrames++;
        if (h.round() != lastStrayRound) {
            lastStrayRound = h.round();
            LOG.warn("worker slot {}: aggregate frames of round {}, which this worker is not exchanging: acknowledged "
                    + "and dropped ({} so far)", slot, h.round(), strayFrames);
        }
        return Future.succeededFuture();
    }

    /** Whether an aggregate frame fits the job's shape: within dim, at most one chunk. */
    private boolean fits(ChunkFrame.Header h) {
        return h.offset() + h.count() <= dim && h.count() <= chunkCoords;
    }

    /** A frame of an exchanged round out of the job's shape: refused (it would not fit the aggregate). */
    private static Future<Void> misfit(ChunkFrame.Header h) {
        return Future.failedFuture(new IllegalArgumentException("aggregate chunk " + h.chunkIndex() + " of round "
                + h.round() + " is out of the job's shape: [" + h.offset() + ", +" + h.count() + ")"));
    }

    /** The transport failed for good: every exchange fails with {@code cause}, and so do later ones. */
    void gone(Throwable cause) {
        if (gone == null) {
            gone = cause;
        }
        failAll(cause);
    }

    /** A failure of the whole session (a server error message, a broken link): every exchange fails. */
    void failAll(Throwable cause) {
        new ArrayList<>(exchanges.values()).forEach(x -> x.fail(cause));
    }

    /** The transport can take writes again: every exchange sends on. */
    void pumpAll() {
        new ArrayList<>(exchanges.values()).forEach(RoundExchange::pump);
    }

    /** An exchange ended (completed or failed): forgotten here, and by the transport. */
    void ended(RoundExchange exchange) {
        if (exchanges.remove(exchange.round, exchange)) {
            transport.roundEnded(exchange.round);
        }
    }
}
