package org.flagagg.engine;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Round deadlines that pass only when the test says: a round closes at its deadline without timing luck. */
final class ManualDeadlines implements Deadlines {
    private record Armed(long id, long ms, Context context, Runnable fire) {
    }

    private final AtomicLong ids = new AtomicLong();
    /** The deadline each round has now (a re-armed deadline replaces the earlier one). */
    private final Map<Long, Armed> armed = new ConcurrentHashMap<>();

    @Override
    public void start(Vertx vertx, AggregatorVerticle aggregator) {
        // Each deadline runs on the context it was armed on.
    }

    @Override
    public long arm(long round, long ms, Runnable fire) {
        long id = ids.incrementAndGet();
        armed.put(round, new Armed(id, ms, Vertx.currentContext(), fire));
        return id;
    }

    @Override
    public void cancel(long id) {
        armed.values().removeIf(a -> a.id() == id);
    }

    /** How long round {@code round}'s deadline was armed for when last (re)armed; -1 if it has none armed. */
    long armedMs(long round) {
        Armed a = armed.get(round);
        return a == null ? -1 : a.ms();
    }

    /** Passes round {@code round}'s deadline on the engine's event loop; fails if the round has none armed. */
    Future<Void> fire(long round) {
        Armed a = armed.remove(round);
        if (a == null) {
            return Future.failedFuture("round " + round + " has no deadline armed");
        }
        Promise<Void> fired = Promise.promise();
        a.context().runOnContext(v -> {
            a.fire().run();
            fired.complete();
        });
        return fired.future();
    }
}
