package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.ChunkKey;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.RoundPipeline;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Rules;
import org.flagagg.rules.Solution;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.ShardPlan;
import org.flagagg.wire.VertxInternals;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the rounds of one job: the event-bus consumers, the deadlines, and the hand-off of the math to worker
 * threads, so the event loop only routes. Workers join ({@link Slots}), then stream each round's gradient
 * as chunk frames; a chunk is admitted ({@link RoundAdmission}, {@link Round}), checked and stored (off-heap,
 * spilling past the budget) and, once all active workers have sent the same column, folded into the round's
 * Gram matrix ({@link RoundPipeline}). A round closes when every worker delivered, or at its deadline with a
 * quorum; the rule solves in p x p space, the output pass encodes the aggregate's frames into the store, the
 * round record ({@link RoundReport}) is published and logged ({@link RoundLog}), and the
 * {@link AggregateStreamer} sends the results to every worker, stragglers too.
 *
 * <p>Every queue is bounded: a worker has at most {@code credits} chunks being processed (more are
 * refused), the aggregator at most {@code credits} aggregate chunks unacknowledged per worker, a worker's
 * results of a round stream for at most {@code result_timeout_ms} after the round's summary and for at most
 * {@code max_result_rounds} rounds at once, at most {@code max_open_rounds} rounds are open, and chunk data
 * lives in the chunk store's budget or on disk.
 *
 * <p>Sharded ({@code shards} S > 1, {@link ShardPlan}): one verticle per shard, each owning a contiguous range
 * of chunk columns and doing this same way for them. Shard 0 alone takes joins and keeps deadlines; its
 * {@link ShardCoordinator} makes the one decision per round with the other shards, whose
 * {@link ShardControl} answers it. Unsharded, neither exists and no control message is sent.
 *
 * <p>About 640 lines: a chunk's whole way (join, consumer, admission, store, fold, close, output, record,
 * release) reads top to bottom here, on the one event loop that owns its state; what it hands off (the
 * deadlines, the shards' agreement, the math, the result streams, the record) are classes of their own. The
 * failover hooks ({@link JobState}, {@link ShardKeeper}: a shard lost and found, its snapshot) touch that same
 * state, so they stay here too.
 */
public final class AggregatorVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(AggregatorVerticle.class);

    private final JobConfig job;
    private final ChunkStore store;
    private final Kernels kernels;
    private final Rule rule;
    private final Addresses addresses;
    private final int p;
    private final ShardPlan plan;
    /** This verticle's shard: 0 is the coordinator (and the whole engine when unsharded). */
    private final int shard;
    private final boolean sharded;
    /** The job's shard token when shards may run on other members (null: every shard in this JVM). */
    private final String shardToken;
    private final Slots slots;
    private final RoundAdmission admission;
    private final RoundMath roundMath;
    private final EngineLoad load = new EngineLoad();
    private final Deadlines deadlines;
    /** The coordinator's round deadlines (shard 0), else null. */
    private final RoundClock clock;
    private final DeliveryWatches deliveryWatches = new DeliveryWatches();
    private WorkerExecutor math;
    private EventBus bus;
    private AggregateStreamer streamer;
    /** Shard 0 of a sharded job, else null. */
    private ShardCoordinator coordinator;
    /** Shard k > 0, else null. */
    private ShardControl control;
    /** The control messages to and from the other shards. */
    private ShardLink link;
    /** The job's state in the cluster (shard 0 of a clustered server), else null. */
    private JobState jobState;

    /** An aggregator that only workers in this JVM can join (embedded, or a cluster without a job secret). */
    public AggregatorVerticle(JobConfig job, ChunkStore store) {
        this(job, store, null);
    }

    /**
     * The chunk store is the server's (shared by rounds, possibly by jobs); the verticle does not close it.
     * Workers in other JVMs join only with a proof of {@code secret} (null: they cannot join).
     */
    public AggregatorVerticle(JobConfig job, ChunkStore store, JobSecret secret) {
        this(job, store, secret, Deadlines.timers());
    }

    /** With the round deadlines of {@code deadlines}: {@link Deadlines#timers()} but in tests. */
    public AggregatorVerticle(JobConfig job, ChunkStore store, JobSecret secret, Deadlines deadlines) {
        this(job, 0, store, secret, deadlines);
    }

    /**
     * Shard {@code shard} of a job of {@code job.shards()} shards, on its own chunk store: shard 0 is the
     * coordinator (it uses {@code deadlines}; deploy it after the others, its joins reach every shard), shards
     * k > 0 get null deadlines.
     */
    public AggregatorVerticle(JobConfig job, int shard, ChunkStore store, JobSecret secret, Deadlines deadlines) {
        this(job, shard, store, secret, deadlines, null);
    }

    /**
     * A shard whose peers may run on other members of the cluster: their control messages, reports and
     * forwarded chunks carry {@code shardToken} (null: every shard runs in this JVM, messages stay local).
     */
    public AggregatorVerticle(JobConfig job, int shard, ChunkStore store, JobSecret secret, Deadlines deadlines,
            String shardToken) {
        this.job = job;
        this.shardToken = shardToken;
        this.plan = job.plan();
        if (shard < 0 || shard >= plan.shards()) {
            throw new IllegalArgumentException("shard must be in 0.." + (plan.shards() - 1) + ", got " + shard);
        }
        this.shard = shard;
        this.sharded = plan.shards() > 1;
        this.store = store;
        this.deadlines = deadlines;
        this.kernels = Kernels.best();
        this.rule = Rules.create(job.rule());
        this.rule.validate(job.workers());
        this.addresses = new Addresses(job.job());
        this.p = job.workers();
        this.slots = new Slots(job, addresses, secret);
        if (shardToken != null) {
            slots.shardToken(shardToken);
        }
        this.admission = new RoundAdmission(job);
        this.roundMath = new RoundMath(job, store, kernels);
        this.clock = shard == 0 ? new RoundClock(job, deadlines, admission, this::closeIfOpen) : null;
    }

    /**
     * What the engine has in flight and has sent, for metrics and readiness: safe to read from any thread
     * (the engine updates it on its event loop).
     */
    public EngineLoad load() {
        return load;
    }

    /**
     * Test hook: completes once {@code count} workers stored their whole gradient of open round {@code round},
     * so a test that controls the {@link Deadlines} fires a deadline only after them, whatever the machine's load;
     * fails if the round ends with fewer.
     */
    Future<Void> whenDelivered(long round, int count) {
        Promise<Void> reached = Promise.promise();
        context.runOnContext(v -> {
            deliveryWatches.add(round, count).onComplete(reached);
            RoundRun run = admission.get(round);
            if (run != null) {
                closeIfDelivered(run);
            }
        });
        return reached.future();
    }

    /**
     * Before deploying shard 0 of a clustered server: round ids start at {@code nextRound}, each round that opens
     * is stored in {@code state}, and each record too before the round's result goes out.
     */
    public void jobState(JobState state, long nextRound) {
        this.jobState = state;
        admission.resumeAt(nextRound);
    }

    /**
     * The coordinator lost shard k (its host left the cluster, {@link ShardKeeper}): requests to it fail at once
     * until it is {@link #shardFound found} again, and every open round fails with {@code reason}. Completes once
     * they were told to.
     */
    Future<Void> shardLost(int k, String reason) {
        return onContext(() -> {
            link.lost(k, true);
            failOpenRounds(reason);
        });
    }

    /**
     * What a shard placed again mid-job needs before it takes a chunk ({@link #restore}): the next round id
     * (the rounds before are over for it) and every joined slot's replica. Taken on the coordinator's context.
     */
    Future<JsonObject> shardSnapshot() {
        Promise<JsonObject> taken = Promise.promise();
        context.runOnContext(v -> {
            JsonArray joined = new JsonArray();
            for (int slot = 0; slot < p; slot++) {
                if (slots.joined(slot)) {
                    joined.add(slots.replica(slot));
                }
            }
            taken.complete(new JsonObject().put("round", admission.nextRound()).put("slots", joined));
        });
        return taken.future();
    }

    /** The snapshot of a job (re)starting at round {@code nextRound} with no worker joined yet ({@link #restore}). */
    public static JsonObject startingAt(long nextRound) {
        return new JsonObject().put("round", nextRound).put("slots", new JsonArray());
    }

    /** Before deploying a shard placed again mid-job: it starts from the coordinator's {@link #shardSnapshot}. */
    public void restore(JsonObject snapshot) {
        admission.resumeAt(snapshot.getLong("round"));
        snapshot.getJsonArray("slots").forEach(replica -> slots.replicate((JsonObject) replica));
    }

    /**
     * Shard k runs again, placed with a snapshot: requests reach it again. A round that opened while it was
     * lost fails (its chunks for shard k went nowhere), so the workers go on at the next round.
     */
    Future<Void> shardFound(int k) {
        return onContext(() -> {
            link.lost(k, false);
            failOpenRounds(JobState.LOST + ": shard " + k + " was being placed again when the round opened");
        });
    }

    /** Every open round fails with {@code reason}: the workers get a failed summary and go on at the next id. */
    private void failOpenRounds(String reason) {
        for (RoundRun run : admission.openRuns()) {
            if (run.round.status() == Round.Status.OPEN) {
                if (run.failure == null) {
                    run.failure = reason;
                }
                closeIfOpen(run, JobState.LOST);
            }
        }
    }

    private Future<Void> onContext(Runnable action) {
        Promise<Void> done = Promise.promise();
        context.runOnContext(v -> {
            action.run();
            done.complete();
        });
        return done.future();
    }

    /** Test hook, once started: this shard's (k > 0) next control request {@code op} ("close", ...) fails. */
    void failNextControl(String op) {
        control.failNext(op);
    }

    @Override
    public Future<?> start() {
        math = vertx.createSharedWorkerExecutor("flagagg-math-" + job.job(), Runtime.getRuntime().availableProcessors());
        bus = vertx.eventBus();
        FrameCodec.register(bus);
        link = new ShardLink(bus, addresses, plan.shards(), job.shardTimeoutMs(), shardToken);
        ShardParts parts = new ShardParts(this, link, math, roundMath, slots, admission, load);
        streamer = new AggregateStreamer(vertx, math, job, store, addresses, slots, load, plan.first(shard),
                plan.end(shard), shard == 0);
        if (shard > 0) {
            control = new ShardControl(parts, shard, streamer);
            MessageConsumer<Object> chunks = bus.consumer(addresses.chunks(shard), this::onChunk);
            MessageConsumer<Object> controls = bus.consumer(addresses.shard(shard), control::onControl);
            return Future.all(chunks.completion(), controls.completion()).onSuccess(v -> load.running = true);
        }
        if (sharded) {
            coordinator = new ShardCoordinator(parts, job);
        }
        deadlines.start(vertx, this);
        MessageConsumer<Object> chunks = bus.consumer(addresses.chunks(shard), this::onChunk);
        MessageConsumer<Object> join = bus.consumer(addresses.join(), this::onJoin);
        List<Future<?>> ready = new ArrayList<>(List.of(join.completion(), chunks.completion(),
                RoundLog.repairOn(vertx, job.roundLog())));
        if (sharded) {
            ready.add(bus.consumer(addresses.coordinator(), coordinator::onReport).completion());
        }
        return Future.all(ready).onSuccess(v -> load.running = true);
    }

    @Override
    public Future<?> stop() {
        load.running = false;
        List<RoundRun> runs = admission.drain();
        if (clock != null) {
            runs.forEach(clock::stop);
        }
        return vertx.executeBlocking(() -> {
            runs.forEach(run -> store.releaseRound(run.round.id()));
            return null;
        }).eventually(() -> math.close());
    }

    // ---------------------------------------------------------------------------------------------------
    // Joining

    private void onJoin(Message<Object> msg) {
        if (!(msg.body() instanceof JsonObject body)) {
            msg.fail(Codes.BAD_REQUEST, "join expects a JSON object {worker, dim[, slot]}");
            return;
        }
        JsonObject session;
        try {
            session = slots.join(body, VertxInternals.fromOtherMember(msg), admission.currentRound());
        } catch (Refusal r) {
            msg.fail(r.code, r.getMessage());
            return;
        }
        if (coordinator != null && session.containsKey("slot")) {
            coordinator.replicateJoin(msg, session);
        } else {
            msg.reply(session);
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Chunks in

    private void onChunk(Message<Object> msg) {
        if (!(msg.body() instanceof Buffer body)) {
            msg.fail(Codes.BAD_REQUEST, "chunks are binary frames (docs/protocol.md)");
            return;
        }
        ByteBuffer frame = ChunkFrame.view(body);
        ChunkFrame.Header h;
        try {
            h = ChunkFrame.parse(frame);
        } catch (FrameException e) {
            String reason = "malformed frame (" + e.reason() + "): " + e.getMessage();
            msg.fail(Codes.BAD_REQUEST, reason);
            excludeSender(msg, frame, reason);
            return;
        }
        if (h.kind() != ChunkFrame.KIND_GRADIENT) {
            msg.fail(Codes.BAD_REQUEST, "expected a gradient frame (kind " + ChunkFrame.KIND_GRADIENT + ")");
            return;
        }
        int slot = h.slot();
        if (!slots.joined(slot)) {
            msg.fail(Codes.UNKNOWN_WORKER, "slot " + slot + " has not joined job '" + job.job() + "'");
            return;
        }
        String refused = slots.senderRefusal(msg, slot);
        if (refused != null) {
            msg.fail(Codes.FORBIDDEN, refused);
            return;
        }
        RoundRun run;
        try {
            admission.checkCredit(slot, slots.name(slot));
            run = admission.roundFor(h.round(), this::open);
        } catch (Refusal r) {
            msg.fail(r.code, r.getMessage());
            return;
        }
        load.openRounds.set(admission.openCount());
        int startedBefore = run.round.started();
        Round.Verdict verdict = run.round.admit(slot, h.chunkIndex(), h.offset(), h.count(), h.crc());
        if (run.round.started() > startedBefore) {
            started(run, slot);
        }
        switch (verdict.admission()) {
            case PROCESS -> process(run, msg, h, frame);
            case ACK_DUPLICATE -> msg.reply(null);
            case REJECT_CLOSED -> msg.fail(Codes.CLOSED, verdict.reason());
            case REJECT_EXCLUDED -> msg.fail(Codes.EXCLUDED, verdict.reason());
            case REJECT_BAD -> {
                msg.fail(Codes.BAD_CHUNK, verdict.reason());
                exclude(run, slot, verdict.reason());
            }
        }
    }

    /**
     * A frame that failed validation cannot be trusted: if the header still names a joined slot and an open
     * round, and the sender may act for that slot ({@link Slots#senderRefusal}), that slot is excluded from it.
     */
    private void excludeSender(Message<Object> msg, ByteBuffer frame, String reason) {
        if (frame.remaining() < ChunkFrame.HEADER_BYTES) {
            return;
        }
        ByteBuffer header = frame.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = frame.position();
        if (header.getInt(at) != ChunkFrame.MAGIC) {
            return;
        }
        RoundRun run = admission.get(header.getLong(at + 8));
        int slot = header.getInt(at + 16);
        if (run != null && run.round.status() == Round.Status.OPEN && slots.joined(slot)
                && slots.senderRefusal(msg, slot) == null) {
            run.round.count("malformed");
            exclude(run, slot, reason);
        }
    }

    /** A new round (of this shard's columns): shards k > 0 have no deadline of their own. */
    RoundRun open(long id) {
        RoundRun run = new RoundRun(new Round(id, job, plan.first(shard), plan.end(shard), System.nanoTime()),
                new RoundPipeline(rule, p, job.chunkCoords(), kernels));
        if (shard == 0) {
            run.votes = sharded ? new ShardVotes(plan.shards(), p) : null;
            clock.opened(run);
            if (jobState != null) {
                jobState.opened(id);
            }
        }
        return run;
    }

    /** A worker's first chunk of the round on this shard: counts towards the quorum that starts the clock. */
    void started(RoundRun run, int slot) {
        if (control != null) {
            control.report(run, "started", slot, null);
        } else if (!sharded ? run.round.started() == job.quorum()
                : run.votes.start(slot) && run.votes.started() == job.quorum()) {
            clock.quorumStarted(run);
        }
    }

    private void process(RoundRun run, Message<Object> msg, ChunkFrame.Header h, ByteBuffer frame) {
        int slot = h.slot();
        admission.takeCredit(slot);
        load.chunksInProcess.incrementAndGet();
        run.taskStarted();
        ChunkKey key = new ChunkKey(run.round.id(), slot, h.chunkIndex());
        math.executeBlocking(() -> roundMath.checkAndStore(run, key, h, frame), false).onComplete(ar -> {
            admission.returnCredit(slot);
            load.chunksInProcess.decrementAndGet();
            if (ar.failed()) {
                String reason = "storage failed: " + ar.cause().getMessage();
                LOG.error("round {}: {}", run.round.id(), reason, ar.cause());
                msg.fail(Codes.SERVER_ERROR, reason);
                failed(run, reason, "storage failure");
            } else if (ar.result() != null) {
                msg.fail(Codes.BAD_CHUNK, ar.result());
                run.round.count("non_finite");
                exclude(run, slot, ar.result());
            } else {
                msg.reply(null);
                int column = run.round.stored(slot, h.chunkIndex(), h.frameBytes());
                if (column >= 0) {
                    fold(run, column, run.round.activeSlots());
                }
                if (control != null && run.round.status() == Round.Status.OPEN && run.round.delivered(slot)) {
                    control.report(run, "delivered", slot, null);
                }
                closeIfDelivered(run);
            }
            run.taskDone();
        });
    }

    /** Excludes a worker for a reason found on this shard: the other shards learn it through the coordinator. */
    private void exclude(RoundRun run, int slot, String reason) {
        exclude(run, slot, reason, true);
    }

    /** {@code tell}: the reason was found here (a shard reports it; the coordinator tells every shard of any). */
    void exclude(RoundRun run, int slot, String reason, boolean tell) {
        boolean first = run.round.excludedReason(slot) == null;
        LOG.info("round {}: worker '{}' excluded: {}", run.round.id(), slots.name(slot), reason);
        for (int column : run.round.exclude(slot, reason)) {
            fold(run, column, run.round.activeSlots());
        }
        if (first && run.round.status() == Round.Status.OPEN) {
            if (coordinator != null) {
                coordinator.excludeEverywhere(run, slot, reason);
            } else if (control != null && tell) {
                control.report(run, "excluded", slot, reason);
            }
        }
        closeIfDelivered(run);
    }

    /** A storage or fold failure on this shard fails the round (the reason names the shard when sharded). */
    void failed(RoundRun run, String reason, String trigger) {
        if (control != null) {
            control.report(run, "failed", -1, "shard " + shard + ": " + reason);
        }
        if (run.failure == null) {
            run.failure = sharded ? "shard " + shard + ": " + reason : reason;
        }
        closeIfOpen(run, trigger);
    }

    private void fold(RoundRun run, int column, boolean[] rows) {
        if (!run.pipeline.folds()) {
            return;
        }
        run.taskStarted();
        math.executeBlocking(() -> {
            roundMath.foldColumn(run, column, rows);
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) {
                String reason = "fold failed: " + ar.cause().getMessage();
                LOG.error("round {}: {}", run.round.id(), reason, ar.cause());
                failed(run, reason, "fold failure");
            }
            run.taskDone();
        });
    }

    // ---------------------------------------------------------------------------------------------------
    // Closing, solving, output

    void closeIfDelivered(RoundRun run) {
        if (shard > 0) {
            return; // the coordinator decides
        }
        if (!deliveryWatches.isEmpty()) {
            deliveryWatches.delivered(run.round.id(), participants(run).length);
        }
        if (run.round.status() == Round.Status.OPEN
                && (sharded ? run.votes.allDelivered(run.round, p) : run.round.allDelivered())) {
            close(run, "all workers delivered");
        }
    }

    /** The workers that delivered the whole round (on every shard) and are not excluded, ascending. */
    private int[] participants(RoundRun run) {
        return sharded ? run.votes.participants(run.round, p) : run.round.participants();
    }

    private void closeIfOpen(RoundRun run, String trigger) {
        if (shard == 0 && run.round.status() == Round.Status.OPEN) {
            close(run, trigger);
        }
    }

    private void close(RoundRun run, String trigger) {
        clock.stop(run);
        run.trigger = trigger;
        run.closedNanos = System.nanoTime();
        List<Integer> unfolded = run.round.close();
        run.whenIdle().compose(v -> {
            if (run.failure != null) {
                return Future.failedFuture(run.failure);
            }
            int[] participants = participants(run);
            if (participants.length < job.quorum()) {
                return Future.failedFuture("quorum not reached: " + participants.length + " of " + p
                        + " workers delivered, quorum " + job.quorum());
            }
            if (coordinator != null) {
                return coordinator.close(run, participants, unfolded);
            }
            return math.executeBlocking(() -> roundMath.solve(run, participants, unfolded), false)
                    .compose(solved -> output(run, participants, solved));
        }).onComplete(ar -> finish(run, ar.succeeded() ? null : ar.cause().getMessage()));
    }

    /**
     * The output pass, split over the math threads: each aggregate chunk is encoded into its frame at once and
     * the frame goes into the store, from where the result streams copy it as it is.
     */
    Future<Solution> output(RoundRun run, int[] participants, Solution solution) {
        int[] selected = Arrays.stream(solution.selected()).map(i -> participants[i]).toArray();
        run.solution = solution;
        run.participants = participants;
        int tasks = Math.min(plan.columns(shard), Runtime.getRuntime().availableProcessors());
        List<Future<Void>> parts = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int t = 0; t < tasks; t++) {
            int first = plan.first(shard) + t;
            parts.add(math.executeBlocking(() -> {
                roundMath.output(run, solution, selected, first, plan.end(shard), tasks);
                return null;
            }, false));
        }
        return Future.all(parts).map(v -> {
            run.outputNanos = System.nanoTime() - t0;
            return solution;
        });
    }

    private void finish(RoundRun run, String error) {
        if (coordinator != null && error != null) {
            coordinator.failParts(run, error).onComplete(v -> finish(run, error, true));
        } else {
            finish(run, error, false);
        }
    }

    /** {@code shardsEnded}: a sharded round that failed, whose shards already ended their part. */
    private void finish(RoundRun run, String error, boolean shardsEnded) {
        boolean completed = error == null;
        run.round.finish(completed);
        admission.finished(run, completed);
        deliveryWatches.ended(run.round.id());
        load.openRounds.set(admission.openCount());
        if (!completed) {
            LOG.warn("round {} failed: {}", run.round.id(), error);
        }
        JsonObject record = RoundReport.record(run, error, rule.name(), job.dim(), slots, participants(run));
        bus.publish(addresses.rounds(), record);
        run.logged = RoundLog.appendOn(vertx, job.roundLog(), record);
        // The round is released once every shard released its part. Its result goes out only once the cluster
        // holds its record: a server that takes the job over has every result a worker saw.
        Promise<Void> ownReleased = Promise.promise();
        Future<Void> durable = jobState == null ? Future.succeededFuture()
                : jobState.recorded(record, job.shardTimeoutMs());
        Future<Void> summarised = durable.compose(v -> streamer.stream(run.round, run.participants, record,
                () -> release(run).onComplete(ownReleased)));
        Future<Void> others = coordinator == null || shardsEnded ? Future.succeededFuture()
                : coordinator.streamParts(run, summarised);
        Future.join(ownReleased.future(), others).onComplete(ar -> released(run));
    }

    /** Frees the round's chunks of this shard's store; completes (never fails) when done. */
    Future<Void> release(RoundRun run) {
        long id = run.round.id();
        return vertx.executeBlocking(() -> {
            store.releaseRound(id);
            return null;
        }, false).transform(ar -> {
            if (ar.failed()) {
                LOG.warn("round {}: releasing its chunks failed: {}", id, ar.cause().toString());
            }
            return Future.succeededFuture();
        });
    }

    /** The round's chunks are free on every shard: with its record logged, announces it on the released address. */
    private void released(RoundRun run) {
        run.logged.onComplete(v -> bus.publish(addresses.released(), run.round.id()));
    }
}
