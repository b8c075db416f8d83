package org.flagagg.sim;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.EOFException;
import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.Aggregation;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.ChunkStoreStats;
import org.flagagg.rules.Rules;
import org.flagagg.server.Server;
import org.flagagg.wire.Addresses;
import org.flagagg.worker.Worker;

/**
 * Drives a job's aggregator with a simulated {@link Fleet}: joins P workers (each a small verticle on its
 * own event-loop context, slot = index, id "w&lt;slot&gt;"), runs R rounds one after the other, collects
 * the round records, optionally checks each completed round's aggregate against the offline
 * {@link Aggregation} of the same gradients, and reports throughput, latency, memory and what the rounds
 * recorded. The aggregator must already be deployed for the job ({@link #deployEmbedded} does it in this
 * Vert.x instance). Round ids are 0 .. R - 1, so the aggregator must be fresh.
 *
 * <p>Bounded: at most R rounds, and an overall timeout (default R x (deadline max + result timeout) + 10 s)
 * after which the run stops and reports the rounds it finished ({@code timed_out: true}).
 *
 * <p>Over 400 lines: one run (rounds, records, verification, the report) reads top to bottom; the workers
 * themselves are {@link Fleet}'s.
 */
public final class LoadTest {

    /** Called on the load test's context after each round: rounds done so far, rounds requested. */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);
    }

    /**
     * Joins simulated worker {@code slot} (its id must be "w&lt;slot&gt;": verification reads slots from the
     * record's participant names), called on that worker's own context. The default joins over the event bus
     * with a {@link Worker}; a WebSocket load test passes one that connects a Worker.
     */
    @FunctionalInterface
    public interface WorkerFactory {
        Future<Worker> join(Vertx vertx, int slot);
    }

    /** Deploys an aggregator for {@code job} on a new chunk store sized by the job ({@link Server#deploy}). */
    public static Future<Server> deployEmbedded(Vertx vertx, JobConfig job) {
        return Server.deploy(vertx, job);
    }

    private static final long RECORD_GRACE_MS = 10_000;
    private static final long SAMPLE_MS = 100;
    private static final List<String> PHASES = List.of("open_to_close", "fold_cpu", "solve", "output", "close_to_output");

    private final Vertx vertx;
    private final JobConfig job;
    private final Fleet fleet;
    private final int rounds;
    private final boolean verify;
    private Progress progress = (done, total) -> { };
    private WorkerFactory workerFactory;
    private List<ChunkStore> stores = List.of();
    private long timeoutMs;
    private int warmup;

    public LoadTest(Vertx vertx, JobConfig job, Fleet.Config fleet, int rounds, boolean verify) {
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds must be >= 1, got " + rounds);
        }
        this.vertx = vertx;
        this.job = job;
        this.fleet = new Fleet(fleet, job.workers(), job.dim());
        this.rounds = rounds;
        this.verify = verify;
        this.timeoutMs = rounds * (job.deadline().maxMs() + job.resultTimeoutMs()) + 10_000;
        this.workerFactory = (v, slot) -> Worker.join(v, job.job(), "w" + slot, job.dim(), slot);
    }

    /** How simulated workers join (default: over the event bus). */
    public LoadTest withWorkers(WorkerFactory factory) {
        this.workerFactory = factory;
        return this;
    }

    public LoadTest onProgress(Progress progress) {
        this.progress = progress;
        return this;
    }

    /**
     * The aggregator's chunk stores (shard 0's first, one per shard), when they live in this process: their
     * peaks join the report.
     */
    public LoadTest withStores(List<ChunkStore> stores) {
        this.stores = List.copyOf(stores);
        return this;
    }

    /** Runs {@code rounds} more rounds first and leaves them out of every figure (JIT and caches warm up). */
    public LoadTest withWarmup(int rounds) {
        if (rounds < 0) {
            throw new IllegalArgumentException("warm-up rounds must be >= 0, got " + rounds);
        }
        this.warmup = rounds;
        this.timeoutMs += rounds * (job.deadline().maxMs() + job.resultTimeoutMs());
        return this;
    }

    public LoadTest withTimeoutMs(long timeoutMs) {
        if (timeoutMs < 1) {
            throw new IllegalArgumentException("timeout must be >= 1 ms, got " + timeoutMs);
        }
        this.timeoutMs = timeoutMs;
        return this;
    }

    public Fleet fleet() {
        return fleet;
    }

    /** Runs the load test; completes with the report (see docs/loadtest.md), also after a timeout. */
    public Future<JsonObject> run() {
        Context context = vertx.getOrCreateContext();
        Promise<JsonObject> report = Promise.promise();
        context.runOnContext(v -> new Run(context, report).start());
        return report.future();
    }

    // ---------------------------------------------------------------------------------------------------

    /** One simulated worker: a verticle, so it has its own event-loop context. */
    private static final class SimWorker extends VerticleBase {
        private final WorkerFactory factory;
        private final int slot;
        private Worker client;

        SimWorker(WorkerFactory factory, int slot) {
            this.factory = factory;
            this.slot = slot;
        }

        @Override
        public Future<?> start() {
            return factory.join(vertx, slot).onSuccess(c -> client = c);
        }

        Context context() {
            return context;
        }

        @Override
        public Future<?> stop() {
            return client == null ? Future.succeededFuture() : client.close();
        }
    }

    /** What one round measured. */
    private static final class RoundStats {
        final long id;
        final long startNanos = System.nanoTime();
        final AtomicLong firstSendNanos = new AtomicLong(Long.MAX_VALUE);
        final AtomicLong bytesSent = new AtomicLong();
        long lastAggregateNanos = Long.MIN_VALUE;
        boolean verifierReceived;
        /** Why the first worker's exchange that failed did (a round without a record says nothing else). */
        String exchangeFailure;

        RoundStats(long id) {
            this.id = id;
        }
    }

    /** The state of one run, confined to the load test's context. */
    private final class Run {
        final Context context;
        final Promise<JsonObject> report;
        final Addresses addresses = new Addresses(job.job());
        final SimWorker[] workers = new SimWorker[job.workers()];
        final List<String> deployments = new ArrayList<>();
        final Map<Long, JsonObject> records = new HashMap<>();
        final Map<Long, Promise<JsonObject>> awaited = new HashMap<>();
        final Set<Long> timers = ConcurrentHashMap.newKeySet();
        /** With verify: the aggregate one worker received, in a file in the spill directory (not on the heap). */
        volatile FileChannel received;
        final List<Double> latenciesMs = new ArrayList<>();
        final Map<String, double[]> phases = new TreeMap<>();
        /** Per shard, summed over the completed measured rounds: bytes_in, fold_ms, output_ms, cpu_ms; and the columns. */
        final Map<Integer, double[]> shardSums = new TreeMap<>();
        final Map<Integer, JsonArray> shardColumns = new TreeMap<>();
        long bytesIn;
        /** {round, reason} of every failed measured round, in order. */
        final JsonArray failures = new JsonArray();
        MessageConsumer<JsonObject> recordConsumer;
        MessageConsumer<Long> releasedConsumer;
        final Set<Long> recorded = new HashSet<>();
        final Set<Long> released = new HashSet<>();
        Promise<Void> drained;
        long sampler = -1;
        long deadlineTimer = -1;
        boolean finished;
        boolean timedOut;
        String error;
        int done;
        int completed;
        int failed;
        int verified;
        /** The server's id of the next round: from the workers' sessions, then one more per round that opened. */
        long roundId;
        long stragglers;
        long excluded;
        long wallNanos;
        long bytesSent;
        double maxRelError = verify ? 0 : Double.NaN;
        String verifyError;
        long peakHeap;
        long peakDirect;

        Run(Context context, Promise<JsonObject> report) {
            this.context = context;
            this.report = report;
        }

        void start() {
            heapPools().forEach(MemoryPoolMXBean::resetPeakUsage);
            sample();
            sampler = vertx.setPeriodic(SAMPLE_MS, t -> sample());
            deadlineTimer = vertx.setTimer(timeoutMs, t -> {
                timedOut = true;
                finish();
            });
            recordConsumer = vertx.eventBus().consumer(addresses.rounds(), m -> onRecord(m.body()));
            releasedConsumer = vertx.eventBus().consumer(addresses.released(), m -> onReleased(m.body()));
            Future.all(recordConsumer.completion(), releasedConsumer.completion(),
                            verify ? vertx.executeBlocking(this::openReceived, false) : Future.succeededFuture())
                    .compose(v -> joinAll())
                    .onComplete(ar -> {
                        if (ar.failed()) {
                            error = "workers could not join job '" + job.job() + "': " + ar.cause().getMessage();
                            finish();
                        } else {
                            // The server owns the round ids: start at its current round, not at 0.
                            for (SimWorker worker : workers) {
                                roundId = Math.max(roundId, worker.client.nextRound());
                            }
                            nextRound(0);
                        }
                    });
        }

        Future<Void> joinAll() {
            List<Future<String>> joins = new ArrayList<>();
            for (int slot = 0; slot < workers.length; slot++) {
                workers[slot] = new SimWorker(workerFactory, slot);
                joins.add(vertx.deployVerticle(workers[slot]).onSuccess(id -> deployments.add(id)));
            }
            return Future.all(joins).mapEmpty();
        }

        void onRecord(JsonObject record) {
            long id = record.getLong("round", -1L);
            recorded.add(id);
            Promise<JsonObject> waiting = awaited.remove(id);
            if (waiting != null) {
                waiting.complete(record);
            } else {
                records.put(id, record);
            }
        }

        void onReleased(long id) {
            released.add(id);
            if (drained != null && released.containsAll(recorded)) {
                drained.tryComplete();
            }
        }

        /**
         * Completes when every round with a record has been released by the aggregator (its memory freed and
         * its record logged), or after the grace period: the run ends with the server idle.
         */
        Future<Void> whenReleased() {
            if (released.containsAll(recorded)) {
                return Future.succeededFuture();
            }
            drained = Promise.promise();
            Promise<Void> waiting = drained;
            vertx.setTimer(RECORD_GRACE_MS, t -> waiting.tryComplete());
            return waiting.future();
        }

        /** The record of a round, or null if it does not come within the grace period. */
        Future<JsonObject> recordOf(long id) {
            JsonObject record = records.remove(id);
            if (record != null) {
                return Future.succeededFuture(record);
            }
            Promise<JsonObject> promise = Promise.promise();
            awaited.put(id, promise);
            vertx.setTimer(RECORD_GRACE_MS, t -> {
                if (awaited.remove(id, promise)) {
                    promise.complete(null);
                }
            });
            return promise.future();
        }

        void nextRound(int r) {
            if (finished) {
                return;
            }
            if (r == warmup + rounds) {
                whenReleased().onComplete(v -> finish());
                return;
            }
            runRound(r).onComplete(ar -> {
                if (ar.failed()) {
                    error = "round " + r + ": " + ar.cause().getMessage();
                    finish();
                    return;
                }
                if (finished) {
                    return;
                }
                if (r >= warmup) {
                    done++;
                }
                progress.update(r + 1, warmup + rounds);
                nextRound(r + 1);
            });
        }

        Future<Void> runRound(long r) {
            int p = workers.length;
            StragglerSpec spec = fleet.stragglers();
            boolean[] dropped = new boolean[p];
            int verifier = -1;
            for (int slot = 0; slot < p; slot++) {
                dropped[slot] = spec.dropsOut(fleet.seed(), r, slot, p);
                if (!dropped[slot] && verifier < 0) {
                    verifier = slot;
                }
            }
            if (verifier < 0) {
                // Nobody sends: no round opens on the aggregator (the next keeps its id), and there is no record.
                if (r >= warmup) {
                    failed(roundId, "every worker dropped out: no round opened");
                }
                return Future.succeededFuture();
            }
            RoundStats stats = new RoundStats(roundId++);
            List<Future<Long>> exchanges = new ArrayList<>();
            for (int slot = 0; slot < p; slot++) {
                exchanges.add(exchange(stats, slot, dropped[slot], slot == verifier && verify));
            }
            int verifierSlot = verifier;
            boolean measured = r >= warmup;
            return Future.join(exchanges).transform(ignored -> {
                long end = System.nanoTime();
                if (measured) {
                    wallNanos += end - stats.startNanos;
                    bytesSent += stats.bytesSent.get();
                }
                for (int slot = 0; slot < p; slot++) {
                    Future<Long> f = exchanges.get(slot);
                    if (f.succeeded()) {
                        stats.lastAggregateNanos = Math.max(stats.lastAggregateNanos, f.result());
                        if (slot == verifierSlot) {
                            stats.verifierReceived = true;
                        }
                    } else if (stats.exchangeFailure == null) {
                        stats.exchangeFailure = "w" + slot + ": " + f.cause().getMessage();
                    }
                }
                return recordOf(stats.id);
            }).compose(record -> measured ? account(stats, record) : Future.succeededFuture());
        }

        /** One worker's exchange of round r, on its context; completes (here) with the time it got the aggregate. */
        Future<Long> exchange(RoundStats stats, int slot, boolean dropped, boolean verifying) {
            SimWorker worker = workers[slot];
            long sendDelay = fleet.stragglers().sendDelayMs(fleet.seed(), stats.id, slot, workers.length);
            long ackDelay = fleet.stragglers().ackDelayMs(slot, workers.length);
            Promise<Long> outcome = Promise.promise();
            worker.context().runOnContext(v -> {
                Future<Void> sendWhen = dropped ? Future.failedFuture("dropped out")
                        : sendDelay > 0 ? timer(sendDelay) : Future.succeededFuture();
                Worker.GradientReader fleetReader = fleet.reader(stats.id, slot);
                Worker.GradientReader reader = new Worker.GradientReader() {
                    boolean started;

                    @Override
                    public void read(long offset, int count, float[] dst) {
                        if (!started) {
                            started = true;
                            stats.firstSendNanos.accumulateAndGet(System.nanoTime(), Math::min);
                        }
                        fleetReader.read(offset, count, dst);
                        stats.bytesSent.addAndGet(4L * count);
                    }
                };
                Worker.AsyncResultSink sink = (offset, values, count) -> {
                    Future<Void> kept = verifying ? keep(offset, values, count) : Future.succeededFuture();
                    return ackDelay > 0 ? kept.compose(x -> timer(ackDelay)) : kept;
                };
                Future<Worker.Aggregate> exchange;
                try {
                    exchange = worker.client.exchange(stats.id, reader, sink, sendWhen);
                } catch (RuntimeException e) {
                    // The first chunks are read inside exchange(): a generator failure must not hang the round.
                    exchange = Future.failedFuture(e);
                }
                exchange.onComplete(ar -> {
                    long at = System.nanoTime();
                    // Back to the load test's context, where the run's state lives.
                    context.runOnContext(x -> {
                        if (ar.succeeded()) {
                            outcome.complete(at);
                        } else {
                            outcome.fail(ar.cause());
                        }
                    });
                });
            });
            return outcome.future();
        }

        void failed(long round, String reason) {
            failed++;
            failures.add(new JsonObject().put("round", round).put("reason", reason));
        }

        /** Worker thread: the file the verifying worker writes the aggregate to, deleted when the run ends. */
        Void openReceived() throws IOException {
            Files.createDirectories(job.spillDir());
            Path file = Files.createTempFile(job.spillDir(), "verify-", ".f32");
            received = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.DELETE_ON_CLOSE);
            return null;
        }

        /**
         * The verifying worker's aggregate chunk, copied now (values is the client's scratch) and written to
         * the file on a worker thread; the chunk is acknowledged once written.
         */
        Future<Void> keep(long offset, float[] values, int count) {
            ByteBuffer bytes = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asFloatBuffer().put(values, 0, count);
            return vertx.executeBlocking(() -> {
                while (bytes.hasRemaining()) {
                    received.write(bytes, 4 * offset + bytes.position());
                }
                return null;
            }, false);
        }

        /** A future completed after ms on the calling context; the timer is cancelled if the run ends first. */
        Future<Void> timer(long ms) {
            Promise<Void> promise = Promise.promise();
            long[] id = new long[1];
            id[0] = vertx.setTimer(ms, t -> {
                timers.remove(id[0]);
                promise.complete();
            });
            timers.add(id[0]);
            return promise.future();
        }

        Future<Void> account(RoundStats stats, JsonObject record) {
            if (finished) {
                return Future.succeededFuture();
            }
            boolean ok = record != null && "completed".equals(record.getString("status"));
            if (record != null) {
                JsonArray late = record.getJsonArray("stragglers", new JsonArray());
                stragglers += late.size();
                excluded += record.getJsonObject("excluded", new JsonObject()).size();
                JsonObject timings = record.getJsonObject("timings_ms", new JsonObject());
                for (String phase : PHASES) {
                    Number value = timings.getNumber(phase);
                    if (value != null) {
                        double[] sumAndCount = phases.computeIfAbsent(phase, k -> new double[2]);
                        sumAndCount[0] += value.doubleValue();
                        sumAndCount[1]++;
                    }
                }
            }
            if (!ok) {
                failed(stats.id, record != null ? record.getString("error", "status " + record.getString("status"))
                        : "no round record within " + RECORD_GRACE_MS / 1000 + " s"
                                + (stats.exchangeFailure == null ? "" : "; " + stats.exchangeFailure));
                return Future.succeededFuture();
            }
            completed++;
            addShards(record);
            if (stats.lastAggregateNanos != Long.MIN_VALUE && stats.firstSendNanos.get() != Long.MAX_VALUE) {
                latenciesMs.add((stats.lastAggregateNanos - stats.firstSendNanos.get()) / 1e6);
            }
            if (!verify || !stats.verifierReceived) {
                return Future.succeededFuture();
            }
            int[] slots = record.getJsonArray("participants").stream()
                    .mapToInt(name -> Integer.parseInt(((String) name).substring(1))).toArray();
            return vertx.executeBlocking(() -> relativeError(stats.id, slots), false).transform(ar -> {
                if (ar.succeeded()) {
                    verified++;
                    maxRelError = Math.max(maxRelError, ar.result());
                    if (Double.isNaN(ar.result())) {
                        maxRelError = Double.NaN;
                    }
                } else if (verifyError == null) {
                    verifyError = "round " + stats.id + ": " + ar.cause().getMessage();
                }
                return Future.succeededFuture();
            });
        }

        /**
         * A completed round's per-shard bytes and math times: the record's {@code shards}, or for an unsharded
         * round (no such list) the whole record as shard 0.
         */
        void addShards(JsonObject record) {
            bytesIn += record.getLong("bytes_in", 0L);
            JsonObject timings = record.getJsonObject("timings_ms", new JsonObject());
            JsonArray shards = record.getJsonArray("shards", new JsonArray().add(new JsonObject().put("shard", 0)
                    .put("columns", new JsonArray().add(0).add(job.chunks()))
                    .put("bytes_in", record.getLong("bytes_in", 0L))
                    .put("fold_ms", timings.getDouble("fold_cpu", 0.0))
                    .put("output_ms", timings.getDouble("output", 0.0))
                    .put("cpu_ms", timings.getDouble("math_thread_cpu", 0.0))));
            for (int i = 0; i < shards.size(); i++) {
                JsonObject shard = shards.getJsonObject(i);
                int k = shard.getInteger("shard");
                double[] sums = shardSums.computeIfAbsent(k, x -> new double[4]);
                sums[0] += shard.getLong("bytes_in", 0L);
                sums[1] += shard.getDouble("fold_ms", 0.0);
                sums[2] += shard.getDouble("output_ms", 0.0);
                sums[3] += shard.getDouble("cpu_ms", 0.0);
                shardColumns.put(k, shard.getJsonArray("columns"));
            }
        }

        /**
         * Per shard, means over the completed measured rounds: bytes in, the wall time of its math tasks (fold,
         * output pass) and their threads' CPU time (with the check and store of each chunk); with the stores in
         * this process, its store's peaks over the whole run.
         */
        JsonArray shardReport() {
            JsonArray out = new JsonArray();
            shardSums.forEach((k, sums) -> {
                JsonObject shard = new JsonObject().put("shard", k).put("columns", shardColumns.get(k))
                        .put("bytes_in", sums[0] / completed)
                        .put("fold_ms", sums[1] / completed)
                        .put("output_ms", sums[2] / completed)
                        .put("math_ms", (sums[1] + sums[2]) / completed)
                        .put("cpu_ms", sums[3] / completed);
                if (k < stores.size()) {
                    ChunkStoreStats stats = stores.get(k).stats();
                    shard.put("store_peak_mb", stats.peakBytesInMemory() / 1048576.0)
                            .put("store_peak_held_mb", stats.peakBytesHeld() / 1048576.0)
                            .put("store_spilled_mb", stats.bytesSpilledTotal() / 1048576.0);
                }
                out.add(shard);
            });
            return out;
        }

        /**
         * Worker thread: max |a - ref| / max(1, max |ref|), streaming the offline aggregate chunk by chunk and
         * reading the received one from its file alongside: memory is Aggregation's, whatever the dim.
         */
        double relativeError(long round, int[] slots) throws IOException {
            double[] worst = new double[2]; // max |a - ref|, max |ref|
            ByteBuffer bytes = ByteBuffer.allocate(4 * job.chunkCoords()).order(ByteOrder.LITTLE_ENDIAN);
            Aggregation offline = new Aggregation(Rules.create(job.rule()), job.chunkCoords(), Kernels.best());
            offline.run(fleet.source(round, slots), (offset, values, len) -> {
                bytes.clear().limit(4 * len);
                while (bytes.hasRemaining()) {
                    if (received.read(bytes, 4 * offset + bytes.position()) < 0) {
                        throw new EOFException("the received aggregate ends before coordinate " + (offset + len));
                    }
                }
                FloatBuffer a = bytes.flip().asFloatBuffer();
                for (int k = 0; k < len; k++) {
                    double ref = values[k];
                    double diff = Math.abs(a.get(k) - ref);
                    worst[0] = Double.isNaN(diff) ? Double.NaN : Math.max(worst[0], diff);
                    worst[1] = Math.max(worst[1], Math.abs(ref));
                }
            });
            return worst[0] / Math.max(1, worst[1]);
        }

        void sample() {
            peakHeap = Math.max(peakHeap, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
            for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
                if (pool.getName().equals("direct")) {
                    peakDirect = Math.max(peakDirect, pool.getMemoryUsed());
                }
            }
        }

        void finish() {
            if (finished) {
                return;
            }
            finished = true;
            sample();
            vertx.cancelTimer(sampler);
            vertx.cancelTimer(deadlineTimer);
            timers.forEach(vertx::cancelTimer);
            awaited.values().forEach(promise -> promise.tryComplete(null));
            JsonObject result = buildReport();
            List<Future<?>> cleanup = new ArrayList<>();
            deployments.forEach(id -> cleanup.add(vertx.undeploy(id)));
            if (recordConsumer != null) {
                cleanup.add(recordConsumer.unregister());
            }
            if (releasedConsumer != null) {
                cleanup.add(releasedConsumer.unregister());
            }
            if (received != null) {
                cleanup.add(vertx.executeBlocking(() -> {
                    received.close();
                    return null;
                }, false));
            }
            Future.join(cleanup).onComplete(ar -> report.complete(result));
        }

        /**
         * GB/s of gradient data in over the rounds' open-to-close time alone (the transfer, with the Gram
         * folds overlapping it), without the solve, the output pass and the return of the aggregate.
         */
        double transferGbps() {
            double[] openToClose = phases.get("open_to_close");
            return openToClose == null || openToClose[0] <= 0 ? Double.NaN
                    : bytesSent / 1e9 / (openToClose[0] / 1e3);
        }

        JsonObject buildReport() {
            double wallS = wallNanos / 1e9;
            double[] sorted = latenciesMs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            JsonObject timings = new JsonObject();
            phases.forEach((phase, sumAndCount) -> timings.put(phase, sumAndCount[0] / sumAndCount[1]));
            double heapPools = 0;
            for (MemoryPoolMXBean pool : heapPools()) {
                heapPools += pool.getPeakUsage() == null ? 0 : pool.getPeakUsage().getUsed();
            }
            JsonObject report = new JsonObject()
                    .put("rounds", done)
                    .put("rounds_requested", rounds)
                    .put("completed_rounds", completed)
                    .put("failed_rounds", failed)
                    .put("failures", failures)
                    .put("timed_out", timedOut)
                    .put("wall_s", wallS)
                    .put("rounds_per_s", wallS > 0 ? done / wallS : 0.0)
                    .put("gradient_bytes", bytesSent)
                    .put("gbps", wallS > 0 ? bytesSent / 1e9 / wallS : 0.0)
                    .put("transfer_gbps", transferGbps())
                    .put("latency_ms", new JsonObject()
                            .put("p50", percentile(sorted, 0.50))
                            .put("p95", percentile(sorted, 0.95))
                            .put("p99", percentile(sorted, 0.99))
                            .put("max", sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1]))
                    .put("stragglers", stragglers)
                    .put("excluded", excluded)
                    .put("peak_heap_mb", peakHeap / 1048576.0)
                    .put("heap_pools_peak_mb", heapPools / 1048576.0)
                    .put("peak_direct_mb", peakDirect / 1048576.0)
                    .put("peak_rss_mb", peakRssMb())
                    .put("max_rel_error", maxRelError)
                    .put("verified_rounds", verified)
                    .put("chunk_kib", job.chunkCoords() * 4 / 1024.0)
                    .put("rule", job.rule().name())
                    .put("workers", job.workers())
                    .put("dim", job.dim())
                    .put("byzantine", fleet.byzantine())
                    .put("attack", fleet.attackSpec())
                    .put("straggler_spec", fleet.stragglers().spec())
                    .put("seed", fleet.seed())
                    .put("timings_ms", timings)
                    .put("bytes_in_per_round", completed > 0 ? (double) bytesIn / completed : 0.0)
                    .put("shards", shardReport());
            if (!stores.isEmpty()) {
                // Sums over the shards' stores (each peak on its own: for S = 1, the store's peak).
                report.put("store_peak_mb", stores.stream().mapToLong(st -> st.stats().peakBytesInMemory()).sum() / 1048576.0)
                        .put("store_spilled_mb", stores.stream().mapToLong(st -> st.stats().bytesSpilledTotal()).sum() / 1048576.0);
            }
            if (verifyError != null) {
                report.put("verify_error", verifyError);
            }
            if (error != null) {
                report.put("error", error);
            }
            return report;
        }
    }

    /** Nearest-rank percentile of sorted values; NaN when there are none. */
    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length, rank) - 1)];
    }

    private static List<MemoryPoolMXBean> heapPools() {
        return ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(pool -> pool.getType() == MemoryType.HEAP && pool.isValid())
                .toList();
    }

    /** The process's peak resident set (VmHWM) in MiB, from /proc/self/status; -1 where there is none. */
    static double peakRssMb() {
        Path status = Path.of("/proc/self/status");
        try {
            if (!Files.isReadable(status)) {
                return -1;
            }
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) / 1024.0;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
