package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job state a server leaves in the cluster and the next one resumes from (one cluster member on loopback;
 * each test a job of its own): where the rounds go on, which rounds are recorded lost, which configuration runs.
 */
class JobStateTest {
    @TempDir
    Path dir;

    private static Vertx vertx;
    private String name;

    @BeforeAll
    static void member() throws Exception {
        JsonObject section = Configuration.defaults().getJsonObject("cluster").copy()
                .put("name", "jobstate-" + ProcessHandle.current().pid() + "-" + System.nanoTime()).put("port", 0);
        vertx = await(Cluster.start(ClusterConfig.fromJson(section), true)).vertx();
    }

    @AfterAll
    static void close() throws Exception {
        await(vertx.close());
    }

    @BeforeEach
    void name() {
        name = "state-" + System.nanoTime();
    }

    private JobConfig job(String rule, Path own) {
        return Engine.job(new JsonObject().put("job", name).put("max_open_rounds", 2)
                .put("rule", new JsonObject().put("name", rule)), own);
    }

    /** A first server runs rounds 0..4 (0..3 recorded, 4 open when it dies), with records kept as given. */
    private void firstServerRunsFiveRounds(int kept) throws Exception {
        JobState first = await(JobState.open(vertx, name, kept));
        JobState.Resume fresh = await(first.resume(job("mean", dir.resolve("a")), "lost", false));
        assertThat(fresh.followed()).isFalse();
        assertThat(fresh.nextRound()).isZero();
        for (long id = 0; id < 5; id++) {
            first.opened(id);
            if (id < 4) {
                await(first.recorded(new JsonObject().put("round", id).put("status", "completed"), 10_000));
            }
        }
        await(first.openedWritten());
    }

    @Test
    void aStandbyResumesAfterTheLastOpenedRoundRecordsTheOpenOneLostAndRunsTheStoredConfiguration() throws Exception {
        firstServerRunsFiveRounds(3);
        JobState next = await(JobState.open(vertx, name, 3));
        JobState.Resume resume = await(next.resume(job("median", dir.resolve("b")), "its server left", true));
        assertThat(resume.followed()).isTrue();
        assertThat(resume.nextRound()).isEqualTo(5);
        // Kept: the latest 3 completed records, then round 4 failed as lost.
        assertThat(resume.records()).extracting(r -> r.getLong("round")).containsExactly(1L, 2L, 3L, 4L);
        assertThat(resume.lost()).isEqualTo(1);
        JsonObject lost = resume.records().get(3);
        assertThat(lost.getString("status")).isEqualTo("failed");
        assertThat(lost.getString("error")).isEqualTo("aggregator lost: its server left");
        assertThat(await(next.records())).containsKey(4L);
        // The job's configuration runs; the paths stay this server's own.
        assertThat(resume.job().rule().name()).isEqualTo("mean");
        assertThat(resume.job().roundLog()).isEqualTo(dir.resolve("b").resolve("rounds.jsonl"));
    }

    @Test
    void aServerStartedByHandResumesTheRoundsWithItsOwnConfiguration() throws Exception {
        firstServerRunsFiveRounds(3);
        JobState.Resume resume = await(await(JobState.open(vertx, name, 3))
                .resume(job("median", dir.resolve("c")), "its server left", false));
        assertThat(resume.nextRound()).isEqualTo(5);
        assertThat(resume.job().rule().name()).isEqualTo("median");
    }

    @Test
    void withoutKeptRecordsNoRoundIsGuessedLost() throws Exception {
        firstServerRunsFiveRounds(0);
        JobState.Resume resume = await(await(JobState.open(vertx, name, 0))
                .resume(job("mean", dir.resolve("d")), "its server left", true));
        assertThat(resume.nextRound()).isEqualTo(5);
        assertThat(resume.lost()).isZero();
        assertThat(resume.records()).isEmpty();
    }
}
