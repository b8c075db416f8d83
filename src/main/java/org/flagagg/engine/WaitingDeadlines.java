package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.HashSet;
import java.util.Set;
import java.util.function.LongToIntFunction;

/**
 * {@link Deadlines#waitingFor}: a deadline passes when its timer did and the round's number of workers delivered
 * it ({@link AggregatorVerticle#whenDelivered}). Used on the aggregator's event loop only.
 */
final class WaitingDeadlines implements Deadlines {
    private final LongToIntFunction workersOfRound;
    /** The ids of the deadlines armed and neither fired nor cancelled. */
    private final Set<Long> armed = new HashSet<>();
    private long lastId;
    private Vertx vertx;
    private AggregatorVerticle aggregator;

    WaitingDeadlines(LongToIntFunction workersOfRound) {
        this.workersOfRound = workersOfRound;
    }

    @Override
    public void start(Vertx vertx, AggregatorVerticle aggregator) {
        this.vertx = vertx;
        this.aggregator = aggregator;
    }

    @Override
    public long arm(long round, long ms, Runnable fire) {
        long id = ++lastId;
        armed.add(id);
        Promise<Void> timePassed = Promise.promise();
        vertx.setTimer(ms, t -> timePassed.complete());
        // The delivery watch fails if the round ends first; then nothing is left to fire.
        Future.all(timePassed.future(), aggregator.whenDelivered(round, workersOfRound.applyAsInt(round))).onSuccess(v -> {
            if (armed.remove(id)) {
                fire.run();
            }
        });
        return id;
    }

    @Override
    public void cancel(long id) {
        armed.remove(id);
    }
}
