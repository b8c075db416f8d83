package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.flagagg.config.Configuration;
import org.flagagg.config.InputException;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A job's configuration as flags, over conf/flagagg.json, a --conf file and FLAGAGG_* variables. Unset flags
 * keep the configured value; the defaults shown are the packaged ones.
 */
final class JobOptions {

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

    @Option(names = "--chunk-kib", paramLabel = "K", description = "Chunk size in KiB of float32 (default: 1024).")
    Integer chunkKib;

    @Option(names = "--credits", paramLabel = "W", description = "Most chunks a worker may have unacknowledged, "
            + "each way (default: 4).")
    Integer credits;

    @Option(names = "--memory-budget", paramLabel = "MB", description = "Direct memory the chunk store may hold; "
            + "past it chunks spill to disk (default: 512). Start the JVM with -XX:MaxDirectMemorySize above it.")
    Long memoryBudget;

    @Option(names = "--spill-dir", paramLabel = "DIR", description = "Where chunks past the budget go "
            + "(default: the system temp directory's flagagg-spill).")
    Path spillDir;

    @Option(names = "--round-log", paramLabel = "FILE", description = "JSON-lines file every round record is "
            + "appended to (default: server: flagagg-rounds.jsonl; loadtest and worker: none).")
    Path roundLog;

    /** The effective configuration: packaged defaults, --conf, environment, these flags. */
    JsonObject resolve() {
        JsonObject json = Configuration.load(conf, System.getenv());
        RuleOptions.putIfSet(json, "job", job);
        rule.applyTo(json.getJsonObject("rule"));
        RuleOptions.putIfSet(json, "workers", workers);
        RuleOptions.putIfSet(json, "dim", dim);
        RuleOptions.putIfSet(json, "quorum", quorum);
        if (deadlineMs != null) {
            json.getJsonObject("deadline").put("mode", "fixed").put("max_ms", deadlineMs)
                    .put("min_ms", Math.min(deadlineMs, json.getJsonObject("deadline").getLong("min_ms")));
        }
        if (chunkKib != null) {
            if (chunkKib < 1) {
                throw new InputException("--chunk-kib must be >= 1, got " + chunkKib);
            }
            json.put("chunk_coords", chunkKib * 256);
            json.put("slab_kib", Math.max(json.getInteger("slab_kib"), chunkKib));
        }
        RuleOptions.putIfSet(json, "credits", credits);
        RuleOptions.putIfSet(json, "memory_budget_mb", memoryBudget);
        RuleOptions.putIfSet(json, "spill_dir", spillDir == null ? null : spillDir.toString());
        RuleOptions.putIfSet(json, "round_log", roundLog == null ? null : roundLog.toString());
        return json;
    }
}
