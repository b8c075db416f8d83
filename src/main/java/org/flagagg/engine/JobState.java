package org.flagagg.engine;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.JobConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job's state in the cluster, so that it outlives the member of its server (Hazelcast maps, with a backup on
 * another member): the job's configuration and the next round id in {@value #JOBS}, and its latest
 * {@code records_kept} round records in {@code flagagg.rounds.JOB}. The job's server {@link #open opens} it once
 * it holds the job; a server that takes the job over (a standby) resumes from it: the stored configuration, the
 * round sequence where it stopped, and the records of its completed rounds. The rounds that were open when the
 * server was lost get a failed record ("aggregator lost") and their ids are not used again.
 *
 * <p>The next round id is written when a round opens, without waiting; a server lost within that write's
 * milliseconds leaves it behind, and the new server then reuses the id of a round that never completed. A
 * round's record is written before its result goes out ({@link #recorded}), so a result a worker received is
 * never missing from the job's records.
 */
public final class JobState {
    private static final Logger LOG = LoggerFactory.getLogger(JobState.class);
    /** The cluster map of job name to {"config": the job's configuration, "next_round": id}. */
    static final String JOBS = "flagagg.jobs";
    /** What each server of a job keeps its own: where it logs, spills and how much memory it gives the rounds. */
    private static final Set<String> LOCAL_KEYS = Set.of("round_log", "spill_dir", "memory_budget_mb", "slab_kib");
    /** The reason of the rounds that were open when the job's server was lost. */
    public static final String LOST = "aggregator lost";

    /**
     * Where a server starts the job: its configuration (a standby of a job that had a server: the stored one),
     * the first round id, and the records to copy into this server's round log (oldest first: the kept
     * completed ones, and a failed one for each round that was open when the server was lost); {@code followed}:
     * the job had a server before this one.
     */
    public record Resume(JobConfig job, long nextRound, List<JsonObject> records, int lost, boolean followed) {
    }

    private final AsyncMap<String, JsonObject> jobs;
    private final AsyncMap<Long, JsonObject> records;
    private final String name;
    private final JsonObject stored;
    private final int kept;
    /** The configuration the job runs with, once {@link #resume}d. */
    private JsonObject config;
    /** The last write of the next round id: the writes go in order, so the stored id never goes back. */
    private Future<Void> opening = Future.succeededFuture();

    private JobState(AsyncMap<String, JsonObject> jobs, AsyncMap<Long, JsonObject> records, String name,
            JsonObject stored, int kept) {
        this.jobs = jobs;
        this.records = records;
        this.name = name;
        this.stored = stored;
        this.kept = kept;
    }

    /** Opens the state of {@code job} in the cluster, keeping the latest {@code kept} round records. */
    public static Future<JobState> open(Vertx vertx, String job, int kept) {
        var shared = vertx.sharedData();
        return Future.all(shared.<String, JsonObject>getClusterWideMap(JOBS),
                shared.<Long, JsonObject>getClusterWideMap("flagagg.rounds." + job)).compose(maps -> {
                    AsyncMap<String, JsonObject> jobs = maps.resultAt(0);
                    AsyncMap<Long, JsonObject> records = maps.resultAt(1);
                    return jobs.get(job).map(entry -> new JobState(jobs, records, job, entry, kept));
                });
    }

    /**
     * Where this server starts: a job seen for the first time from 0 with {@code own}; else from the stored next
     * round, with the stored configuration when {@code takeStored} (a standby; its local keys kept) or
     * {@code own} (a server started by hand), after a failed record for each
     * round that was open (at most max_open_rounds of them) and has none, {@code lostReason} saying what was
     * lost. Stores what it starts with.
     */
    public Future<Resume> resume(JobConfig own, String lostReason, boolean takeStored) {
        if (stored == null) {
            config = own.toJson();
            return jobs.put(name, entry(config, 0)).map(v -> new Resume(own, 0, List.of(), 0, false));
        }
        JsonObject before = stored.getJsonObject("config");
        JsonObject mine = own.toJson();
        JsonObject merged = takeStored ? before.copy() : mine.copy();
        LOCAL_KEYS.forEach(key -> merged.put(key, mine.getValue(key)));
        List<String> differing = mine.fieldNames().stream().filter(k -> !LOCAL_KEYS.contains(k))
                .filter(k -> !String.valueOf(mine.getValue(k)).equals(String.valueOf(before.getValue(k)))).sorted().toList();
        if (!differing.isEmpty()) {
            LOG.warn("job '{}': this server's configuration differs from the job's in {}: {}", name, differing,
                    takeStored ? "the job's is used (a standby goes on with the job as it ran)"
                            : "this server's replaces it (a server restarted by hand runs what it was given)");
        }
        JobConfig job = JobConfig.fromJson(merged);
        config = merged;
        long next = stored.getLong("next_round", 0L);
        return records.entries().compose(all -> {
            TreeMap<Long, JsonObject> byId = new TreeMap<>(all);
            List<JsonObject> lost = new ArrayList<>();
            // Without kept records (records_kept 0) a lost round cannot be told from a completed one: none is marked.
            for (long id = kept == 0 ? next : Math.max(0, next - job.maxOpenRounds()); id < next; id++) {
                if (!byId.containsKey(id)) {
                    JsonObject failed = new JsonObject().put("round", id).put("status", "failed")
                            .put("trigger", LOST).put("rule", job.rule().name()).put("workers", job.workers())
                            .put("dim", job.dim()).put("error", LOST + ": " + lostReason);
                    lost.add(failed);
                    byId.put(id, failed);
                }
            }
            Future<Void> written = Future.succeededFuture();
            for (JsonObject failed : lost) {
                written = written.compose(v -> recorded(failed, job.shardTimeoutMs()));
            }
            List<JsonObject> ordered = List.copyOf(byId.values());
            return written.compose(v -> jobs.put(name, entry(merged, next)))
                    .map(v -> new Resume(job, next, ordered, lost.size(), true));
        });
    }

    private static JsonObject entry(JsonObject config, long nextRound) {
        return new JsonObject().put("config", config).put("next_round", nextRound);
    }

    /** Round {@code id} opened: the next server starts after it. Not waited for (see the class comment). */
    void opened(long id) {
        JsonObject entry = entry(config, id + 1);
        opening = opening.compose(v -> jobs.put(name, entry)).recover(e -> {
            LOG.warn("job '{}': cannot store round {} as opened: {}", name, id, e.toString());
            return Future.succeededFuture();
        });
    }

    /**
     * Stores a finished round's record, dropping the one {@code records_kept} rounds older; completes (never
     * fails) once done, or after {@code timeoutMs}.
     */
    Future<Void> recorded(JsonObject record, long timeoutMs) {
        if (kept == 0) {
            return Future.succeededFuture();
        }
        long id = record.getLong("round");
        // Bounded: while the cluster has not yet declared a dead member dead, a write to its partition waits.
        return records.put(id, record).compose(v -> records.remove(id - kept)).<Void>mapEmpty()
                .timeout(timeoutMs, TimeUnit.MILLISECONDS).recover(e -> {
            LOG.warn("job '{}': cannot store the record of round {} in the cluster: {}", name, id, e.toString());
            return Future.succeededFuture();
        });
    }

    /** Completes once every {@link #opened} write so far was tried (tests). */
    Future<Void> openedWritten() {
        return opening;
    }

    /** The stored records (for tests): round id to record. */
    Future<Map<Long, JsonObject>> records() {
        return records.entries();
    }
}
