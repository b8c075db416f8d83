package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
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
 * <p>About 400 lines: a chunk's whole way (consumer, admission, store, fold, close, output) reads top to
 * bottom here; the parts it calls are their own classes.
 */
public final class AggregatorVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(AggregatorVerticle.class);

    private final JobConfig job;
    private final ChunkStore store;
    private final Kernels kernels;
    private final Rule rule;
    private final Addresses addresses;
    private final int p;
    private final Slots slots;
    private final RoundAdmission admission;
    private final RoundMath roundMath;
    private final EngineLoad load = new EngineLoad();
    private final Deadlines deadlines;
    /** Test hook {@link #whenDelivered}: who waits for how many workers to deliver which round. */
    private final List<DeliveryWatch> deliveryWatches = new ArrayList<>();
    private WorkerExecutor math;
    private EventBus bus;
    private AggregateStreamer streamer;

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
        this.job = job;
        this.store = store;
        this.deadlines = deadlines;
        this.kernels = Kernels.best();
        this.rule = Rules.create(job.rule());
        this.rule.validate(job.workers());
        this.addresses = new Addresses(job.job());
        this.p = job.workers();
        this.slots = new Slots(job, addresses, secret);
        this.admission = new RoundAdmission(job);
        this.roundMath = new RoundMath(job, store, kernels);
    }

    /**
     * What the engine has in flight and has sent, for metrics and readiness: safe to read from any thread
     * (the engine updates it on its event loop).
     */
    public EngineLoad load() {
        return load;
    }

    private record DeliveryWatch(long round, int count, Promise<Void> reached) {
    }

    /**
     * Test hook: completes once {@code count} workers stored their whole gradient of open round {@code round},
     * so a test that controls the {@link Deadlines} fires a deadline only after them, whatever the machine's load;
     * fails if the round ends with fewer.
     */
    Future<Void> whenDelivered(long round, int count) {
        Promise<Void> reached = Promise.promise();
        context.runOnContext(v -> {
            deliveryWatches.add(new DeliveryWatch(round, count, reached));
            RoundRun run = admission.get(round);
            if (run != null) {
                closeIfDelivered(run);
            }
        });
        return reached.future();
    }

    @Override
    public Future<?> start() {
        math = vertx.createSharedWorkerExecutor("flagagg-math-" + job.job(), Runtime.getRuntime().availableProcessors());
        bus = vertx.eventBus();
        FrameCodec.register(bus);
        deadlines.start(vertx, this);
        streamer = new AggregateStreamer(vertx, math, job, store, addresses, slots, load);
        MessageConsumer<Object> join = bus.consumer(addresses.join(), this::onJoin);
        MessageConsumer<Object> chunks = bus.consumer(addresses.chunks(), this::onChunk);
        return Future.all(join.completion(), chunks.completion(), RoundLog.repairOn(vertx, job.roundLog()))
                .onSuccess(v -> load.running = true);
    }

    @Override
    public Future<?> stop() {
        load.running = false;
        List<RoundRun> runs = admission.drain();
        runs.forEach(run -> deadlines.cancel(run.deadline));
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
        try {
            msg.reply(slots.join(body, VertxInternals.fromOtherMember(msg), admission.currentRound()));
        } catch (Refusal r) {
            msg.fail(r.code, r.getMessage());
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
        if (startedBefore < job.quorum() && run.round.started() == job.quorum()) {
            quorumStarted(run);
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

    /** A new round: until a quorum started it, it waits for its workers (deadline.max_ms at most when adaptive). */
    private RoundRun open(long id) {
        RoundRun run = new RoundRun(new Round(id, job, System.nanoTime()),
                new RoundPipeline(rule, p, job.chunkCoords(), kernels));
        // One early chunk must not start the clock that closes the round before the others begin.
        armDeadline(run, job.deadline().adaptive() ? job.deadline().maxMs() : admission.deadlineMs());
        return run;
    }

    /** (Re)sets the round's deadline to {@code ms} from now. */
    private void armDeadline(RoundRun run, long ms) {
        deadlines.cancel(run.deadline);
        run.deadline = deadlines.arm(run.round.id(), ms, () -> closeIfOpen(run, "deadline " + ms + " ms"));
    }

    /**
     * A quorum of workers started the round: the adaptive deadline runs from now (never past deadline.max_ms
     * after the round opened), and the latency history measures from here too.
     */
    private void quorumStarted(RoundRun run) {
        long now = System.nanoTime();
        run.clockNanos = now;
        if (job.deadline().adaptive()) {
            long left = job.deadline().maxMs() - (now - run.round.openedNanos()) / 1_000_000;
            armDeadline(run, Math.max(1, Math.min(admission.deadlineMs(), left)));
        }
    }

    private void process(RoundRun run, Message<Object> msg, ChunkFrame.Header h, ByteBuffer frame) {
        int slot = h.slot();
        admission.takeCredit(slot);
        load.chunksInProcess.incrementAndGet();
        run.taskStarted();
        ChunkKey key = new ChunkKey(run.round.id(), slot, h.chunkIndex());
        math.executeBlocking(() -> roundMath.checkAndStore(key, h, frame), false).onComplete(ar -> {
            admission.returnCredit(slot);
            load.chunksInProcess.decrementAndGet();
            if (ar.failed()) {
                String reason = "storage failed: " + ar.cause().getMessage();
                LOG.error("round {}: {}", run.round.id(), reason, ar.cause());
                msg.fail(Codes.SERVER_ERROR, reason);
                run.failure = reason;
                closeIfOpen(run, "storage failure");
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
                closeIfDelivered(run);
            }
            run.taskDone();
        });
    }

    private void exclude(RoundRun run, int slot, String reason) {
        LOG.info("round {}: worker '{}' excluded: {}", run.round.id(), slots.name(slot), reason);
        for (int column : run.round.exclude(slot, reason)) {
            fold(run, column, run.round.activeSlots());
        }
        closeIfDelivered(run);
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
                run.failure = "fold failed: " + ar.cause().getMessage();
                LOG.error("round {}: {}", run.round.id(), run.failure, ar.cause());
                closeIfOpen(run, "fold failure");
            }
            run.taskDone();
        });
    }

    // ---------------------------------------------------------------------------------------------------
    // Closing, solving, output

    private void closeIfDelivered(RoundRun run) {
        if (!deliveryWatches.isEmpty()) {
            int delivered = run.round.participants().length;
            deliveryWatches.removeIf(w -> w.round() == run.round.id() && delivered >= w.count() && w.reached().tryComplete());
        }
        if (run.round.status() == Round.Status.OPEN && run.round.allDelivered()) {
            close(run, "all workers delivered");
        }
    }

    private void closeIfOpen(RoundRun run, String trigger) {
        if (run.round.status() == Round.Status.OPEN) {
            close(run, trigger);
        }
    }

    private void close(RoundRun run, String trigger) {
        deadlines.cancel(run.deadline);
        run.trigger = trigger;
        run.closedNanos = System.nanoTime();
        List<Integer> unfolded = run.round.close();
        run.whenIdle().compose(v -> {
            if (run.failure != null) {
                return Future.failedFuture(run.failure);
            }
            int[] participants = run.round.participants();
            if (participants.length < job.quorum()) {
                return Future.failedFuture("quorum not reached: " + participants.length + " of " + p
                        + " workers delivered, quorum " + job.quorum());
            }
            return math.executeBlocking(() -> roundMath.solve(run, participants, unfolded), false)
                    .compose(solved -> output(run, participants, solved));
        }).onComplete(ar -> finish(run, ar.succeeded() ? null : ar.cause().getMessage()));
    }

    /**
     * The output pass, split over the math threads: each aggregate chunk is encoded into its frame at once and
     * the frame goes into the store, from where the result streams copy it as it is.
     */
    private Future<Solution> output(RoundRun run, int[] participants, Solution solution) {
        int[] selected = Arrays.stream(solution.selected()).map(i -> participants[i]).toArray();
        run.solution = solution;
        run.participants = participants;
        int tasks = Math.min(job.chunks(), Runtime.getRuntime().availableProcessors());
        List<Future<Void>> parts = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int t = 0; t < tasks; t++) {
            int first = t;
            parts.add(math.executeBlocking(() -> {
                roundMath.output(run, solution, selected, first, tasks);
                return null;
            }, false));
        }
        return Future.all(parts).map(v -> {
            run.outputNanos = System.nanoTime() - t0;
            return solution;
        });
    }

    private void finish(RoundRun run, String error) {
        boolean completed = error == null;
        run.round.finish(completed);
        admission.finished(run, completed);
        endDeliveryWatches(run.round.id());
        load.openRounds.set(admission.openCount());
        if (!completed) {
            LOG.warn("round {} failed: {}", run.round.id(), error);
        }
        JsonObject record = RoundReport.record(run, error, rule.name(), job.dim(), slots);
        bus.publish(addresses.rounds(), record);
        run.logged = RoundLog.appendOn(vertx, job.roundLog(), record);
        streamer.stream(run.round, run.participants, record, () -> release(run));
    }

    /** The round ended: whoever still waits for its deliveries waits in vain. */
    private void endDeliveryWatches(long round) {
        deliveryWatches.removeIf(w -> w.round() == round && w.reached().tryFail("round " + round + " ended with "
                + "fewer than " + w.count() + " workers delivered"));
    }

    /** Frees the round's chunks; then, with its record logged, announces it on the released address. */
    private void release(RoundRun run) {
        long id = run.round.id();
        vertx.executeBlocking(() -> {
            store.releaseRound(id);
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) {
                LOG.warn("round {}: releasing its chunks failed: {}", id, ar.cause().toString());
            }
            run.logged.onComplete(v -> bus.publish(addresses.released(), id));
        });
    }
}
