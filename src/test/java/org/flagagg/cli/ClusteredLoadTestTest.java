package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The aggregator and the workers in separate JVMs joined by Hazelcast on loopback: `loadtest --cluster`
 * forks `flagagg server --cluster` and runs the workers here, their chunks on the data link (the default
 * clustered) or on the clustered event bus; every round is checked against the offline aggregate.
 */
class ClusteredLoadTestTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"link", "bus"})
    void workersInThisJvmAggregateThroughAServerInAnotherJvm(String transport) throws Exception {
        Path json = dir.resolve("report.json");
        Path log = dir.resolve("rounds.jsonl");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"loadtest", "--cluster", "--workers", "5", "--dim", "200000",
            "--rounds", "3", "--rule", "flag", "--byzantine", "1", "--attack", "lie", "--chunk-coords", "16384",
            "--memory-budget", "32", "--spill-dir", dir.resolve("spill").toString(), "--round-log", log.toString(),
            "--server-jvm", "-Xmx256m", "--transport", transport, "--verify", "--json", json.toString()},
                new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).as(out + "\n" + err).isZero();
        JsonObject report = new JsonObject(Files.readString(json));
        assertThat(report.getString("transport")).isEqualTo("clustered, " + transport);
        assertThat(report.getInteger("completed_rounds")).isEqualTo(3);
        assertThat(report.getInteger("failed_rounds")).isZero();
        assertThat(report.getInteger("verified_rounds")).isEqualTo(3);
        assertThat(report.getDouble("max_rel_error")).isLessThanOrEqualTo(1e-5);
        assertThat(report.getDouble("gbps")).isPositive();
        assertThat(report.getDouble("server_peak_rss_mb")).isPositive();
        // The server process wrote the round log before it stopped.
        assertThat(Files.readAllLines(log)).hasSize(3);
        assertThat(out.toString()).contains("clustered").contains("gradient data in");
    }

    @Test
    void failedRoundsSayWhyAndShowTheServersLastLogLines() throws Exception {
        // All three must deliver and the last never sends: every round fails at its 500 ms deadline, which in the
        // server's JVM also waits for the two others to deliver (a hidden test flag the child gets).
        Path json = dir.resolve("report.json");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"loadtest", "--cluster", "--workers", "3", "--dim", "20000",
            "--rounds", "2", "--rule", "flag", "--chunk-coords", "16384", "--memory-budget", "32",
            "--stragglers", "dropout:p=1,workers=1", "--deadline-ms", "500", "--test-deadlines-wait-for", "2",
            "--spill-dir", dir.resolve("spill").toString(), "--round-log", dir.resolve("rounds.jsonl").toString(),
            "--server-jvm", "-Xmx256m", "--json", json.toString()},
                new PrintWriter(out, true), new PrintWriter(err, true));
        String all = out + "\n" + err;
        assertThat(code).as(all).isZero();
        JsonObject report = new JsonObject(Files.readString(json));
        String reason = "quorum not reached: 2 of 3 workers delivered, quorum 3";
        assertThat(report.getInteger("failed_rounds")).as(all).isEqualTo(2);
        assertThat(report.getJsonArray("failures").stream().map(f -> ((JsonObject) f).getString("reason")))
                .as(all).containsExactly(reason, reason);
        assertThat(out.toString()).contains("failed round 0").contains("failed round 1").contains(reason);
        // The child JVM's log, hidden before: its last lines are in the report and on stderr.
        assertThat(report.getJsonArray("server_log").stream().map(String::valueOf))
                .as(all).anyMatch(line -> line.contains("round 1 failed: " + reason));
        assertThat(err.toString()).contains("the aggregator server's last").contains("round 1 failed: " + reason);
    }
}
