package org.flagagg.worker;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;

/**
 * One round's exchange on the worker side, whatever the transport ({@link WorkerClient} over the event
 * bus, {@code ws.FlagaggClient} over a WebSocket): chunks go out under credits (the subclass sends them),
 * the round's summary and the aggregate's chunks come in. Confined to the client's context.
 */
public abstract class RoundExchange {
    private final Vertx vertx;
    protected final long round;
    protected final WorkerClient.GradientReader gradient;
    private final WorkerClient.AsyncResultSink sink;
    /**
     * Scratch for one chunk: the gradient's next chunk on the way out, an aggregate chunk on the way in. The
     * client's, shared by its exchanges (every use is synchronous on the client's context): a fresh
     * chunk-sized array per round was 16 x 4 MiB zeroed per round in a 16-worker JVM.
     */
    protected final float[] chunk;
    private final Promise<WorkerClient.Aggregate> promise = Promise.promise();
    private long timer = -1;
    /** Index of the next chunk to send, chunks sent and not yet acknowledged, and whether to send more. */
    protected int next;
    protected int inFlight;
    protected boolean stopSending;
    private String refusal;
    /** Whether the server acknowledged a chunk of this round: it was open while this worker sent. */
    private boolean acknowledged;
    private JsonObject summary;
    private int received;

    protected RoundExchange(Vertx vertx, long round, WorkerClient.GradientReader gradient,
            WorkerClient.AsyncResultSink sink, float[] scratch) {
        this.vertx = vertx;
        this.round = round;
        this.gradient = gradient;
        this.sink = sink;
        this.chunk = scratch;
    }

    /**
     * Starts the exchange: it fails if no aggregate came within {@code timeoutMs}; sending starts when
     * {@code sendWhen} succeeds (on this context), and nothing is sent if it fails (the worker still gets the
     * aggregate, as a straggler).
     */
    public Future<WorkerClient.Aggregate> begin(long timeoutMs, Future<?> sendWhen) {
        timer = vertx.setTimer(timeoutMs, t -> fail(new WorkerClient.RoundFailedException(
                "no aggregate for round " + round + " within " + timeoutMs + " ms")));
        if (sendWhen.isComplete()) {
            start(sendWhen.succeeded());
        } else {
            Context context = vertx.getOrCreateContext();
            sendWhen.onComplete(ar -> context.runOnContext(v -> start(ar.succeeded())));
        }
        return promise.future();
    }

    private void start(boolean send) {
        if (send) {
            pump();
        } else {
            stopSending = true;
        }
    }

    /** Sends chunks while the credits allow and sending has not stopped. */
    protected abstract void pump();

    /** The exchange ended, completed or failed: the client forgets it. */
    protected abstract void ended();

    /** The server acknowledged one of this round's chunks. */
    protected void acknowledged() {
        acknowledged = true;
    }

    /**
     * The server refused a chunk. A round ahead of the server's schedule (425), or one over before this
     * worker took part (410 before any chunk was acknowledged and before its result), fails the exchange at
     * once: no result will come for this worker. Any other refusal (closing, excluded, bad chunk) stops
     * sending; the result still comes.
     */
    public void refused(int code, String reason) {
        if (code == Codes.TOO_EARLY || code == Codes.ROUND_OVER && !acknowledged && summary == null) {
            fail(refusal(code, reason));
            return;
        }
        stopSending = true;
        if (refusal == null) {
            refusal = code + " " + reason;
        }
    }

    /** The exception a refusal that ends the exchange at once fails it with. */
    protected Throwable refusal(int code, String reason) {
        return new WorkerClient.RoundRefusedException(code, "round " + round + " refused (" + code + "): " + reason);
    }

    /**
     * The server stopped streaming this round's results to this worker (it held them too long): the exchange
     * fails with the reason.
     */
    public void dropped(String reason) {
        fail(dropNotice(reason));
    }

    /** The exception a "dropped" notice fails the exchange with. */
    protected Throwable dropNotice(String reason) {
        return new WorkerClient.RoundFailedException("round " + round + ": the server stopped sending its results: "
                + reason);
    }

    /** The round's summary: a failed round fails the exchange, a completed one announces its chunks. */
    public void summary(JsonObject s) {
        summary = s;
        stopSending = true;
        if (!"completed".equals(s.getString("status"))) {
            fail(new WorkerClient.RoundFailedException("round " + round + " failed: " + s.getString("reason",
                    s.getJsonObject("record", new JsonObject()).getString("error", "unknown"))));
            return;
        }
        completeIfDone();
    }

    /** One aggregate chunk; the returned future completes when the sink took it (then acknowledge it). */
    public Future<Void> chunk(Buffer frame, ChunkFrame.Header h) {
        if (summary == null) {
            return Future.succeededFuture();
        }
        ChunkFrame.readPayload(frame, h, chunk, 0);
        return chunk(h, chunk);
    }

    /** {@link #chunk(Buffer, ChunkFrame.Header)} already decoded: values[0, h.count()), only read. */
    public Future<Void> chunk(ChunkFrame.Header h, float[] values) {
        if (summary == null) {
            return Future.succeededFuture();
        }
        Future<Void> accepted;
        try {
            accepted = sink.accept(h.offset(), values, h.count());
        } catch (RuntimeException e) {
            accepted = Future.failedFuture(e);
        }
        return accepted.onSuccess(v -> {
            received++;
            completeIfDone();
        }).onFailure(this::fail);
    }

    private void completeIfDone() {
        if (summary != null && received == summary.getInteger("chunks")) {
            end();
            String reason = summary.getString("reason");
            promise.tryComplete(new WorkerClient.Aggregate(round, null, summary.getBoolean("included"),
                    reason == null ? refusal : reason, summary.getJsonObject("record")));
        }
    }

    public void fail(Throwable cause) {
        end();
        promise.tryFail(cause);
    }

    private void end() {
        stopSending = true;
        vertx.cancelTimer(timer);
        ended();
    }
}
