package org.flagagg.cli;

import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A job's configuration as flags, over conf/flagagg.json, a --conf file and FLAGAGG_* variables. Unset flags
 * keep the configured value; the defaults shown are the packaged ones.
 */
final class JobOptions {
    /** The chunk size's help, the same on every command that has --chunk-coords. */
    static final String CHUNK_COORDS_HELP = "Coordinates (float32 values) per chunk; 262144 is 1 MiB "
            + "(default: chunk_coords of conf/flagagg.json, 262144).";

    @Option(names = "--conf", paramLabel = "FILE", description = "JSON configuration laid over the packaged "
            + "conf/flagagg.json (then FLAGAGG_* environment variables, then flags).")
    Path conf;

    @Option(names = "--job", paramLabel = "NAME", description = "Job name; its event-bus addresses live under "
            + "flagagg.NAME (default: default).")
    String job;

    @Mixin
    RuleOptions rule;

    @Option(names = "--workers", paramLabel = "P", description = "Expected workers (default: 4).")
    Integer workers;

    @Option(names = "--dim", paramLabel = "N", description = "Model dimension: float32 values per gradient "
            + "(default: 1000000).")
    Long dim;

    @Option(names = "--quorum", paramLabel = "Q", description = "Least workers for a round to close at its deadline; "
            + "0 means all (default: 0).")
    Integer quorum;

    @Option(names = "--deadline-ms", paramLabel = "MS", description = "A fixed round deadline in milliseconds "
            + "(default: adaptive, 3 x the median of recent rounds, within 1000..60000 ms).")
    Long deadlineMs;

    @Option(names = "--chunk-coords", paramLabel = "N", description = CHUNK_COORDS_HELP)
    Integer chunkCoords;

    @Option(names = "--credits", paramLabel = "W", description = "Most chunks a worker may have unacknowledged, "
            + "each way (default: 4).")
    Integer credits;

    @Option(names = "--memory-budget", paramLabel = "MB", description = "Direct memory the chunk store may hold; "
            + "past it chunks spill to disk (default: 512). Start the JVM with -XX:MaxDirectMemorySize above it.")
    Long memoryBudget;

    @Option(names = "--spill-dir", paramLabel = "DIR", description = "Where chunks past the budget go "
            + "(default: the system temp directory's flagagg-spill).")
    Path spillDir;

    @Option(names = "--shards", paramLabel = "S", description = "Aggregator shards the job's chunk columns are "
            + "split over, 1..chunks (dim / chunk-coords); shard 0 coordinates, the others run beside it or on "
            + "shard hosts (docs/architecture.md, Shards) (default: 1).")
    Integer shards;

    @Option(names = "--round-log", paramLabel = "FILE", description = "JSON-lines file every round record is "
            + "appended to (default: server: flagagg-rounds.jsonl; loadtest and worker: none).")
    Path roundLog;

    /** Adds the flags that were given to the command line's configuration layer. */
    void addTo(FlagLayer flags) {
        flags.put("job", job).put("workers", workers).put("dim", dim).put("quorum", quorum)
                .put("chunk_coords", chunkCoords).put("credits", credits).put("memory_budget_mb", memoryBudget)
                .put("spill_dir", spillDir).put("round_log", roundLog).put("shards", shards);
        rule.addTo(flags);
        if (deadlineMs != null) {
            // A fixed deadline uses max_ms only; min_ms goes along so the pair stays ordered.
            flags.put("deadline.mode", "fixed").put("deadline.max_ms", deadlineMs).put("deadline.min_ms", deadlineMs);
        }
    }
}
