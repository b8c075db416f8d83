package org.flagagg.worker;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

/**
 * A joined worker of a job, whatever its transport: {@link WorkerClient} (the event bus, inside the
 * cluster) and {@code org.flagagg.worker.FlagaggClient} (a WebSocket to the gateway). The load tester drives
 * either through this interface. Use it from one Vert.x context.
 */
public interface GradientExchange {

    /** The session the aggregator gave this worker (job, rule, dim, chunk_coords, credits, slot, ...). */
    JsonObject session();

    /** This worker's slot. */
    int slot();

    /**
     * The round id to exchange next: the server owns the sequence. It starts at the current round the session
     * named (a worker joining or rejoining mid-job follows the job, it does not start at 0) and moves past
     * every round whose result this worker received. An id ahead of the server's schedule, or of a round that
     * is over, is refused at once ({@link WorkerClient.RoundRefusedException} or the transport's refusal).
     */
    long nextRound();

    /**
     * Sends this worker's gradient for {@code round} chunk by chunk and completes with the round's aggregate
     * (streamed to {@code aggregate}; {@link WorkerClient.Aggregate#values()} is null). Sending starts when
     * {@code sendWhen} succeeds; if it fails nothing is sent and the worker still receives the aggregate, as
     * a straggler. Each aggregate chunk is acknowledged when the future the sink returned completes.
     */
    Future<WorkerClient.Aggregate> exchange(long round, WorkerClient.GradientReader gradient,
            WorkerClient.AsyncResultSink aggregate, Future<?> sendWhen);

    /**
     * Sends this worker's gradient for {@code round} and completes with the round's aggregate (also when
     * this worker was a straggler or excluded: {@link WorkerClient.Aggregate#included()} tells). Fails with
     * {@link WorkerClient.RoundFailedException} if the round failed.
     */
    default Future<WorkerClient.Aggregate> exchange(long round, float[] gradient) {
        long dim = session().getLong("dim");
        if (gradient.length != dim) {
            return Future.failedFuture(new IllegalArgumentException("gradient has " + gradient.length
                    + " values, the job's dim is " + dim));
        }
        float[] aggregate = new float[gradient.length];
        return exchange(round, (offset, count, dst) -> System.arraycopy(gradient, (int) offset, dst, 0, count),
                (offset, values, count) -> System.arraycopy(values, 0, aggregate, (int) offset, count))
                .map(a -> new WorkerClient.Aggregate(a.round(), aggregate, a.included(), a.reason(), a.record()));
    }

    /** {@link #exchange(long, float[])} of the {@linkplain #nextRound() next round}. */
    default Future<WorkerClient.Aggregate> exchange(float[] gradient) {
        return exchange(nextRound(), gradient);
    }

    /**
     * The streaming form of {@link #exchange(long, float[])}: the gradient is read chunk by chunk and the
     * aggregate handed over chunk by chunk, so neither has to fit in the heap.
     */
    default Future<WorkerClient.Aggregate> exchange(long round, WorkerClient.GradientReader gradient,
            WorkerClient.ResultSink aggregate) {
        return exchange(round, gradient, (offset, values, count) -> {
            aggregate.accept(offset, values, count);
            return Future.succeededFuture();
        }, Future.succeededFuture());
    }

    /** Leaves: stops receiving results and releases the transport. */
    Future<Void> close();
}
