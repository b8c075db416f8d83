package org.flagagg.worker;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.CloseCodes;
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
 *
 * <p>It follows its job across a failover (docs/protocol.md, "Failover"): when its session is lost (the job's
 * server left the cluster, the data link or WebSocket dropped), the exchanges in flight fail with
 * {@link AggregatorLostException} and the next exchange first joins again, asking for the same slot, with the
 * recipe it joined with (waiting for the job's new server, or trying the WebSocket URLs in turn), for at most
 * {@link #setFailoverMs failover_ms}. Refusals (bad token, wrong dimension, wrong secret) are never retried.
 *
 * <p>Over 400 lines: the public API (joins, exchanges, failover) and what the transports hand over share one
 * session state, kept in one place.
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
     * The round's aggregator was lost: this worker's session was (the job's server left the cluster, its link
     * or WebSocket dropped; the next exchange joins again), or a shard host died and the round failed with a
     * reason starting "aggregator lost" (the session holds). Either way, retry the step at {@link #nextRound()}.
     */
    public static final class AggregatorLostException extends RoundFailedException {
        private static final long serialVersionUID = 1L;

        public AggregatorLostException(String message, Throwable cause) {
            super(message);
            initCause(cause);
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

    /** How long a re-join may take by default: a standby server takes a job over within seconds. */
    public static final long DEFAULT_FAILOVER_MS = 60_000;
    /** WebSocket re-joins: the first pause between attempts, doubled up to {@link #MAX_BACKOFF_MS}. */
    static final long FIRST_BACKOFF_MS = 200;
    static final long MAX_BACKOFF_MS = 5_000;
    /**
     * The longest one re-join attempt may wait for an answer (a WebSocket's connection, upgrade and session; a
     * join request on the bus): a host that accepts and never answers, or a dead server's address still
     * listed, must not use up the whole wait.
     */
    static final long MAX_ATTEMPT_MS = 10_000;
    /**
     * The longest one event-bus request of a re-join may wait (the data link's address, the join): a live server
     * answers in milliseconds, while a dead server's address stays listed until the cluster declares it dead
     * (cluster.failure_timeout_s), and a request sent there would otherwise hold the re-join.
     */
    static final long ASK_MS = 3_000;

    /**
     * How this worker joins, kept to join again: a fresh transport asking for {@code slot} (-1 on the first
     * join: as configured; a re-join asks for the slot it had), after waiting up to {@code waitMs} for the job's
     * server where that applies. {@code attempt} counts the attempts of one (re-)join from 0 (a WebSocket
     * worker takes its URLs in turn); {@code choices} is how many a first join tries before it gives up.
     */
    interface Joining {
        Future<Transport> open(int slot, int attempt, long waitMs);

        default int choices() {
            return 1;
        }
    }

    final Vertx vertx;
    /** The context this worker lives on: the one that joined. */
    final Context context;
    private final Joining joining;
    Transport transport;
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
    /** The session was lost and not joined again yet: the next exchange re-joins first. */
    private AggregatorLostException lost;
    /** The re-join under way, shared by the exchanges that wait for it; null when none is. */
    private Future<Void> rejoining;
    private long rejoins;
    private long failoverMs = DEFAULT_FAILOVER_MS;
    private boolean closing;
    /** Aggregate frames of rounds this worker was not exchanging: acknowledged, dropped and counted. */
    private long strayFrames;
    private long lastStrayRound = -1;

    private Worker(Vertx vertx, Joining joining) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.joining = joining;
    }

    /**
     * Joins with {@code joining}: its transport hands this worker the session, then everything the server
     * sends. Each choice (WebSocket URL) is tried once, in turn, until one joins or a refusal is final.
     */
    private static Future<Worker> start(Vertx vertx, Joining joining) {
        Worker worker = new Worker(vertx, joining);
        return worker.firstJoin(0).map(worker);
    }

    private Future<Void> firstJoin(int attempt) {
        return joinWith(-1, attempt, 0).recover(e -> attempt + 1 < joining.choices() && !isFinal(e)
                ? firstJoin(attempt + 1) : Future.failedFuture(e));
    }

    /** One attempt: a fresh transport from the recipe, made current, and its join; on this worker's context. */
    private Future<Void> joinWith(int wantSlot, int attempt, long waitMs) {
        return onContext(joining.open(wantSlot, attempt, waitMs)).compose(t -> {
            transport = t;
            return onContext(t.join(this));
        });
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
        return start(vertx, BusTransport.joining(vertx, new BusTransport.Join(job, workerId, dim, slot, secret), link));
    }

    /**
     * Connects to {@code url} (ws:// or wss://.../v1/workers) with {@code token}, says hello with the
     * gradient's dimension and completes once the server sent the session. Fails with a
     * {@link FlagaggException} if the server refuses (HTTP 401 bad token, 4409 token in use or job full, 4400
     * wrong dimension). Every later server error fails the exchanges with a {@link FlagaggException}.
     */
    public static Future<Worker> connect(Vertx vertx, String url, String token, long dim, WsTransport.Options options) {
        return connect(vertx, List.of(url), token, dim, options);
    }

    /**
     * {@link #connect(Vertx, String, String, long, WsTransport.Options)} to the first of {@code urls} (gateways
     * of the job's servers: the active one and its standbys) that takes this worker, each tried once, in turn.
     * A re-join after a lost connection tries them in turn too, pausing 0.2 s doubling to 5 s between attempts.
     */
    public static Future<Worker> connect(Vertx vertx, List<String> urls, String token, long dim,
            WsTransport.Options options) {
        if (urls.isEmpty()) {
            return Future.failedFuture(new IllegalArgumentException("no WebSocket URL to connect to"));
        }
        List<String> choices = List.copyOf(urls);
        return start(vertx, new Joining() {
            @Override
            public Future<Transport> open(int slot, int attempt, long waitMs) {
                return WsTransport.connect(vertx, choices.get(attempt % choices.size()), token, dim, options, slot,
                        slot < 0 ? 0 : attemptMs(waitMs)).map(ws -> ws);
            }

            @Override
            public int choices() {
                return choices.size();
            }
        });
    }

    /**
     * How long a re-join after a lost session may take before the exchange waiting for it fails (default
     * {@value #DEFAULT_FAILOVER_MS} ms); 0: a lost session is final, as a closed one.
     */
    public Worker setFailoverMs(long failoverMs) {
        if (failoverMs < 0) {
            throw new IllegalArgumentException("failoverMs must be >= 0, got " + failoverMs);
        }
        this.failoverMs = failoverMs;
        return this;
    }

    /** How many times this worker joined again after losing its session. */
    public long rejoins() {
        return rejoins;
    }

    /**
     * Completes with {@link #nextRound()} once this worker holds a session: at once, or after joining again
     * when its session was lost (then the next round is the new session's). Call it before computing a
     * round's gradient when the round id matters.
     */
    public Future<Long> ready() {
        return lost == null ? Future.succeededFuture(nextRound) : rejoin().map(v -> nextRound);
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

    /** {@link #exchange(long, float[])} of the {@linkplain #nextRound() next round} (after a re-join if due). */
    public Future<Aggregate> exchange(float[] gradient) {
        return lost == null ? exchange(nextRound, gradient) : ready().compose(round -> exchange(round, gradient));
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
        if (lost != null) {
            return rejoin().compose(v -> exchange(round, gradient, aggregate, sendWhen));
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
        closing = true;
        return transport.close();
    }

    // ---------------------------------------------------------------------------------------------------
    // Failover

    /**
     * Joins again, asking for the slot this worker had: attempts until one succeeds, a refusal is final or
     * {@link #failoverMs} passed; one re-join at a time. Runs on this worker's context.
     */
    private Future<Void> rejoin() {
        if (closing) {
            return Future.failedFuture(lost);
        }
        if (rejoining != null) {
            return rejoining;
        }
        Promise<Void> done = Promise.promise();
        rejoining = done.future();
        long deadline = System.nanoTime() + failoverMs * 1_000_000;
        attempt(0, FIRST_BACKOFF_MS, deadline).onComplete(ar -> {
            rejoining = null;
            if (ar.succeeded()) {
                lost = null;
                rejoins++;
                LOG.info("worker slot {} joined job '{}' again: next round {}", slot, session.getString("job"),
                        nextRound);
            }
            done.handle(ar);
        });
        return done.future();
    }

    private Future<Void> attempt(int n, long backoffMs, long deadline) {
        long leftMs = Math.max(0, (deadline - System.nanoTime()) / 1_000_000);
        return joinWith(slot, n, leftMs).recover(e -> {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (isFinal(e) || closing) {
                return Future.failedFuture(e);
            }
            if (left < backoffMs) {
                return Future.failedFuture(new AggregatorLostException("aggregator lost: job '"
                        + session.getString("job") + "' took this worker (slot " + slot + ") back nowhere within "
                        + failoverMs + " ms (failover): " + e.getMessage(), e));
            }
            LOG.debug("worker slot {}: re-join attempt {} failed ({}); again in {} ms", slot, n, e.getMessage(),
                    backoffMs);
            Promise<Void> again = Promise.promise();
            vertx.setTimer(backoffMs, t -> attempt(n + 1, Math.min(2 * backoffMs, MAX_BACKOFF_MS), deadline)
                    .onComplete(again));
            return again.future();
        });
    }

    /** The bound of one re-join attempt when {@code waitMs} of the wait are left. */
    static long attemptMs(long waitMs) {
        return Math.max(1, Math.min(waitMs, MAX_ATTEMPT_MS));
    }

    /**
     * A refusal that joining again cannot change: a bad token or secret, a wrong dimension, a slot held by
     * another worker (bus), a protocol violation. Anything else (no server, no answer, a dropped connection, a
     * WebSocket conflict while the old connection is still counted) is worth another attempt.
     */
    private static boolean isFinal(Throwable e) {
        if (e instanceof ReplyException r) {
            return r.failureType() == ReplyFailure.RECIPIENT_FAILURE && r.failureCode() >= 400 && r.failureCode() < 500;
        }
        if (e instanceof FlagaggException f) {
            return f.code() >= 400 && f.code() < 500 || f.code() == CloseCodes.PROTOCOL;
        }
        return false;
    }

    /** {@code future}'s outcome handed over on this worker's context. */
    private <T> Future<T> onContext(Future<T> future) {
        Promise<T> promise = Promise.promise();
        future.onComplete(ar -> {
            if (Vertx.currentContext() == context) {
                promise.handle(ar);
            } else {
                context.runOnContext(v -> promise.handle(ar));
            }
        });
        return promise.future();
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
        // The server owns the sequence: after a re-join, a new server's round, even one below the last seen.
        nextRound = s.getLong("round", 0L);
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

    /**
     * The session of {@code from} was lost (its server left the cluster, its link or WebSocket dropped): every
     * exchange fails with {@link AggregatorLostException}, and the next one joins again. Ignored from a
     * transport that is no longer this worker's; final when failover is off.
     */
    void lost(Transport from, Throwable cause) {
        if (from != transport || lost != null || gone != null || closing) {
            return;
        }
        AggregatorLostException e = new AggregatorLostException("aggregator lost: " + cause.getMessage(), cause);
        if (failoverMs == 0) {
            gone(e);
            return;
        }
        LOG.warn("worker slot {}: {}", slot, e.getMessage());
        lost = e;
        failAll(e);
        from.close();
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
