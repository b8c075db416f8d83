package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;

/**
 * Test hook of {@link AggregatorVerticle#whenDelivered}: who waits for how many workers to deliver which
 * round, so a test that controls the {@link Deadlines} fires a deadline only after them. Confined to the
 * coordinator's event loop.
 */
final class DeliveryWatches {
    private record Watch(long round, int count, Promise<Void> reached) {
    }

    private final List<Watch> watches = new ArrayList<>();

    /** Completes once {@link #delivered} reports {@code count} workers of {@code round}; fails if it ends first. */
    Future<Void> add(long round, int count) {
        Promise<Void> reached = Promise.promise();
        watches.add(new Watch(round, count, reached));
        return reached.future();
    }

    boolean isEmpty() {
        return watches.isEmpty();
    }

    /** {@code delivered} workers delivered the whole of {@code round} so far. */
    void delivered(long round, int delivered) {
        watches.removeIf(w -> w.round() == round && delivered >= w.count() && w.reached().tryComplete());
    }

    /** The round ended: whoever still waits for its deliveries waits in vain. */
    void ended(long round) {
        watches.removeIf(w -> w.round() == round && w.reached().tryFail("round " + round + " ended with "
                + "fewer than " + w.count() + " workers delivered"));
    }
}
