package org.flagagg.engine;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import org.flagagg.Await;
import org.flagagg.config.JobConfig;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.Aggregation;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.ChunkStoreStats;
import org.flagagg.round.GradientSource;
import org.flagagg.rules.Rules;
import org.flagagg.wire.Addresses;
import org.flagagg.worker.Worker;

/**
 * Run in a small forked JVM by {@link EngineBoundTest}: one FA round of 8 workers whose raw data is several
 * times the heap goes through the aggregator verticle with the streaming worker API. Gradients are computed
 * from (worker, coordinate), never held; the offline aggregate is written to a file first and every
 * aggregate chunk a worker receives is compared to it. Prints "key=value" lines; exits 1 on any failure.
 *
 * <p>Arguments: tempDir dim.
 */
public final class EngineBoundMain {
    static final int WORKERS = 8;
    static final int CHUNK = 65536;
    static final long BUDGET = 64L << 20;
    static final int SLAB = 4 << 20;
    static final long WAIT_MINUTES = 8;

    private EngineBoundMain() {
    }

    /** A cheap hash of (seed, i) mapped to [-1, 1). */
    static float unit(long seed, long i) {
        long h = i * 0x9E3779B97F4A7C15L + seed * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 31;
        h *= 0xD6E8FEB86659FD93L;
        h ^= h >>> 32;
        return (int) (h >>> 40) * 0x1p-23f - 1f;
    }

    /**
     * Workers 0..5 share a common direction plus distinct mixes of two more and a little noise; 6 and 7 lie
     * along two other directions. The data is chosen so that FA's solution is a smooth function of the Gram
     * matrix: with it, IRLS takes all its steps, each lowering the objective by far more than its tolerance.
     * (With data where a step's decrease is near tol = 1e-10, the rounding of the Gram matrix in a different
     * fold order alone changes how many steps are taken, and the aggregate by up to 1e-3 relative.)
     */
    static float value(int worker, long i) {
        if (worker < 6) {
            float b = (worker - 2.5f) * 0.4f;
            float c = (worker % 3 - 1) * 0.5f;
            return unit(1000, i) + b * unit(1001, i) + c * unit(1002, i) + 0.02f * unit(worker, i);
        }
        return unit(1003, i) + (worker == 6 ? 0.6f : -0.6f) * unit(1004, i) + 0.02f * unit(worker, i);
    }

    static void fill(int worker, long offset, int count, float[] dst) {
        for (int k = 0; k < count; k++) {
            dst[k] = value(worker, offset + k);
        }
    }

    public static void main(String[] args) {
        try {
            run(Path.of(args[0]), Long.parseLong(args[1]));
            System.exit(0);
        } catch (Throwable e) {
            System.err.println("engine bound run failed: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(Path dir, long dim) throws Exception {
        JobConfig job = JobConfig.fromJson(new JsonObject()
                .put("job", "bound")
                .put("rule", new JsonObject().put("name", "flag"))
                .put("workers", WORKERS).put("dim", dim).put("chunk_coords", CHUNK)
                .put("credits", 4).put("quorum", WORKERS)
                .put("deadline", new JsonObject().put("mode", "fixed").put("max_ms", 600_000)));
        Path spill = dir.resolve("spill");
        Path reference = dir.resolve("reference.f32");

        long t0 = System.nanoTime();
        double maxAbsRef = writeReference(job, dim, reference);
        long t1 = System.nanoTime();

        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage(); // measure the round, not the reference pass
        }
        AtomicLong heapAfterGc = watchHeapAfterGc();
        Vertx vertx = Vertx.vertx();
        ChunkStore store = new ChunkStore(BUDGET, SLAB, spill);
        Checker[] checkers = new Checker[WORKERS];
        List<JsonObject> records = new ArrayList<>();
        try (FileChannel ref = FileChannel.open(reference, StandardOpenOption.READ)) {
            Addresses addresses = new Addresses(job.job());
            CompletableFuture<Void> released = new CompletableFuture<>();
            vertx.eventBus().<Long>consumer(addresses.released(), m -> released.complete(null))
                    .completion().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
            vertx.deployVerticle(new AggregatorVerticle(job, store))
                    .toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);

            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                int worker = w;
                Checker checker = new Checker(ref);
                checkers[w] = checker;
                Context context = vertx.getOrCreateContext();
                Worker client = Await.get(Await.on(context,
                        () -> Worker.join(vertx, job.job(), "w" + worker, dim, worker)));
                results.add(Await.on(context, () -> client.exchange(0,
                        (offset, count, dst) -> fill(worker, offset, count, dst), checker)));
            }
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Worker.Aggregate aggregate = result.get(WAIT_MINUTES, TimeUnit.MINUTES);
                if (!aggregate.included()) {
                    throw new IllegalStateException("a worker was left out: " + aggregate.reason());
                }
                records.add(aggregate.record());
            }
            released.get(1, TimeUnit.MINUTES);
        }
        long t2 = System.nanoTime();
        ChunkStoreStats stats = store.stats();
        vertx.close().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
        store.close();
        Files.delete(reference);

        // The sum of each heap pool's own peak: an upper bound of the heap's peak (may exceed -Xmx, as the
        // pools peak at different times); heapAfterGc bounds the live set.
        long peakHeap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peakHeap += pool.getPeakUsage().getUsed();
            }
        }
        double maxDiff = 0;
        for (Checker c : checkers) {
            if (c.error != null) {
                throw new IllegalStateException("reading the reference failed: " + c.error);
            }
            maxDiff = Math.max(maxDiff, c.maxAbsDiff);
        }
        double relError = maxDiff / Math.max(1, maxAbsRef);
        // The aggregate's values are small (FA's scale), so also relative to max |ref| itself.
        double strictRelError = maxAbsRef > 0 ? maxDiff / maxAbsRef : maxDiff;
        String received = java.util.Arrays.stream(checkers).map(c -> Long.toString(c.received))
                .collect(Collectors.joining(","));
        System.out.println("received=" + received);
        System.out.println("max_rel_error=" + relError);
        System.out.println("max_abs_ref=" + maxAbsRef);
        System.out.println("strict_rel_error=" + strictRelError);
        System.out.println("raw_bytes=" + 4L * WORKERS * dim);
        System.out.println("heap_max_bytes=" + Runtime.getRuntime().maxMemory());
        System.out.println("peak_heap_bytes=" + peakHeap);
        System.out.println("heap_after_gc_max_bytes=" + heapAfterGc.get());
        System.out.println("peak_rss_kib=" + peakRssKib());
        System.out.println("store_peak_bytes=" + stats.peakBytesInMemory());
        System.out.println("spilled_bytes=" + stats.bytesSpilledTotal());
        System.out.println("store_chunks_left=" + stats.chunks());
        System.out.println("reference_ms=" + (t1 - t0) / 1_000_000);
        System.out.println("round_ms=" + (t2 - t1) / 1_000_000);
        System.out.println("coefficients=" + records.get(0).getJsonObject("coefficients", new JsonObject()).encode());
        System.out.println("timings=" + records.get(0).getJsonObject("timings_ms", new JsonObject()).encode());
        System.out.printf("summary: peak_heap_mb=%.1f heap_after_gc_max_mb=%.1f peak_rss_mb=%.1f store_peak_mb=%.1f "
                + "spilled_mb=%.1f%n", peakHeap / 1048576.0, heapAfterGc.get() / 1048576.0, peakRssKib() / 1024.0, stats.peakBytesInMemory() / 1048576.0,
                stats.bytesSpilledTotal() / 1048576.0);
    }

    /** The offline aggregate as float32 little-endian in a file; returns max |reference|. */
    private static double writeReference(JobConfig job, long dim, Path file) throws IOException {
        GradientSource source = new GradientSource() {
            @Override
            public int workers() {
                return WORKERS;
            }

            @Override
            public long dimension() {
                return dim;
            }

            @Override
            public void read(int worker, long offset, int len, float[] dst) {
                fill(worker, offset, len, dst);
            }
        };
        double[] maxAbs = {0};
        ByteBuffer bytes = ByteBuffer.allocateDirect(4 * CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            new Aggregation(Rules.create(job.rule()), CHUNK, Kernels.best()).run(source, (offset, values, len) -> {
                bytes.clear();
                for (int k = 0; k < len; k++) {
                    float v = (float) values[k];
                    maxAbs[0] = Math.max(maxAbs[0], Math.abs(v));
                    bytes.putFloat(v);
                }
                bytes.flip();
                long at = 4 * offset;
                while (bytes.hasRemaining()) {
                    at += out.write(bytes, at);
                }
            });
        }
        return maxAbs[0];
    }

    /**
     * The largest heap occupancy right after a collection seen from now on: an upper bound of the live set
     * (the pools' peaks only say how far the collector let the heap fill).
     */
    private static AtomicLong watchHeapAfterGc() {
        Set<String> heapPools = new HashSet<>();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                heapPools.add(pool.getName());
            }
        }
        AtomicLong max = new AtomicLong();
        NotificationListener listener = (notification, handback) -> {
            if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
                GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData()).getGcInfo();
                long used = 0;
                for (Map.Entry<String, MemoryUsage> e : info.getMemoryUsageAfterGc().entrySet()) {
                    if (heapPools.contains(e.getKey())) {
                        used += e.getValue().getUsed();
                    }
                }
                max.accumulateAndGet(used, Math::max);
            }
        };
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc).addNotificationListener(listener, null, null);
        }
        return max;
    }

    /** Peak resident set size of this process (VmHWM), or -1 where /proc is not there. */
    private static long peakRssKib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no figure
        }
        return -1;
    }

    /** One worker's sink, on that worker's context: compares each aggregate chunk to the reference file. */
    private static final class Checker implements Worker.ResultSink {
        private final FileChannel reference;
        private final ByteBuffer bytes = ByteBuffer.allocateDirect(4 * CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        long received;
        double maxAbsDiff;
        String error;

        Checker(FileChannel reference) {
            this.reference = reference;
        }

        @Override
        public void accept(long offset, float[] values, int count) {
            bytes.clear().limit(4 * count);
            long at = 4 * offset;
            try {
                while (bytes.hasRemaining()) {
                    int n = reference.read(bytes, at);
                    if (n < 0) {
                        throw new IOException("reference file ends before coordinate " + (offset + count));
                    }
                    at += n;
                }
            } catch (IOException e) {
                // Throwing here would leave the chunk unacknowledged and stall the round: record it instead.
                error = e.toString();
                maxAbsDiff = Double.POSITIVE_INFINITY;
                return;
            }
            bytes.flip();
            for (int k = 0; k < count; k++) {
                double diff = Math.abs((double) values[k] - bytes.getFloat());
                maxAbsDiff = Math.max(maxAbsDiff, Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff);
            }
            received += count;
        }
    }
}
