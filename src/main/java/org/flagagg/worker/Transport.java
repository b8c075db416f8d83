package org.flagagg.worker;

import io.vertx.core.Future;

/**
 * How a {@link Worker} reaches the aggregator: {@link BusTransport} (the event bus), {@link LinkTransport}
 * (the event bus for control, a worker node's data link for the chunks) or {@link WsTransport} (a WebSocket
 * to the gateway). The worker's logic (credits, refusals, summaries, the aggregate) is the same over all
 * three; a transport only moves messages. Used from the worker's context.
 */
interface Transport {

    /**
     * Joins the job and from then on hands {@code worker} what the server sends, on the worker's context:
     * first the session ({@link Worker#session}), then summaries, dropped notices and aggregate frames
     * (acknowledged when the future the worker returns completes). Completes once the worker can exchange.
     */
    Future<Void> join(Worker worker);

    /**
     * Sends values[0, count) as the gradient chunk (round, slot, chunkIndex, offset). Completes when the
     * aggregator stored it; fails with a {@link io.vertx.core.eventbus.ReplyException} of type
     * RECIPIENT_FAILURE carrying the aggregator's code when it refused it, with another exception when the
     * transport failed. values may be reused once this returns.
     */
    Future<Void> send(long round, int slot, int chunkIndex, long offset, float[] values, int count);

    /** The worker's exchange of {@code round} ended: answers to its chunks still to come are not awaited. */
    default void roundEnded(long round) {
    }

    /** Whether the transport's write queue is full: sending waits for {@link #drainHandler}. */
    default boolean writeQueueFull() {
        return false;
    }

    /** Runs {@code drained} once when the write queue has room again. */
    default void drainHandler(Runnable drained) {
    }

    /** The exception a round refused at once (425, or 410 before taking part) fails its exchange with. */
    default Throwable refusal(long round, int code, String reason) {
        return new Worker.RoundRefusedException(code, "round " + round + " refused (" + code + "): " + reason);
    }

    /** The exception a "dropped" notice fails the round's exchange with. */
    default Throwable dropNotice(long round, String reason) {
        return new Worker.RoundFailedException("round " + round + ": the server stopped sending its results: "
                + reason);
    }

    /** Leaves: stops receiving and releases what the transport holds. */
    Future<Void> close();
}
