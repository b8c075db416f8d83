package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.flagagg.Await.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Deadlines;
import org.flagagg.server.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(VertxExtension.class)
class LoadTestTest {

    @TempDir
    Path dir;

    JobConfig job(JsonObject overrides) {
        JsonObject json = new JsonObject()
                .put("job", "lt" + Long.toHexString(System.nanoTime()))
                .put("workers", 6).put("dim", 20_000).put("chunk_coords", 4096)
                .put("rule", new JsonObject().put("name", "flag").put("f", 1))
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 100).put("max_ms", 30_000))
                .put("memory_budget_mb", 16).put("slab_kib", 64).put("spill_dir", dir.resolve("spill").toString())
                .put("result_timeout_ms", 30_000);
        return JobConfig.fromJson(json.mergeIn(overrides, true));
    }

    JsonObject run(Vertx vertx, JobConfig job, Fleet.Config fleet, int rounds, boolean verify, List<int[]> progress)
            throws Exception {
        return run(vertx, job, Deadlines.timers(), fleet, rounds, verify, progress);
    }

    /** A run whose rounds close at their deadlines as {@code deadlines} says. */
    JsonObject run(Vertx vertx, JobConfig job, Deadlines deadlines, Fleet.Config fleet, int rounds, boolean verify,
            List<int[]> progress) throws Exception {
        Server embedded = await(Server.deploy(vertx, job, deadlines));
        try {
            return await(new LoadTest(vertx, job, fleet, rounds, verify).withStores(embedded.stores())
                    .onProgress((done, total) -> progress.add(new int[] {done, total})).run());
        } finally {
            await(embedded.close());
        }
    }

    /** A verified run of the job with {@code overrides}: every round completed and matched the offline aggregate. */
    JsonObject verifiedRun(Vertx vertx, JsonObject overrides, Fleet.Config fleet, int rounds) throws Exception {
        JsonObject report = run(vertx, job(overrides), fleet, rounds, true, new CopyOnWriteArrayList<>());
        assertThat(report.getInteger("completed_rounds")).isEqualTo(rounds);
        assertThat(report.getInteger("verified_rounds")).isEqualTo(rounds);
        assertThat(report.getDouble("max_rel_error")).isBetween(0.0, 1e-5);
        return report;
    }

    @Test
    void aLieAttackRunMatchesTheOfflineAggregateAndReportsEveryField(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject());
        List<int[]> progress = new CopyOnWriteArrayList<>();
        JsonObject report = run(vertx, job, new Fleet.Config(5, 1, "lie", "none"), 3, true, progress);

        assertThat(report.getInteger("rounds")).isEqualTo(3);
        assertThat(report.getInteger("completed_rounds")).isEqualTo(3);
        assertThat(report.getInteger("failed_rounds")).isZero();
        assertThat(report.getJsonArray("failures")).isEmpty();
        assertThat(report.getBoolean("timed_out")).isFalse();
        assertThat(report.getInteger("verified_rounds")).isEqualTo(3);
        assertThat(report.getDouble("max_rel_error")).isBetween(0.0, 1e-5);
        // Every worker sent its whole gradient every round.
        assertThat(report.getLong("gradient_bytes")).isEqualTo(3L * 6 * 4 * 20_000);
        assertThat(report.getDouble("gbps")).isPositive();
        assertThat(report.getDouble("rounds_per_s")).isPositive();
        JsonObject latency = report.getJsonObject("latency_ms");
        assertThat(latency.getDouble("p50")).isPositive();
        assertThat(latency.getDouble("p95")).isGreaterThanOrEqualTo(latency.getDouble("p50"));
        assertThat(latency.getDouble("p99")).isGreaterThanOrEqualTo(latency.getDouble("p95"));
        assertThat(report.getLong("stragglers")).isZero();
        assertThat(report.getLong("excluded")).isZero();
        assertThat(report.getDouble("peak_heap_mb")).isPositive();
        assertThat(report.getDouble("peak_rss_mb")).isNotZero();
        assertThat(report.getDouble("store_peak_mb")).isPositive();
        assertThat(report.getDouble("chunk_kib")).isEqualTo(16.0);
        assertThat(report.getString("rule")).isEqualTo("flag");
        assertThat(report.getInteger("workers")).isEqualTo(6);
        assertThat(report.getLong("dim")).isEqualTo(20_000L);
        assertThat(report.getInteger("byzantine")).isEqualTo(1);
        assertThat(report.getString("attack")).isEqualTo("lie");
        assertThat(report.getString("straggler_spec")).isEqualTo("none");
        assertThat(report.getJsonObject("timings_ms").fieldNames())
                .contains("open_to_close", "fold_cpu", "solve", "output", "close_to_output");
        assertThat(progress).extracting(p -> p[0] + "/" + p[1]).containsExactly("1/3", "2/3", "3/3");
        // Unsharded: one shard, all columns, all bytes (whole frames: a 40-byte header per chunk).
        assertThat(report.getDouble("bytes_in_per_round")).isEqualTo(6.0 * (40 * 5 + 4 * 20_000));
        assertThat(report.getJsonArray("shards")).hasSize(1);
        JsonObject only = report.getJsonArray("shards").getJsonObject(0);
        assertThat(only.getJsonArray("columns")).containsExactly(0, 5);
        assertThat(only.getDouble("bytes_in")).isEqualTo(6.0 * (40 * 5 + 4 * 20_000));
        assertThat(only.getDouble("math_ms")).isCloseTo(only.getDouble("fold_ms") + only.getDouble("output_ms"), within(1e-9));
        // Its math threads checked, stored, folded and output every chunk: some CPU time, measured per thread.
        assertThat(only.getDouble("cpu_ms")).isPositive();
        assertThat(only.getDouble("store_peak_held_mb")).isGreaterThanOrEqualTo(6.0 * 4 * 20_000 / 1048576.0);
    }

    @Test
    void aShardedRunReportsEachShardsBytesTimesAndStorePeaksSummingToTheTotals(Vertx vertx) throws Exception {
        // 20 000 coordinates in chunks of 4096: 5 columns over 3 shards, [0, 1) [1, 3) [3, 5). bytes_in counts
        // whole chunk frames: a 40-byte header and 4 bytes per coordinate.
        JsonObject report = verifiedRun(vertx, new JsonObject().put("shards", 3), new Fleet.Config(10, 1, "signflip", "none"), 2);
        JsonArray shards = report.getJsonArray("shards");
        assertThat(shards).hasSize(3);
        int[][] columns = {{0, 1}, {1, 3}, {3, 5}};
        double bytesSum = 0;
        double peakSum = 0;
        for (int k = 0; k < 3; k++) {
            JsonObject shard = shards.getJsonObject(k);
            assertThat(shard.getInteger("shard")).isEqualTo(k);
            assertThat(shard.getJsonArray("columns")).containsExactly(columns[k][0], columns[k][1]);
            long coords = Math.min(columns[k][1] * 4096L, 20_000) - columns[k][0] * 4096L;
            double frames = 6.0 * (40 * (columns[k][1] - columns[k][0]) + 4 * coords);
            assertThat(shard.getDouble("bytes_in")).as("shard %d", k).isEqualTo(frames);
            assertThat(shard.getDouble("fold_ms")).isNotNegative();
            assertThat(shard.getDouble("output_ms")).isNotNegative();
            assertThat(shard.getDouble("math_ms")).isCloseTo(shard.getDouble("fold_ms") + shard.getDouble("output_ms"), within(1e-9));
            assertThat(shard.getDouble("cpu_ms")).as("shard %d", k).isPositive();
            // A round's chunks of this shard were all held at once in its own store.
            assertThat(shard.getDouble("store_peak_held_mb")).isGreaterThanOrEqualTo(6.0 * 4 * coords / 1048576.0);
            assertThat(shard.getDouble("store_spilled_mb")).isNotNegative();
            bytesSum += shard.getDouble("bytes_in");
            peakSum += shard.getDouble("store_peak_mb");
        }
        assertThat(bytesSum).isEqualTo(report.getDouble("bytes_in_per_round")).isEqualTo(6.0 * (40 * 5 + 4 * 20_000));
        assertThat(peakSum).isCloseTo(report.getDouble("store_peak_mb"), within(1e-9));
    }

    @Test
    void aDelayedWorkerIsRecordedAsAStragglerAndTheRoundsStillComplete(Vertx vertx) throws Exception {
        // Quorum 5 of 6 and a 1.5 s deadline; the last slot waits a minute before sending. The deadline also
        // waits for the five others, however long a loaded machine makes them take.
        JobConfig job = job(new JsonObject().put("quorum", 5)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 100).put("max_ms", 1500)));
        JsonObject report = run(vertx, job, Deadlines.waitingFor(5), new Fleet.Config(6, 1, "empire", "delay:ms=60000"),
                2, true, new CopyOnWriteArrayList<>());
        assertThat(report.getInteger("completed_rounds")).isEqualTo(2);
        assertThat(report.getInteger("failed_rounds")).isZero();
        assertThat(report.getLong("stragglers")).isEqualTo(2);
        // The offline check runs over the five participants only.
        assertThat(report.getInteger("verified_rounds")).isEqualTo(2);
        assertThat(report.getDouble("max_rel_error")).isBetween(0.0, 1e-5);
        // The straggler never sent: five workers' data per round.
        assertThat(report.getLong("gradient_bytes")).isEqualTo(2L * 5 * 4 * 20_000);
    }

    @Test
    void enoughDropoutsFailTheRounds(Vertx vertx) throws Exception {
        // Quorum 6 of 6 and three workers that always skip: every round fails at its deadline, which also waits
        // for the three others to deliver, however long a loaded machine makes them take.
        JobConfig job = job(new JsonObject()
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 100).put("max_ms", 300)));
        JsonObject report = run(vertx, job, Deadlines.waitingFor(3), new Fleet.Config(7, 0, "none",
                "dropout:p=1,workers=3"), 2, true, new CopyOnWriteArrayList<>());
        assertThat(report.getInteger("rounds")).isEqualTo(2);
        assertThat(report.getInteger("failed_rounds")).isEqualTo(2);
        assertThat(report.getInteger("completed_rounds")).isZero();
        assertThat(report.getInteger("verified_rounds")).isZero();
        assertThat(report.getDouble("max_rel_error")).isZero();
        assertThat(report.getJsonObject("latency_ms").getDouble("p50")).isNaN();
        assertThat(report.getLong("gradient_bytes")).isEqualTo(2L * 3 * 4 * 20_000);
        // Each failed round says why, from its record.
        assertThat(report.getJsonArray("failures")).hasSize(2);
        for (int k = 0; k < 2; k++) {
            assertThat(report.getJsonArray("failures").getJsonObject(k).getLong("round")).isEqualTo(k);
            assertThat(report.getJsonArray("failures").getJsonObject(k).getString("reason"))
                    .isEqualTo("quorum not reached: 3 of 6 workers delivered, quorum 6");
        }
    }

    @Test
    void whenEveryWorkerDropsOutNoRoundOpensAndEachCountsAsFailed(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject());
        JsonObject report = run(vertx, job, new Fleet.Config(8, 0, "none", "dropout:p=1"), 2, false,
                new CopyOnWriteArrayList<>());
        assertThat(report.getInteger("failed_rounds")).isEqualTo(2);
        assertThat(report.getLong("gradient_bytes")).isZero();
        assertThat(report.getDouble("max_rel_error")).isNaN();
        assertThat(report.getJsonArray("failures").stream().map(f -> ((JsonObject) f).getString("reason")))
                .containsExactly("every worker dropped out: no round opened", "every worker dropped out: no round opened");
    }

    @Test
    void slowReadersStillGetTheWholeAggregate(Vertx vertx) throws Exception {
        verifiedRun(vertx, new JsonObject().put("credits", 2), new Fleet.Config(9, 1, "signflip", "slowreader:ms=20,workers=6"), 1);
    }

    @Test
    void theOverallTimeoutStopsTheRunAndReportsWhatItHas(Vertx vertx) throws Exception {
        // All six must deliver, one waits a minute: the round cannot end before the 500 ms budget.
        JobConfig job = job(new JsonObject());
        Server embedded = await(LoadTest.deployEmbedded(vertx, job));
        try {
            JsonObject report = await(new LoadTest(vertx, job, new Fleet.Config(10, 0, "none", "delay:ms=60000"), 3,
                    false).withTimeoutMs(500).run());
            assertThat(report.getBoolean("timed_out")).isTrue();
            assertThat(report.getInteger("rounds")).isZero();
            assertThat(report.getInteger("rounds_requested")).isEqualTo(3);
        } finally {
            await(embedded.close());
        }
    }
}
