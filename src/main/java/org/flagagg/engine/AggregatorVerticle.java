package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.ChunkKey;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.RoundPipeline;
import org.flagagg.rules.Rule;
import org.flagagg.rules.Rules;
import org.flagagg.rules.Solution;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ArrayPool;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.JobSecret;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the rounds of one job. Workers join, then stream each round's gradient as chunk frames; every chunk
 * is checked, stored (off-heap, spilling past the budget) and, once all active workers have sent the same
 * coordinate range, folded into the round's Gram matrix, all on worker threads so the event loop only
 * routes. A round closes when every worker delivered, or at its deadline with a quorum; the rule is solved
 * in p x p space, the aggregate computed chunk by chunk into the store and streamed to every worker
 * (stragglers too) under the same credit limit, and the round record is published and logged.
 *
 * <p>Every queue is bounded: a worker has at most {@code credits} chunks being processed (more are
 * refused), the aggregator at most {@code credits} aggregate chunks unacknowledged per worker, a worker's
 * results of a round stream for at most {@code result_timeout_ms} after the round's summary and for at most
 * {@code max_result_rounds} rounds at once, at most {@code max_open_rounds} rounds are open, and chunk data
 * lives in the chunk store's budget or on disk.
 *
 * <p>Round ids are the server's: chunks are taken for the open rounds and for the next id, which opens only
 * once the round before it closed or a quorum of workers started it; any other id is refused at once (410
 * over, 425 ahead) naming the current round, which the join reply names too.
 */
public final class AggregatorVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(AggregatorVerticle.class);
    /** How long a join nonce is good for after this aggregator issued it. */
    static final long NONCE_TTL_MS = 30_000;

    private final JobConfig job;
    private final ChunkStore store;
    private final Kernels kernels;
    private final Rule rule;
    private final Addresses addresses;
    private final int p;
    private final String[] workerIds;
    /** Where each worker's aggregate chunks go: its node's relay (a data link), or null for its own address. */
    private final String[] relays;
    /**
     * Per slot: its last round summary was not taken (the worker is gone or not reading). Warned once when
     * it becomes so, not at every round after, and cleared when the worker takes a summary again.
     */
    private final boolean[] unreachable;
    private final Map<String, Integer> slotsById = new HashMap<>();
    /** The job secret workers in other JVMs prove on join, or null: then none can join. */
    private final JobSecret secret;
    /** Tags this aggregator's join nonces, so it keeps no state for a nonce until a join spends it. */
    private final JobSecret nonceKey = JobSecret.random();
    /** Nonces spent by joins with a valid proof, and when they were issued; pruned after NONCE_TTL_MS. */
    private final Map<String, Long> spentNonces = new HashMap<>();
    /** Per slot, the token its chunks from another JVM must carry; null when it joined in this JVM. */
    private final String[] chunkTokens;
    private final int[] outstanding;
    private final TreeMap<Long, RoundRun> open = new TreeMap<>();
    /** Unfinished result streams per destination (a worker's address or a node's relay), oldest first. */
    private final Map<String, ArrayDeque<ResultStream>> streamsTo = new HashMap<>();
    private final ArrayDeque<Long> latenciesMs = new ArrayDeque<>();
    /** Per math thread: one aggregate chunk's values and its frame, for the output pass. */
    private final ThreadLocal<OutputScratch> scratch;
    /** Arrays of full aggregate frames, reused across columns and rounds. */
    private final ArrayPool<byte[]> frameArrays;
    /** The id the next round to open gets: ids are the server's, in sequence from 0. */
    private long nextRound;
    private final Load load = new Load();
    private WorkerExecutor math;
    private EventBus bus;

    /** An aggregator that only workers in this JVM can join (embedded, or a cluster without a job secret). */
    public AggregatorVerticle(JobConfig job, ChunkStore store) {
        this(job, store, null);
    }

    /**
     * The chunk store is the server's (shared by rounds, possibly by jobs); the verticle does not close it.
     * Workers in other JVMs join only with a proof of {@code secret} (null: they cannot join).
     */
    public AggregatorVerticle(JobConfig job, ChunkStore store, JobSecret secret) {
        this.secret = secret;
        this.job = job;
        this.store = store;
        this.kernels = Kernels.best();
        this.rule = Rules.create(job.rule());
        this.rule.validate(job.workers());
        this.addresses = new Addresses(job.job());
        this.p = job.workers();
        this.workerIds = new String[p];
        this.relays = new String[p];
        this.unreachable = new boolean[p];
        this.chunkTokens = new String[p];
        this.outstanding = new int[p];
        this.scratch = ThreadLocal.withInitial(() -> new OutputScratch(job.chunkCoords()));
        // At most credits frames in flight per worker, and the cached ones.
        this.frameArrays = ArrayPool.bytes(job.credits() * (p + 4));
        frameArrays.reuse(ChunkFrame.frameBytes(job.chunkCoords()));
    }

    /**
     * What the engine has in flight and has sent, for metrics and readiness: safe to read from any thread
     * (the engine updates it on its event loop).
     */
    public Load load() {
        return load;
    }

    /** Live counts of one aggregator; each field is exact when read. */
    public static final class Load {
        private final AtomicInteger chunksInProcess = new AtomicInteger();
        private final AtomicInteger aggregateChunksInFlight = new AtomicInteger();
        private final AtomicInteger openRounds = new AtomicInteger();
        private final AtomicLong aggregateChunksSent = new AtomicLong();
        private final AtomicLong aggregateBytesSent = new AtomicLong();
        private volatile boolean running;

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

    @Override
    public Future<?> start() {
        math = vertx.createSharedWorkerExecutor("flagagg-math-" + job.job(), Runtime.getRuntime().availableProcessors());
        bus = vertx.eventBus();
        FrameCodec.register(bus);
        MessageConsumer<Object> join = bus.consumer(addresses.join(), this::onJoin);
        MessageConsumer<Object> chunks = bus.consumer(addresses.chunks(), this::onChunk);
        return Future.all(join.completion(), chunks.completion(), repairLog()).onSuccess(v -> load.running = true);
    }

    @Override
    public Future<?> stop() {
        load.running = false;
        for (RoundRun run : open.values()) {
            vertx.cancelTimer(run.timer);
        }
        List<Long> ids = new ArrayList<>(open.keySet());
        open.clear();
        return vertx.executeBlocking(() -> {
            ids.forEach(store::releaseRound);
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
        if (body.containsKey("challenge")) {
            msg.reply(new JsonObject().put("nonce", issueNonce()));
            return;
        }
        boolean remote = fromOtherMember(msg);
        String id;
        long dim;
        Integer wanted;
        String relay;
        try {
            id = body.getString("worker");
            dim = body.getLong("dim", -1L);
            wanted = body.getInteger("slot");
            relay = body.getString("relay");
        } catch (ClassCastException e) {
            msg.fail(Codes.BAD_REQUEST, "join fields have wrong types: worker and relay are strings, dim and slot "
                    + "are integers");
            return;
        }
        if (relay != null && !relay.startsWith(addresses.relayPrefix())) {
            msg.fail(Codes.BAD_REQUEST, "relay must be a data-link relay address (" + addresses.relayPrefix() + "...)");
            return;
        }
        if (id == null || id.isBlank() || id.length() > 128) {
            msg.fail(Codes.BAD_REQUEST, "worker id must be 1-128 characters");
            return;
        }
        if (dim != job.dim()) {
            msg.fail(Codes.BAD_REQUEST, "dimension mismatch: job '" + job.job() + "' has dim " + job.dim()
                    + ", worker '" + id + "' has " + dim);
            return;
        }
        if (wanted != null && (wanted < 0 || wanted >= p)) {
            msg.fail(Codes.BAD_REQUEST, "slot must be in 0.." + (p - 1) + ", got " + wanted);
            return;
        }
        String unproven = remote ? checkJoinProof(body, id, dim, wanted, relay) : null;
        if (unproven != null) {
            LOG.warn("refused the join of '{}' from another JVM: {}", id, unproven);
            msg.fail(Codes.UNAUTHORIZED, unproven);
            return;
        }
        Integer slot = slotsById.get(id);
        if (slot == null) {
            slot = wanted != null ? wanted : freeSlot();
            if (slot == null) {
                msg.fail(Codes.CLOSED, "job '" + job.job() + "' already has its " + p + " workers");
                return;
            }
            if (workerIds[slot] != null) {
                msg.fail(Codes.CLOSED, "slot " + slot + " is not free (slots 0.." + (p - 1) + ")");
                return;
            }
            workerIds[slot] = id;
            slotsById.put(id, slot);
            LOG.debug("worker {} joined job {} as slot {}", id, job.job(), slot);
        } else if (wanted != null && !wanted.equals(slot)) {
            msg.fail(Codes.CLOSED, "worker '" + id + "' already holds slot " + slot);
            return;
        }
        relays[slot] = relay;
        // A new join of the slot voids the old token; a worker of this JVM needs none.
        chunkTokens[slot] = remote ? JobSecret.nonce() : null;
        msg.reply(withToken(job.session().put("worker", id).put("slot", slot).put("round", currentRound()), slot));
    }

    private JsonObject withToken(JsonObject session, int slot) {
        return chunkTokens[slot] == null ? session : session.put(Addresses.TOKEN_HEADER, chunkTokens[slot]);
    }

    /** True for a message from another JVM of the cluster, whose sender proves nothing by reaching us. */
    static boolean fromOtherMember(Message<?> msg) {
        return msg instanceof io.vertx.core.eventbus.impl.clustered.ClusteredMessage<?, ?> m && m.isFromWire();
    }

    /** A fresh join nonce, "issued-ms.random.tag": checked and spent by the join that proves the secret with it. */
    private String issueNonce() {
        String issued = Long.toString(System.currentTimeMillis());
        String random = JobSecret.nonce();
        return issued + "." + random + "." + nonceKey.mac("flagagg-join-nonce", issued, random);
    }

    /** Null when the join proves the job secret over a fresh nonce of this aggregator (then spent); else why not. */
    private String checkJoinProof(JsonObject body, String id, long dim, Integer wanted, String relay) {
        if (secret == null) {
            return "this aggregator has no job secret (cluster.secret): workers in other JVMs cannot join";
        }
        if (!(body.getValue("nonce") instanceof String nonce) || !(body.getValue("proof") instanceof String proof)) {
            return "a join from another JVM must prove the job secret: ask for a nonce with {challenge: true}, then "
                    + "join with {nonce, proof} (docs/protocol.md)";
        }
        String[] parts = nonce.split("\\.", -1);
        long now = System.currentTimeMillis();
        long issued;
        try {
            issued = parts.length == 3 ? Long.parseLong(parts[0]) : -1;
        } catch (NumberFormatException e) {
            issued = -1;
        }
        if (issued < 0 || now - issued > NONCE_TTL_MS || issued > now
                || !nonceKey.verify(parts[2], "flagagg-join-nonce", parts[0], parts[1]) || spentNonces.containsKey(nonce)) {
            return "the join's nonce was not issued by this aggregator in the last " + NONCE_TTL_MS / 1000
                    + " s, or was already used";
        }
        if (!secret.verify(proof, Addresses.JOIN_PROOF, job.job(), id, Long.toString(dim), wanted == null ? "" : wanted.toString(),
                relay == null ? "" : relay, nonce)) {
            return "authentication failed: the join's proof does not match this job's secret (cluster.secret)";
        }
        spentNonces.values().removeIf(at -> now - at > NONCE_TTL_MS);
        spentNonces.put(nonce, issued);
        return null;
    }

    /**
     * Null when this chunk's sender may act for {@code slot}; else why not. A chunk from another JVM carries
     * the token of the slot's join; one from a data link the relay the slot joined with. Other chunks come
     * from this JVM (the WebSocket gateway binds its sessions itself).
     */
    private String senderRefusal(Message<Object> msg, int slot) {
        if (fromOtherMember(msg)) {
            return JobSecret.same(msg.headers().get(Addresses.TOKEN_HEADER), chunkTokens[slot]) ? null
                    : "slot " + slot + " was not granted to this sender: its join's chunk_token is missing or wrong";
        }
        String relay = msg.headers().get(Addresses.RELAY_HEADER);
        return relay == null || relay.equals(relays[slot]) ? null
                : "slot " + slot + " did not join through this data link; its frames are refused here";
    }

    private Integer freeSlot() {
        for (int s = 0; s < p; s++) {
            if (workerIds[s] == null) {
                return s;
            }
        }
        return null;
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
        if (slot >= p || workerIds[slot] == null) {
            msg.fail(Codes.UNKNOWN_WORKER, "slot " + slot + " has not joined job '" + job.job() + "'");
            return;
        }
        String refused = senderRefusal(msg, slot);
        if (refused != null) {
            msg.fail(Codes.FORBIDDEN, refused);
            return;
        }
        if (outstanding[slot] >= job.credits()) {
            msg.fail(Codes.TOO_MANY, "worker '" + workerIds[slot] + "' has more than " + job.credits()
                    + " chunks unacknowledged (credits)");
            return;
        }
        RoundRun run = roundFor(h.round(), msg);
        if (run == null) {
            return;
        }
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
     * round, and the sender may act for that slot ({@link #senderRefusal}), that slot is excluded from it.
     */
    private void excludeSender(Message<Object> msg, ByteBuffer frame, String reason) {
        if (frame.remaining() < ChunkFrame.HEADER_BYTES) {
            return;
        }
        ByteBuffer header = frame.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int at = frame.position();
        if (header.getInt(at) != ChunkFrame.MAGIC) {
            return;
        }
        RoundRun run = open.get(header.getLong(at + 8));
        int slot = header.getInt(at + 16);
        if (run != null && run.round.status() == Round.Status.OPEN && slot >= 0 && slot < p && workerIds[slot] != null
                && senderRefusal(msg, slot) == null) {
            run.round.count("malformed");
            exclude(run, slot, reason);
        }
    }

    /**
     * The open round with this id, opening it if allowed; null after replying with the reason if not. The
     * server owns the sequence: the only round that can open is {@link #nextRound}, and only once the round
     * before it closed or a quorum of workers started it, so one worker can neither jump ahead (a round id of
     * 10^12) nor open the next round before the others finished the current one.
     */
    private RoundRun roundFor(long id, Message<Object> msg) {
        RoundRun run = open.get(id);
        if (run != null) {
            return run;
        }
        if (id < nextRound) {
            msg.fail(Codes.ROUND_OVER, "round " + id + " is over; the current round is " + currentRound());
            return null;
        }
        if (id > nextRound) {
            msg.fail(Codes.TOO_EARLY, "round " + id + " is ahead of the job's schedule; the current round is "
                    + currentRound());
            return null;
        }
        RoundRun previous = open.get(id - 1);
        if (previous != null && previous.round.status() == Round.Status.OPEN && previous.round.started() < job.quorum()) {
            msg.fail(Codes.TOO_EARLY, "round " + id + " cannot open yet: round " + (id - 1) + " is open and "
                    + previous.round.started() + " of a quorum of " + job.quorum() + " workers started it");
            return null;
        }
        if (open.size() >= job.maxOpenRounds()) {
            msg.fail(Codes.TOO_MANY, "round " + id + " cannot open: " + open.size() + " rounds are open (max_open_rounds)");
            return null;
        }
        run = new RoundRun(new Round(id, job, System.nanoTime()),
                new RoundPipeline(rule, p, job.chunkCoords(), kernels));
        // Until a quorum started, the round waits for its workers (deadline.max_ms at most): one early chunk
        // must not start the clock that closes the round before the others begin.
        armDeadline(run, job.deadline().adaptive() ? job.deadline().maxMs() : deadlineMs());
        open.put(id, run);
        nextRound = id + 1;
        load.openRounds.set(open.size());
        return run;
    }

    /** The round a worker should send now: the oldest one still taking chunks, else the next to open. */
    private long currentRound() {
        for (RoundRun run : open.values()) {
            if (run.round.status() == Round.Status.OPEN) {
                return run.round.id();
            }
        }
        return nextRound;
    }

    /** (Re)sets the round's deadline to {@code ms} from now. */
    private void armDeadline(RoundRun run, long ms) {
        vertx.cancelTimer(run.timer);
        run.timer = vertx.setTimer(ms, t -> {
            if (run.round.status() == Round.Status.OPEN) {
                close(run, "deadline " + ms + " ms");
            }
        });
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
            armDeadline(run, Math.max(1, Math.min(deadlineMs(), left)));
        }
    }

    private long deadlineMs() {
        JobConfig.Deadline d = job.deadline();
        if (!d.adaptive() || latenciesMs.isEmpty()) {
            return d.maxMs();
        }
        long[] sorted = latenciesMs.stream().mapToLong(Long::longValue).sorted().toArray();
        long median = sorted[sorted.length / 2];
        return Math.max(d.minMs(), Math.min(d.maxMs(), (long) Math.ceil(d.factor() * median)));
    }

    private void process(RoundRun run, Message<Object> msg, ChunkFrame.Header h, ByteBuffer frame) {
        int slot = h.slot();
        outstanding[slot]++;
        load.chunksInProcess.incrementAndGet();
        run.pending++;
        ChunkKey key = new ChunkKey(run.round.id(), slot, h.chunkIndex());
        math.executeBlocking(() -> checkAndStore(key, h, frame), false).onComplete(ar -> {
            outstanding[slot]--;
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
            taskDone(run);
        });
    }

    /** Worker thread: rejects non-finite values, stores the payload as it came. Returns a rejection reason or null. */
    private String checkAndStore(ChunkKey key, ChunkFrame.Header h, ByteBuffer frame) {
        ByteBuffer payload = ChunkFrame.payload(frame, h);
        int bad = kernels.firstNonFinite(payload, h.count());
        if (bad >= 0) {
            return "non-finite value " + payload.getFloat(4 * bad) + " at coordinate " + (h.offset() + bad);
        }
        store.put(key, payload);
        return null;
    }

    private void exclude(RoundRun run, int slot, String reason) {
        LOG.info("round {}: worker '{}' excluded: {}", run.round.id(), workerIds[slot], reason);
        for (int column : run.round.exclude(slot, reason)) {
            fold(run, column, run.round.activeSlots());
        }
        closeIfDelivered(run);
    }

    private void fold(RoundRun run, int column, boolean[] rows) {
        if (!run.pipeline.folds()) {
            return;
        }
        run.pending++;
        math.executeBlocking(() -> {
            foldColumn(run, column, rows);
            return null;
        }, false).onComplete(ar -> {
            if (ar.failed()) {
                run.failure = "fold failed: " + ar.cause().getMessage();
                LOG.error("round {}: {}", run.round.id(), run.failure, ar.cause());
                closeIfOpen(run, "fold failure");
            }
            taskDone(run);
        });
    }

    /** Worker thread: folds one column's chunks of the given slots, read from the store block by block. */
    private void foldColumn(RoundRun run, int column, boolean[] rows) throws IOException {
        long t0 = System.nanoTime();
        long start = (long) column * job.chunkCoords();
        run.pipeline.fold(rows, start, start + job.chunkLength(column), storeRows(run.round.id()));
        run.addFoldNanos(System.nanoTime() - t0);
    }

    /** The round's gradients in the store, as the pipeline reads them: row = slot, a range inside one chunk. */
    private RoundPipeline.Rows storeRows(long round) {
        return (slot, offset, count, dst) -> {
            int column = (int) (offset / job.chunkCoords());
            store.read(new ChunkKey(round, slot, column), (int) (offset - (long) column * job.chunkCoords()), count,
                    dst, 0);
        };
    }

    private void taskDone(RoundRun run) {
        run.pending--;
        if (run.pending == 0 && run.idle != null) {
            Promise<Void> idle = run.idle;
            run.idle = null;
            idle.complete();
        }
    }

    private Future<Void> whenIdle(RoundRun run) {
        if (run.pending == 0) {
            return Future.succeededFuture();
        }
        run.idle = Promise.promise();
        return run.idle.future();
    }

    // ---------------------------------------------------------------------------------------------------
    // Closing, solving, output

    private void closeIfDelivered(RoundRun run) {
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
        vertx.cancelTimer(run.timer);
        run.trigger = trigger;
        run.closedNanos = System.nanoTime();
        List<Integer> unfolded = run.round.close();
        whenIdle(run).compose(v -> {
            if (run.failure != null) {
                return Future.failedFuture(run.failure);
            }
            int[] participants = run.round.participants();
            if (participants.length < job.quorum()) {
                return Future.failedFuture("quorum not reached: " + participants.length + " of " + p
                        + " workers delivered, quorum " + job.quorum());
            }
            return math.executeBlocking(() -> solve(run, participants, unfolded), false)
                    .compose(solved -> output(run, participants, solved));
        }).onComplete(ar -> finish(run, ar.succeeded() ? null : ar.cause().getMessage()));
    }

    /** Worker thread: folds the columns left over the participants, then solves in p x p space. */
    private Solution solve(RoundRun run, int[] participants, List<Integer> unfolded) throws IOException {
        if (run.pipeline.folds()) {
            boolean[] rows = new boolean[p];
            for (int s : participants) {
                rows[s] = true;
            }
            for (int column : unfolded) {
                foldColumn(run, column, rows);
            }
        }
        long t0 = System.nanoTime();
        Solution solution = run.pipeline.solve(participants);
        run.solveNanos = System.nanoTime() - t0;
        return solution;
    }

    /**
     * The output pass, split over the math threads: each aggregate chunk is encoded into its frame at once and
     * the frame goes into the store, from where the result streams copy it as it is.
     */
    private Future<Solution> output(RoundRun run, int[] participants, Solution solution) {
        int[] selected = Arrays.stream(solution.selected()).map(i -> participants[i]).toArray();
        run.solution = solution;
        run.participants = participants;
        long round = run.round.id();
        RoundPipeline.Rows rows = storeRows(round);
        int tasks = Math.min(job.chunks(), Runtime.getRuntime().availableProcessors());
        List<Future<Void>> parts = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int t = 0; t < tasks; t++) {
            int first = t;
            parts.add(math.executeBlocking(() -> {
                OutputScratch own = scratch.get();
                for (int column = first; column < job.chunks(); column += tasks) {
                    long start = (long) column * job.chunkCoords();
                    int len = job.chunkLength(column);
                    run.pipeline.output(solution, selected, start, start + len, rows, (offset, out, n) -> {
                        int at = (int) (offset - start);
                        for (int i = 0; i < n; i++) {
                            own.values[at + i] = (float) out[i];
                        }
                    });
                    int bytes = ChunkFrame.encode(ChunkFrame.KIND_AGGREGATE, round, 0, column, start, own.values, 0,
                            len, own.frame, 0);
                    store.put(new ChunkKey(round, p, column), ByteBuffer.wrap(own.frame, 0, bytes));
                }
                return null;
            }, false));
        }
        return Future.all(parts).map(v -> {
            run.outputNanos = System.nanoTime() - t0;
            return solution;
        });
    }

    /** One math thread's buffers for the output pass: a chunk's values and its frame. */
    private static final class OutputScratch {
        final float[] values;
        final byte[] frame;

        OutputScratch(int chunkCoords) {
            values = new float[chunkCoords];
            frame = new byte[ChunkFrame.frameBytes(chunkCoords)];
        }
    }

    private void finish(RoundRun run, String error) {
        boolean completed = error == null;
        run.round.finish(completed);
        open.remove(run.round.id());
        load.openRounds.set(open.size());
        long latencyMs = (run.closedNanos - run.round.openedNanos()) / 1_000_000;
        if (completed) {
            latenciesMs.addLast((run.closedNanos - run.clockNanos) / 1_000_000);
            while (latenciesMs.size() > job.deadline().history()) {
                latenciesMs.removeFirst();
            }
        } else {
            LOG.warn("round {} failed: {}", run.round.id(), error);
        }
        JsonObject record = record(run, error, latencyMs);
        bus.publish(addresses.rounds(), record);
        run.logged = appendToLog(record);
        streamResults(run, record);
    }

    private JsonObject record(RoundRun run, String error, long latencyMs) {
        JsonObject record = run.round.record(workerIds)
                .put("status", error == null ? "completed" : "failed")
                .put("trigger", run.trigger)
                .put("rule", rule.name())
                .put("workers", p)
                .put("dim", job.dim())
                .put("timings_ms", new JsonObject()
                        .put("open_to_close", latencyMs)
                        .put("fold_cpu", run.foldNanos() / 1e6)
                        .put("solve", run.solveNanos / 1e6)
                        .put("output", run.outputNanos / 1e6)
                        .put("close_to_output", (System.nanoTime() - run.closedNanos) / 1e6));
        if (error != null) {
            record.put("error", error);
        }
        if (run.solution != null) {
            RoundReport.addSolution(record, run.solution, run.participants, this::name);
        }
        return record;
    }

    private String name(int slot) {
        return workerIds[slot] == null ? "slot-" + slot : workerIds[slot];
    }

    /** Cuts a torn last line of the round log (a write cut short by a full disk) before the first append. */
    private Future<Void> repairLog() {
        if (job.roundLog() == null) {
            return Future.succeededFuture();
        }
        return vertx.executeBlocking(() -> RoundLog.repair(job.roundLog())).<Void>map(cut -> {
            if (cut > 0) {
                LOG.warn("round log {}: cut a torn last line of {} bytes", job.roundLog(), cut);
            }
            return null;
        }).recover(e -> {
            LOG.warn("cannot repair round log {}: {}", job.roundLog(), e.toString());
            return Future.succeededFuture();
        });
    }

    /** Appends the record to the round log; the future completes (never fails) once it was tried. */
    private Future<Void> appendToLog(JsonObject record) {
        if (job.roundLog() == null) {
            return Future.succeededFuture();
        }
        byte[] line = (record.encode() + "\n").getBytes(StandardCharsets.UTF_8);
        // Ordered: records land in the log in the order rounds finish.
        return vertx.executeBlocking(() -> {
            RoundLog.append(job.roundLog(), line);
            return null;
        }, true).<Void>mapEmpty().recover(e -> {
                    LOG.warn("cannot append to round log {}: {}", job.roundLog(), e.toString());
                    return Future.succeededFuture();
                });
    }

    // ---------------------------------------------------------------------------------------------------
    // Results out

    /** Notes whether the slot took round {@code id}'s summary ({@code failure} null): warns only on a change. */
    private void reachable(int slot, long id, Throwable failure) {
        if (failure == null) {
            if (unreachable[slot]) {
                unreachable[slot] = false;
                LOG.info("round {}: worker '{}' takes its results again", id, name(slot));
            }
        } else if (!unreachable[slot]) {
            unreachable[slot] = true;
            LOG.warn("round {}: worker '{}' did not take its results ({}); not said again until it takes them",
                    id, name(slot), failure.getMessage());
        } else {
            LOG.debug("round {}: worker '{}' still takes no results: {}", id, name(slot), failure.getMessage());
        }
    }

    private void streamResults(RoundRun run, JsonObject record) {
        boolean completed = run.round.status() == Round.Status.COMPLETED;
        // Workers behind one relay (a node's data link) share one stream of the aggregate's chunks.
        Map<String, List<Integer>> byDestination = new LinkedHashMap<>();
        for (int s = 0; s < p; s++) {
            if (workerIds[s] != null) {
                byDestination.computeIfAbsent(relays[s] != null ? relays[s] : addresses.results(s),
                        d -> new ArrayList<>()).add(s);
            }
        }
        run.streams = byDestination.size();
        run.chunkStreams = completed ? byDestination.size() : 0;
        if (run.streams == 0) {
            release(run);
            return;
        }
        boolean[] included = new boolean[p];
        for (int s : run.participants == null ? new int[0] : run.participants) {
            included[s] = true;
        }
        byDestination.forEach((destination, slots) -> {
            List<JsonObject> summaries = new ArrayList<>();
            for (int slot : slots) {
                JsonObject summary = new JsonObject()
                        .put("round", run.round.id())
                        .put("status", record.getString("status"))
                        .put("included", included[slot])
                        .put("chunks", completed ? job.chunks() : 0)
                        .put("record", record);
                String reason = run.round.excludedReason(slot);
                if (!included[slot]) {
                    summary.put("reason", reason != null ? "excluded: " + reason
                            : completed ? "straggler: the round closed without this worker's gradient" : record.getString("error"));
                }
                summaries.add(summary);
            }
            ResultStream stream = new ResultStream(run, destination, slots, completed);
            run.resultStreams.add(stream);
            // A worker (or node) holds at most max_result_rounds rounds' results: the oldest gives way.
            ArrayDeque<ResultStream> held = streamsTo.computeIfAbsent(destination, d -> new ArrayDeque<>());
            while (held.size() >= job.maxResultRounds()) {
                held.peekFirst().drop("results of more than " + job.maxResultRounds()
                        + " rounds unfinished (max_result_rounds): round " + held.peekFirst().run.round.id() + " gave way");
            }
            held.addLast(stream);
            stream.start(summaries);
        });
        // The whole result stream, not each message, is bounded in time: a worker that acknowledges just
        // in time, chunk after chunk, must not keep every round's data.
        run.resultTimer = vertx.setTimer(job.resultTimeoutMs(), t -> List.copyOf(run.resultStreams)
                .forEach(stream -> stream.drop("round " + run.round.id() + "'s results not acknowledged within "
                        + job.resultTimeoutMs() + " ms of its close (result_timeout_ms)")));
    }

    private void streamDone(RoundRun run) {
        if (--run.streams == 0) {
            release(run);
        }
    }

    /** Frees the round's chunks; then, with its record logged, announces it on the released address. */
    private void release(RoundRun run) {
        vertx.cancelTimer(run.resultTimer);
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

    /**
     * The aggregate's frame for a column, encoded once and shared by every worker's stream (frames are never
     * modified, and carry slot 0 whoever receives them). At most 4 x credits frames are cached per round; a
     * frame leaves the cache once every stream has sent it, and a stream far behind encodes its own. Each
     * frame's array goes back to {@link #frameArrays} once every send of it was acknowledged (a consumer is
     * done with a frame when it answers; after a failure or timeout it may still be reading it).
     */
    private SharedFrame aggregateFrame(RoundRun run, int column) {
        SharedFrame cached = run.frames.get(column);
        if (cached != null) {
            return cached;
        }
        long round = run.round.id();
        boolean cache = run.frames.size() < 4 * job.credits();
        SharedFrame shared = new SharedFrame(cache ? run.chunkStreams : 1);
        shared.frame = math.executeBlocking(() -> {
            // The output pass stored the frame itself: a copy, no encoding.
            byte[] bytes = frameArrays.take(ChunkFrame.frameBytes(job.chunkLength(column)));
            store.readBytes(new ChunkKey(round, p, column), bytes, 0);
            shared.bytes = bytes;
            return ChunkFrame.wrap(bytes);
        }, false);
        if (cache) {
            run.frames.put(column, shared);
        }
        return shared;
    }

    /** One stream is done with a column's frame (sent, failed, or given up): the last one releases it. */
    private void frameDone(RoundRun run, int column, SharedFrame shared, boolean acknowledged) {
        shared.lost |= !acknowledged;
        if (--shared.uses == 0) {
            run.frames.remove(column, shared);
            if (!shared.lost && shared.bytes != null) {
                frameArrays.give(shared.bytes);
            }
        }
    }

    /** An aggregate frame and the streams that will still send it. */
    private static final class SharedFrame {
        Future<Buffer> frame;
        /** Written by the math thread that encoded it, read after {@link #frame} completed. */
        volatile byte[] bytes;
        int uses;
        boolean lost;

        SharedFrame(int uses) {
            this.uses = uses;
        }
    }

    /**
     * Streams the round summary to each of its workers, then the aggregate's chunks to their destination
     * (one worker's address, or the relay of several) with at most W unacknowledged per worker behind it.
     */
    private final class ResultStream {
        private final RoundRun run;
        private final String destination;
        private final List<Integer> slots;
        private final boolean withChunks;
        private final DeliveryOptions chunkOptions;
        private int next;
        private int inFlight;
        private int acked;
        private boolean failed;
        private boolean done;

        ResultStream(RoundRun run, String destination, List<Integer> slots, boolean withChunks) {
            this.run = run;
            this.destination = destination;
            this.slots = slots;
            this.withChunks = withChunks;
            this.chunkOptions = new DeliveryOptions().setSendTimeout(job.resultTimeoutMs()).addHeader("type", "chunk")
                    .setCodecName(FrameCodec.NAME);
        }

        /** Chunks follow once every summary was answered (a worker ignores chunks before its summary). */
        void start(List<JsonObject> summaries) {
            DeliveryOptions options = new DeliveryOptions().setSendTimeout(job.resultTimeoutMs())
                    .addHeader("type", "summary");
            List<Future<Object>> answered = new ArrayList<>();
            for (int k = 0; k < slots.size(); k++) {
                int slot = slots.get(k);
                answered.add(bus.request(addresses.results(slot), summaries.get(k), options).map(m -> (Object) null)
                        .onComplete(ar -> reachable(slot, run.round.id(), ar.cause())));
            }
            Future.join(answered).onComplete(ar -> {
                if (failed) {
                    return;
                } else if (answered.stream().allMatch(Future::failed)) {
                    stop(null); // each worker's failure was said (once) by reachable
                } else if (withChunks) {
                    pump();
                } else {
                    finish();
                }
            });
        }

        private void pump() {
            while (!failed && inFlight < job.credits() * slots.size() && next < job.chunks()) {
                int column = next++;
                inFlight++;
                load.aggregateChunksInFlight.incrementAndGet();
                int[] frameBytes = new int[1];
                SharedFrame shared = aggregateFrame(run, column);
                shared.frame
                        .compose(frame -> {
                            frameBytes[0] = frame.length();
                            return bus.request(destination, frame, chunkOptions);
                        })
                        .onComplete(ar -> {
                            inFlight--;
                            frameDone(run, column, shared, ar.succeeded());
                            load.aggregateChunksInFlight.decrementAndGet();
                            if (ar.succeeded()) {
                                load.aggregateChunksSent.incrementAndGet();
                                load.aggregateBytesSent.addAndGet(frameBytes[0]);
                            }
                            if (ar.failed()) {
                                stop("aggregate chunk " + column + " not acknowledged: " + ar.cause().getMessage());
                            } else if (++acked == job.chunks()) {
                                finish();
                            } else if (failed) {
                                finishIfDrained();
                            } else {
                                pump();
                            }
                        });
            }
        }

        /** Stops the stream; a null reason: no summary was taken, which {@link #reachable} logged. */
        private void stop(String reason) {
            if (!failed) {
                failed = true;
                unhold();
                if (reason != null) {
                    LOG.warn("round {}: stopped streaming the aggregate to {}: {}", run.round.id(),
                            slots.stream().map(AggregatorVerticle.this::name).toList(), reason);
                }
                // This stream will not send the columns it has not requested: they must not wait for it.
                if (withChunks) {
                    run.chunkStreams--;
                    for (Map.Entry<Integer, SharedFrame> cached : List.copyOf(run.frames.entrySet())) {
                        if (cached.getKey() >= next) {
                            frameDone(run, cached.getKey(), cached.getValue(), true);
                        }
                    }
                }
            }
            finishIfDrained();
        }

        /**
         * Over a bound (time, rounds held): stops the stream and tells its workers why (best effort: a worker
         * that does not read learns it when its exchange fails).
         */
        void drop(String reason) {
            if (done || failed) {
                return;
            }
            JsonObject notice = new JsonObject().put("round", run.round.id()).put("code", Codes.RESULTS_DROPPED)
                    .put("reason", reason);
            DeliveryOptions options = new DeliveryOptions().addHeader("type", "dropped");
            for (int slot : slots) {
                bus.send(addresses.results(slot), notice, options);
            }
            stop(reason);
        }

        /** A stopped stream is done once its in-flight chunks settled: their encode tasks read the store. */
        private void finishIfDrained() {
            if (inFlight == 0) {
                finish();
            }
        }

        private void finish() {
            if (!done) {
                done = true;
                unhold();
                streamDone(run);
            }
        }

        /** No longer counts against its destination's max_result_rounds nor the round's time bound. */
        private void unhold() {
            ArrayDeque<ResultStream> held = streamsTo.get(destination);
            if (held != null && held.remove(this) && held.isEmpty()) {
                streamsTo.remove(destination);
            }
            run.resultStreams.remove(this);
        }
    }

    /** A round and what the engine tracks about it beyond the bookkeeping in {@link Round}. */
    private static final class RoundRun {
        final Round round;
        final RoundPipeline pipeline;
        long timer = -1;
        int pending;
        Promise<Void> idle;
        String trigger;
        String failure;
        long closedNanos;
        /** When the round's deadline clock started: when a quorum of workers started it, else when it opened. */
        long clockNanos;
        long solveNanos;
        long outputNanos;
        private final AtomicLong foldNanos = new AtomicLong();
        Solution solution;
        int[] participants;
        int streams;
        int chunkStreams;
        final List<ResultStream> resultStreams = new ArrayList<>();
        long resultTimer = -1;
        final Map<Integer, SharedFrame> frames = new HashMap<>();
        Future<Void> logged = Future.succeededFuture();

        RoundRun(Round round, RoundPipeline pipeline) {
            this.round = round;
            this.pipeline = pipeline;
            this.clockNanos = round.openedNanos();
        }

        void addFoldNanos(long nanos) {
            foldNanos.addAndGet(nanos);
        }

        long foldNanos() {
            return foldNanos.get();
        }
    }
}
