package org.flagagg.bus;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/**
 * A joined worker of a job, whatever its transport: {@link WorkerClient} (the event bus, inside the
 * cluster) and {@code org.flagagg.ws.FlagaggClient} (a WebSocket to the gateway). The load tester drives
 * either through this interface. Use it from one Vert.x context.
 */
public interface GradientExchange {

    /** The session the aggregator gave this worker (job, rule, dim, chunk_coords, credits, slot, ...). */
    JsonObject session();

    /** This worker's slot. */
    int slot();

    /**
     * Sends this worker's gradient for {@code round} chunk by chunk and completes with the round's aggregate
     * (streamed to {@code aggregate}; {@link WorkerClient.Aggregate#values()} is null). Sending starts when
     * {@code sendWhen} succeeds; if it fails nothing is sent and the worker still receives the aggregate, as
     * a straggler. Each aggregate chunk is acknowledged when the future the sink returned completes.
     */
    Future<WorkerClient.Aggregate> exchange(long round, WorkerClient.GradientReader gradient,
            WorkerClient.AsyncResultSink aggregate, Future<?> sendWhen);

    /** Leaves: stops receiving results and releases the transport. */
    Future<Void> close();
}
