package org.flagagg.engine;

import io.vertx.core.Vertx;

/** {@link Deadlines#timers()}: one Vert.x timer per armed deadline. */
final class TimerDeadlines implements Deadlines {
    private Vertx vertx;

    @Override
    public void start(Vertx vertx, AggregatorVerticle aggregator) {
        this.vertx = vertx;
    }

    @Override
    public long arm(long round, long ms, Runnable fire) {
        return vertx.setTimer(ms, t -> fire.run());
    }

    @Override
    public void cancel(long id) {
        vertx.cancelTimer(id);
    }
}
