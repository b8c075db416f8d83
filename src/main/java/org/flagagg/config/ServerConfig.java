package org.flagagg.config;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.Map;

/**
 * The whole configuration as typed records, read once at the edge: {@link Configuration#load} layers
 * conf/flagagg.json, a --conf file, FLAGAGG_* variables and the flags into checked JSON, and {@link #parse}
 * turns that into these records (each validates itself, naming the key it refuses).
 *
 * @param job     the job and the round engine's bounds (the top-level keys)
 * @param http    the "http" section
 * @param ws      the "ws" section (the WebSocket gateway)
 * @param link    the "link" section (the data link)
 * @param cluster the "cluster" section
 * @param jitWarmup "jit_warmup": run the rule on synthetic data at start-up so the first round is not run cold
 *                  (round.Warmup)
 * @param standby  "standby": in a cluster, a server for a job that has one already waits and takes the job over
 *                 when that server's member leaves, instead of refusing to start
 * @param recordsKept "records_kept": how many of the latest round records the cluster keeps for a job (the job
 *                 state a standby resumes from), 0 none
 */
public record ServerConfig(JobConfig job, HttpConfig http, GatewayConfig ws, LinkConfig link, ClusterConfig cluster,
        boolean jitWarmup, boolean standby, int recordsKept) {

    /** The packaged defaults (conf/flagagg.json). */
    public static ServerConfig defaults() {
        return parse(Configuration.defaults());
    }

    /** The same configuration for another job. */
    public ServerConfig withJob(JobConfig newJob) {
        return new ServerConfig(newJob, http, ws, link, cluster, jitWarmup, standby, recordsKept);
    }

    /** The layered configuration (see {@link Configuration#load}), typed. */
    public static ServerConfig load(Path file, Map<String, String> env, JsonObject flags) {
        return parse(Configuration.load(file, env, flags));
    }

    /** Types a checked configuration; a value no record accepts is one line naming it (an InputException). */
    public static ServerConfig parse(JsonObject json) {
        try {
            return new ServerConfig(JobConfig.parse(json), HttpConfig.parse(json.getJsonObject("http")),
                    GatewayConfig.parse(json.getJsonObject("ws")), LinkConfig.parse(json.getJsonObject("link")),
                    ClusterConfig.parse(json.getJsonObject("cluster")), json.getBoolean("jit_warmup"),
                    json.getBoolean("standby"), json.getInteger("records_kept"));
        } catch (IllegalArgumentException e) {
            throw new InputException(e.getMessage());
        }
    }
}
