package org.flagagg.engine;

import io.vertx.core.Vertx;
import java.util.function.LongToIntFunction;

/**
 * When a round's deadline passes. A server runs {@link #timers()}; a test (or a check run) that needs a round to
 * close at its deadline with exactly the workers it expects in picks {@link #waitingFor}, so the outcome does not
 * depend on those workers beating the clock on a loaded machine. Only code chooses them (and the hidden test
 * flag {@code --test-deadlines-wait-for} of server and loadtest): no configuration key or environment variable.
 */
public interface Deadlines {

    /** Vert.x timers: a round's deadline passes {@code ms} after it was armed. */
    static Deadlines timers() {
        return new TimerDeadlines();
    }

    /**
     * For tests: a round's deadline passes once its {@code ms} passed <em>and</em> at least {@code workers}
     * workers delivered the round, so it closes with those in (and waits as long as they take).
     */
    static Deadlines waitingFor(int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("a deadline must wait for at least 1 worker, got " + workers);
        }
        return waitingFor(round -> workers);
    }

    /** {@link #waitingFor(int)} with a number of workers per round id, for tests whose rounds differ. */
    static Deadlines waitingFor(LongToIntFunction workersOfRound) {
        return new WaitingDeadlines(workersOfRound);
    }

    /** Called once by the aggregator as it starts, on its event loop, before any {@link #arm}: one aggregator each. */
    void start(Vertx vertx, AggregatorVerticle aggregator);

    /** Calls {@code fire} on the event loop once round {@code round}'s deadline of {@code ms} passed; returns an id. */
    long arm(long round, long ms, Runnable fire);

    /** The deadline {@code id} (if still armed) never fires. */
    void cancel(long id);
}
