package org.flagagg.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Live counts of one aggregator, for metrics and readiness; each field is exact when read from any thread. */
public final class EngineLoad {
    final AtomicInteger chunksInProcess = new AtomicInteger();
    final AtomicInteger aggregateChunksInFlight = new AtomicInteger();
    final AtomicInteger openRounds = new AtomicInteger();
    final AtomicLong aggregateChunksSent = new AtomicLong();
    final AtomicLong aggregateBytesSent = new AtomicLong();
    volatile boolean running;

    /** Gradient chunks taken (a credit used) and not yet answered, over all workers. */
    public int chunksInProcess() {
        return chunksInProcess.get();
    }

    /** Aggregate chunks sent to workers and not yet acknowledged, over all workers. */
    public int aggregateChunksInFlight() {
        return aggregateChunksInFlight.get();
    }

    public int openRounds() {
        return openRounds.get();
    }

    /** Aggregate chunks acknowledged by workers since start (cumulative). */
    public long aggregateChunksSent() {
        return aggregateChunksSent.get();
    }

    /** Frame bytes of those chunks (cumulative). */
    public long aggregateBytesSent() {
        return aggregateBytesSent.get();
    }

    /** True between a successful start and the beginning of stop. */
    public boolean running() {
        return running;
    }
}
