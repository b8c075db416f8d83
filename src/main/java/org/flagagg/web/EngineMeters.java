package org.flagagg.web;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.engine.EngineLoad;
import org.flagagg.round.ChunkStore;
import org.flagagg.round.ChunkStoreStats;

/**
 * The engine's meters. Counters and the latency histogram are fed from round records ({@link #onRecord});
 * gauges read the live aggregator and chunk store of the job being followed ({@link #follow}), so the
 * demo can move them from one run to the next. Every label has a bounded set of values.
 */
final class EngineMeters {
    private static final List<String> PHASES = List.of("fold_cpu", "solve", "output", "close_to_output");

    /** What the gauges read; null fields read as 0. */
    private record Target(ChunkStore store, EngineLoad load) {
    }

    private final MeterRegistry registry;
    private final AtomicReference<Target> target = new AtomicReference<>(new Target(null, null));
    private final Timer latency;
    private final Counter bytesIn;
    private final Counter chunksIn;
    private final Counter stragglers;
    private final DistributionSummary participants;
    private final AtomicLong lastRound = new AtomicLong(-1);
    private final AtomicLong lastParticipants = new AtomicLong();

    EngineMeters(MeterRegistry registry) {
        this.registry = registry;
        latency = Timer.builder("flagagg.round.latency")
                .description("Round latency from its first chunk to its close (the record's timings_ms.open_to_close)")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        bytesIn = Counter.builder("flagagg.traffic").baseUnit("bytes").tag("direction", "in")
                .description("Gradient frame bytes stored (in) and aggregate frame bytes acknowledged by workers (out)")
                .register(registry);
        chunksIn = Counter.builder("flagagg.chunks").tag("direction", "in")
                .description("Gradient chunks stored (in) and aggregate chunks acknowledged by workers (out)")
                .register(registry);
        FunctionCounter.builder("flagagg.traffic", target, t -> load(t, l -> l.aggregateBytesSent()))
                .baseUnit("bytes").tag("direction", "out").register(registry);
        FunctionCounter.builder("flagagg.chunks", target, t -> load(t, l -> l.aggregateChunksSent()))
                .tag("direction", "out").register(registry);
        stragglers = Counter.builder("flagagg.stragglers")
                .description("Worker-rounds in which a joined worker's gradient was incomplete when the round closed")
                .register(registry);
        participants = DistributionSummary.builder("flagagg.round.participants")
                .description("Workers whose gradient was aggregated, per round").register(registry);
        Gauge.builder("flagagg.round.last", lastRound, AtomicLong::get)
                .description("Id of the last round closed (-1 before the first)").register(registry);
        Gauge.builder("flagagg.round.last.participants", lastParticipants, AtomicLong::get)
                .description("Participants of the last round closed").register(registry);
        Gauge.builder("flagagg.credits.outstanding", target, t -> load(t, l -> l.chunksInProcess()))
                .tag("direction", "in").description("Gradient chunks taken and not yet answered (in), aggregate "
                        + "chunks sent and not yet acknowledged (out), over all workers").register(registry);
        Gauge.builder("flagagg.credits.outstanding", target, t -> load(t, l -> l.aggregateChunksInFlight()))
                .tag("direction", "out").register(registry);
        Gauge.builder("flagagg.rounds.open", target, t -> load(t, l -> l.openRounds()))
                .description("Rounds open (taking chunks)").register(registry);
        storeGauge("flagagg.chunk_store.memory", "Chunk bytes held in direct memory", ChunkStoreStats::bytesInMemory);
        storeGauge("flagagg.chunk_store.memory.peak", "Largest chunk bytes held in direct memory so far",
                ChunkStoreStats::peakBytesInMemory);
        storeGauge("flagagg.chunk_store.direct", "Direct memory allocated by the slab pool", ChunkStoreStats::directBytes);
        storeGauge("flagagg.chunk_store.budget", "The chunk store's direct-memory budget", ChunkStoreStats::budgetBytes);
        storeGauge("flagagg.chunk_store.spilled", "Chunk bytes currently in spill files", ChunkStoreStats::bytesSpilled);
        FunctionCounter.builder("flagagg.chunk_store.spill.written", target,
                t -> t.get().store() == null ? 0 : t.get().store().stats().bytesSpilledTotal())
                .baseUnit("bytes").description("Chunk bytes ever written to spill files").register(registry);
        Gauge.builder("flagagg.chunk_store.chunks", target,
                t -> t.get().store() == null ? 0 : t.get().store().stats().chunks())
                .description("Chunks stored (in memory or spilled)").register(registry);
    }

    private void storeGauge(String name, String description, ToDoubleFunction<ChunkStoreStats> field) {
        Gauge.builder(name, target, t -> t.get().store() == null ? 0 : field.applyAsDouble(t.get().store().stats()))
                .baseUnit("bytes").description(description).register(registry);
    }

    private static double load(AtomicReference<Target> target, ToDoubleFunction<EngineLoad> field) {
        EngineLoad load = target.get().load();
        return load == null ? 0 : field.applyAsDouble(load);
    }

    /** Point the gauges at this job's chunk store and aggregator (either may be null). */
    void follow(ChunkStore store, AggregatorVerticle aggregator) {
        target.set(new Target(store, aggregator == null ? null : aggregator.load()));
        lastRound.set(-1);
        lastParticipants.set(0);
    }

    /** Counts one round record (docs/protocol.md, "The round record"). */
    void onRecord(JsonObject record) {
        String status = record.getString("status", "unknown");
        Counter.builder("flagagg.rounds").tag("status", "completed".equals(status) || "failed".equals(status)
                ? status : ReasonCategory.OTHER).description("Rounds closed, by status").register(registry).increment();
        JsonObject timings = record.getJsonObject("timings_ms", new JsonObject());
        Number openToClose = timings.getNumber("open_to_close");
        if (openToClose != null) {
            latency.record(Math.round(openToClose.doubleValue() * 1000), TimeUnit.MICROSECONDS);
        }
        for (String phase : PHASES) {
            Number ms = timings.getNumber(phase);
            if (ms != null) {
                Timer.builder("flagagg.round.phase").tag("phase", phase)
                        .description("Time of a round's phases (fold_cpu sums over threads)").register(registry)
                        .record(Math.round(ms.doubleValue() * 1000), TimeUnit.MICROSECONDS);
            }
        }
        bytesIn.increment(record.getLong("bytes_in", 0L));
        chunksIn.increment(record.getLong("chunks_in", 0L));
        stragglers.increment(record.getJsonArray("stragglers", new JsonArray()).size());
        int n = record.getJsonArray("participants", new JsonArray()).size();
        participants.record(n);
        lastParticipants.set(n);
        lastRound.accumulateAndGet(record.getLong("round", -1L), Math::max);
        record.getJsonObject("excluded", new JsonObject()).forEach(e -> Counter.builder("flagagg.excluded")
                .tag("reason", ReasonCategory.ofExclusion(String.valueOf(e.getValue())))
                .description("Workers excluded from a round, by reason category").register(registry).increment());
        record.getJsonObject("rejected", new JsonObject()).forEach(e -> Counter.builder("flagagg.rejected.chunks")
                .tag("reason", ReasonCategory.ofRejection(e.getKey()))
                .description("Chunks refused, by the record's rejection key").register(registry)
                .increment(e.getValue() instanceof Number v ? v.doubleValue() : 0));
    }
}
