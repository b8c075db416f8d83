package org.flagagg.config;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.Locale;
import org.flagagg.fa.FlagOptions;
import org.flagagg.rules.RuleConfig;
import org.flagagg.rules.Rules;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.ShardPlan;

/**
 * One aggregation job: the rule, the workers, the model dimension and every bound of the round engine.
 * The "job" part of {@link ServerConfig}; docs/architecture.md lists each key with its unit.
 *
 * @param job            name of the job; event-bus addresses live under flagagg.JOB.
 * @param rule           the rule and its parameters
 * @param workers        expected workers P
 * @param dim            model dimension n (float32 values per gradient)
 * @param chunkCoords    coordinates per chunk
 * @param quorum         least complete workers for a round to close at its deadline (1..P)
 * @param deadline       how long a round may stay open
 * @param credits        W: most chunks a worker may have unacknowledged, both ways
 * @param memoryBudget   bytes of direct memory the chunk store may hold; the rest spills
 * @param slabBytes      the chunk store's allocation unit, at least one chunk's frame (the store keeps the
 *                       aggregate's chunks as their frames, header included: 40 + 4 * chunkCoords)
 * @param spillDir       where chunks past the budget go
 * @param resultTimeoutMs how long a worker may take to acknowledge an aggregate chunk before the
 *                        aggregator stops streaming to it
 * @param maxOpenRounds  most rounds open at once (stragglers of round r overlap round r + 1)
 * @param maxResultRounds most rounds whose results a worker (or a data-link node) may have unfinished: a new
 *                        round's results stop the oldest stream to it
 * @param roundLog       JSON-lines file every round record is appended to, or null for none
 * @param shards         S: aggregator shards the chunk columns are split over (1 = unsharded; {@link ShardPlan})
 * @param shardTimeoutMs how long the coordinator waits for a shard's answer to a control request before it
 *                       fails the round, naming the shard
 */
public record JobConfig(String job, RuleConfig rule, int workers, long dim, int chunkCoords, int quorum,
        Deadline deadline, int credits, long memoryBudget, int slabBytes, Path spillDir, long resultTimeoutMs,
        int maxOpenRounds, int maxResultRounds, Path roundLog, int shards, long shardTimeoutMs) {

    /**
     * Round deadline: {@code fixed} uses maxMs always; {@code adaptive} uses factor x the median latency of
     * the last {@code history} completed rounds, clamped to [minMs, maxMs] (maxMs until there is history).
     */
    public record Deadline(boolean adaptive, double factor, long minMs, long maxMs, int history) {
        public Deadline {
            if (minMs < 1 || maxMs < minMs) {
                throw new IllegalArgumentException("deadline needs 1 <= min_ms <= max_ms, got " + minMs + ", " + maxMs);
            }
            if (!(factor >= 1) || history < 1) {
                throw new IllegalArgumentException("deadline factor must be >= 1 and history >= 1");
            }
        }
    }

    public JobConfig {
        if (job == null || !job.matches("[A-Za-z0-9_-]{1,64}")) {
            throw new IllegalArgumentException("job name must be 1-64 letters, digits, '_' or '-', got '" + job + "'");
        }
        require(workers >= 1, "workers must be >= 1, got " + workers);
        require(dim >= 1, "dim must be >= 1, got " + dim);
        require(chunkCoords >= 1, "chunk_coords must be >= 1, got " + chunkCoords);
        require(quorum >= 1 && quorum <= workers, "quorum must be in 1..workers (" + workers + "), got " + quorum);
        require(credits >= 1, "credits must be >= 1, got " + credits);
        require(memoryBudget >= 0, "memory_budget_mb must be >= 0");
        require(slabBytes >= frameBytes(chunkCoords), "slab_kib (" + slabBytes / 1024 + " KiB) must hold one chunk's frame ("
                + frameBytes(chunkCoords) + " bytes)");
        require(resultTimeoutMs >= 1, "result_timeout_ms must be >= 1");
        require(maxOpenRounds >= 1, "max_open_rounds must be >= 1");
        require(maxResultRounds >= 1, "max_result_rounds must be >= 1, got " + maxResultRounds);
        require((dim + chunkCoords - 1) / chunkCoords <= Integer.MAX_VALUE, "dim / chunk_coords is too many chunks");
        long chunks = (dim + chunkCoords - 1) / chunkCoords;
        require(shards >= 1 && shards <= chunks, "shards must be in 1.." + chunks + " (the job's chunks: dim / "
                + "chunk_coords), got " + shards);
        require(shardTimeoutMs >= 1, "shard_timeout_ms must be >= 1");
        // The one check of the rule against the job (unknown name, f or r that do not fit P).
        Rules.create(rule).validate(workers);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Number of chunks a gradient is cut into. */
    public int chunks() {
        return (int) ((dim + chunkCoords - 1) / chunkCoords);
    }

    /** How the chunk columns are split over the shards. */
    public ShardPlan plan() {
        return new ShardPlan(shards, chunks());
    }

    /** Coordinates in chunk {@code index}. */
    public int chunkLength(int index) {
        return (int) Math.min(chunkCoords, dim - (long) index * chunkCoords);
    }

    /**
     * A job from JSON laid over the packaged defaults (keys deep-merged: only what differs is needed), for
     * tests and the demo; the commands read theirs with {@link ServerConfig#load}.
     */
    public static JobConfig fromJson(JsonObject overrides) {
        JsonObject json = Configuration.defaults().mergeIn(overrides, true);
        try {
            return parse(json);
        } catch (ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException("configuration has a missing or mistyped key: " + e.getMessage());
        }
    }

    /** The "rule" section: name, f, m, the Flag Aggregator's r, lambda, iterations, scale, and pre. */
    public static RuleConfig ruleFromJson(JsonObject r) {
        FlagOptions flag = FlagOptions.DEFAULTS
                .withRank(r.getInteger("r"))
                .withLambda(r.getDouble("lambda"))
                .withIterations(r.getInteger("iterations"))
                .withScale(FlagOptions.Scale.of(r.getString("scale")));
        return new RuleConfig(r.getString("name"), r.getInteger("f"), r.getInteger("m"), flag, r.getString("pre", ""));
    }

    /** Reads a complete configuration (every key present, of its type). */
    static JobConfig parse(JsonObject json) {
        RuleConfig rule = ruleFromJson(json.getJsonObject("rule"));
        int workers = json.getInteger("workers");
        JsonObject d = json.getJsonObject("deadline");
        String mode = d.getString("mode").toLowerCase(Locale.ROOT);
        if (!mode.equals("fixed") && !mode.equals("adaptive")) {
            throw new IllegalArgumentException("deadline.mode must be fixed or adaptive, got '" + mode + "'");
        }
        Deadline deadline = new Deadline(mode.equals("adaptive"), d.getDouble("factor"), d.getLong("min_ms"),
                d.getLong("max_ms"), d.getInteger("history"));
        int chunkCoords = json.getInteger("chunk_coords");
        int quorum = json.getInteger("quorum");
        String spill = json.getString("spill_dir");
        String log = json.getString("round_log");
        return new JobConfig(
                json.getString("job"), rule, workers, json.getLong("dim"), chunkCoords,
                quorum == 0 ? workers : quorum, deadline, json.getInteger("credits"),
                json.getLong("memory_budget_mb") << 20,
                (int) Math.max(json.getInteger("slab_kib") << 10, frameBytes(chunkCoords)),
                spill.isEmpty() ? Path.of(System.getProperty("java.io.tmpdir"), "flagagg-spill") : Path.of(spill),
                json.getLong("result_timeout_ms"), json.getInteger("max_open_rounds"),
                json.getInteger("max_result_rounds"),
                log.isEmpty() ? null : Path.of(log), json.getInteger("shards"), json.getLong("shard_timeout_ms"));
    }

    /**
     * This job as configuration JSON ({@link #fromJson} reads it back to an equal job): what a shard host is
     * sent to run a shard of it.
     */
    public JsonObject toJson() {
        FlagOptions flag = rule.flag();
        return new JsonObject()
                .put("job", job)
                .put("rule", new JsonObject().put("name", rule.name()).put("f", rule.f()).put("m", rule.m())
                        .put("r", flag.rank()).put("lambda", flag.lambda()).put("iterations", flag.iterations())
                        .put("scale", flag.scale().name().toLowerCase(Locale.ROOT)).put("pre", rule.pre()))
                .put("workers", workers).put("dim", dim).put("chunk_coords", chunkCoords).put("quorum", quorum)
                .put("deadline", new JsonObject().put("mode", deadline.adaptive() ? "adaptive" : "fixed")
                        .put("factor", deadline.factor()).put("min_ms", deadline.minMs()).put("max_ms", deadline.maxMs())
                        .put("history", deadline.history()))
                .put("credits", credits).put("memory_budget_mb", memoryBudget >> 20).put("slab_kib", slabBytes >> 10)
                .put("spill_dir", spillDir.toString()).put("result_timeout_ms", resultTimeoutMs)
                .put("max_open_rounds", maxOpenRounds).put("max_result_rounds", maxResultRounds)
                .put("round_log", roundLog == null ? "" : roundLog.toString())
                .put("shards", shards).put("shard_timeout_ms", shardTimeoutMs);
    }

    /** The session a joining worker is told: what it needs to stream and to interpret results. */
    public JsonObject session() {
        JsonObject session = new JsonObject()
                .put("job", job)
                .put("rule", rule.name())
                .put("f", rule.f())
                .put("workers", workers)
                .put("dim", dim)
                .put("chunk_coords", chunkCoords)
                .put("chunks", chunks())
                .put("quorum", quorum)
                .put("credits", credits)
                .put("deadline_max_ms", deadline.maxMs())
                .put("result_timeout_ms", resultTimeoutMs);
        // Unsharded sessions stay as they were; a sharded one tells workers where each chunk goes.
        return shards == 1 ? session : plan().toSession(session);
    }

    /** Bytes of one chunk's frame: the store's unit must hold it, as the output pass stores aggregate frames. */
    static long frameBytes(int chunkCoords) {
        return ChunkFrame.HEADER_BYTES + 4L * chunkCoords;
    }
}
