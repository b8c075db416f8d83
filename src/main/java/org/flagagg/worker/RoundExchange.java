package org.flagagg.worker;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;

/**
 * One round's exchange of a {@link Worker}, whatever the transport: chunks go out under credits and the
 * transport's write queue, the round's summary and the aggregate's chunks come in. Confined to the worker's
 * context.
 */
final class RoundExchange {
    /** How the reason of a round failed by the loss of an aggregator's host starts (docs/protocol.md). */
    static final String AGGREGATOR_LOST = "aggregator lost";
    private final Worker worker;
    private final Vertx vertx;
    final long round;
    private final Worker.GradientReader gradient;
    private final Worker.AsyncResultSink sink;
    /**
     * Scratch for one chunk: the gradient's next chunk on the way out, an aggregate chunk on the way in. The
     * worker's, shared by its exchanges (every use is synchronous on the worker's context): a fresh
     * chunk-sized array per round was 16 x 4 MiB zeroed per round in a 16-worker JVM.
     */
    private final float[] chunk;
    private final Promise<Worker.Aggregate> promise = Promise.promise();
    private long timer = -1;
    /** Index of the next chunk to send, chunks sent and not yet acknowledged, and whether to send more. */
    private int next;
    private int inFlight;
    private boolean stopSending;
    private String refusal;
    /** Whether the server acknowledged a chunk of this round: it was open while this worker sent. */
    private boolean acknowledged;
    private JsonObject summary;
    private int received;

    RoundExchange(Worker worker, long round, Worker.GradientReader gradient, Worker.AsyncResultSink sink,
            float[] scratch) {
        this.worker = worker;
        this.vertx = worker.vertx;
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
    Future<Worker.Aggregate> begin(long timeoutMs, Future<?> sendWhen) {
        timer = vertx.setTimer(timeoutMs, t -> fail(new Worker.RoundFailedException(
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

    /**
     * Sends chunks while the credits allow, the transport's write queue has room and sending has not stopped.
     * A refusal (the server's code) stops sending or fails the exchange; a transport failure fails it.
     */
    void pump() {
        Transport transport = worker.transport;
        int chunkCoords = chunk.length;
        while (!stopSending && inFlight < worker.credits() && next < worker.chunks()) {
            if (transport.writeQueueFull()) {
                transport.drainHandler(worker::pumpAll);
                return;
            }
            int index = next++;
            long offset = (long) index * chunkCoords;
            int count = (int) Math.min(chunkCoords, worker.dim() - offset);
            gradient.read(offset, count, chunk);
            inFlight++;
            transport.send(round, worker.slot(), index, offset, chunk, count).onComplete(ar -> {
                inFlight--;
                if (ar.succeeded()) {
                    acknowledged = true;
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

    /**
     * The server refused a chunk. A round ahead of the server's schedule (425), or one over before this
     * worker took part (410 before any chunk was acknowledged and before its result), fails the exchange at
     * once: no result will come for this worker. Any other refusal (closing, excluded, bad chunk) stops
     * sending; the result still comes.
     */
    private void refused(int code, String reason) {
        if (code == Codes.TOO_EARLY || code == Codes.ROUND_OVER && !acknowledged && summary == null) {
            fail(worker.transport.refusal(round, code, reason));
            return;
        }
        stopSending = true;
        if (refusal == null) {
            refusal = code + " " + reason;
        }
    }

    /**
     * The server stopped streaming this round's results to this worker (it held them too long): the exchange
     * fails with the reason.
     */
    void dropped(String reason) {
        fail(worker.transport.dropNotice(round, reason));
    }

    /**
     * The round's summary: a failed round fails the exchange (with {@link Worker.AggregatorLostException} when a
     * shard's host died: retry at the next round), a completed one announces its chunks.
     */
    void summary(JsonObject s) {
        summary = s;
        stopSending = true;
        if (!"completed".equals(s.getString("status"))) {
            String reason = s.getString("reason", s.getJsonObject("record", new JsonObject()).getString("error", "unknown"));
            String message = "round " + round + " failed: " + reason;
            fail(reason.startsWith(AGGREGATOR_LOST) ? new Worker.AggregatorLostException(message, null)
                    : new Worker.RoundFailedException(message));
            return;
        }
        completeIfDone();
    }

    /** One aggregate chunk; the returned future completes when the sink took it (then acknowledge it). */
    Future<Void> chunk(Buffer frame, ChunkFrame.Header h) {
        if (summary == null) {
            return Future.succeededFuture();
        }
        ChunkFrame.readPayload(frame, h, chunk, 0);
        return chunk(h, chunk);
    }

    /** {@link #chunk(Buffer, ChunkFrame.Header)} already decoded: values[0, h.count()), only read. */
    Future<Void> chunk(ChunkFrame.Header h, float[] values) {
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
            promise.tryComplete(new Worker.Aggregate(round, null, summary.getBoolean("included"),
                    reason == null ? refusal : reason, summary.getJsonObject("record")));
        }
    }

    void fail(Throwable cause) {
        end();
        promise.tryFail(cause);
    }

    private void end() {
        stopSending = true;
        vertx.cancelTimer(timer);
        worker.ended(this);
    }
}
