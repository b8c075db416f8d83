package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.concurrent.atomic.AtomicLong;
import org.flagagg.round.RoundPipeline;
import org.flagagg.rules.Solution;

/**
 * A round and what the engine tracks about it beyond the bookkeeping in {@link Round}: its pipeline, its
 * deadline, the math tasks in flight, and what closing it produced. Confined to the aggregator's event loop,
 * except the fold time that math threads add.
 */
final class RoundRun {
    final Round round;
    final RoundPipeline pipeline;
    long deadline = -1;
    /** Math tasks (store, fold) of the round still running; the round solves once none is. */
    private int pending;
    private Promise<Void> idle;
    String trigger;
    String failure;
    long closedNanos;
    /** When the round's deadline clock started: when a quorum of workers started it, else when it opened. */
    long clockNanos;
    long solveNanos;
    long outputNanos;
    private final AtomicLong foldNanos = new AtomicLong();
    /** CPU time the math threads spent on the round (check and store, folds, output pass). */
    private final AtomicLong cpuNanos = new AtomicLong();
    Solution solution;
    /** The slots the rule saw, ascending: its input i is slot participants[i]. */
    int[] participants;
    /** Sharded, at the coordinator: who started and delivered on the other shards; null when unsharded. */
    ShardVotes votes;
    /** Sharded, at the coordinator: each other shard's tally for the record, and its part of the record's shards. */
    final java.util.List<io.vertx.core.json.JsonObject> tallies = new java.util.ArrayList<>();
    final java.util.Map<Integer, io.vertx.core.json.JsonObject> shardStats = new java.util.TreeMap<>();
    /** Completes once the round's record was appended to the round log (or that was tried). */
    Future<Void> logged = Future.succeededFuture();

    RoundRun(Round round, RoundPipeline pipeline) {
        this.round = round;
        this.pipeline = pipeline;
        this.clockNanos = round.openedNanos();
    }

    void taskStarted() {
        pending++;
    }

    void taskDone() {
        pending--;
        if (pending == 0 && idle != null) {
            Promise<Void> waiting = idle;
            idle = null;
            waiting.complete();
        }
    }

    /** Completes once no task of the round is running. */
    Future<Void> whenIdle() {
        if (pending == 0) {
            return Future.succeededFuture();
        }
        idle = Promise.promise();
        return idle.future();
    }

    /** Math threads: adds the time of one column's fold. */
    void addFoldNanos(long nanos) {
        foldNanos.addAndGet(nanos);
    }

    long foldNanos() {
        return foldNanos.get();
    }

    /** Math threads: adds the CPU time of one task. */
    void addCpuNanos(long nanos) {
        cpuNanos.addAndGet(nanos);
    }

    long cpuNanos() {
        return cpuNanos.get();
    }
}
