package org.flagagg.ws;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.flagagg.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `loadtest --transport ws`: the simulated workers are WebSocket workers talking to the aggregator's gateway,
 * in this JVM and (with --cluster) in a forked `flagagg server --tokens FILE`; every round is checked
 * against the offline aggregate.
 */
class WsLoadTestTest {

    @TempDir
    Path dir;

    private JsonObject run(boolean cluster) throws Exception {
        Path json = dir.resolve("report.json");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("loadtest", "--transport", "ws",
                "--workers", "5", "--dim", "200000", "--rounds", "3", "--rule", "flag", "--byzantine", "1",
                "--attack", "lie", "--chunk-coords", "16384", "--memory-budget", "32", "--spill-dir",
                dir.resolve("spill").toString(), "--verify", "--json", json.toString()));
        if (cluster) {
            args.addAll(java.util.List.of("--cluster", "--server-jvm", "-Xmx256m"));
        }
        int code = Main.run(args.toArray(new String[0]), new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).as(out + "\n" + err).isZero();
        JsonObject report = new JsonObject(Files.readString(json));
        assertThat(report.getInteger("completed_rounds")).isEqualTo(3);
        assertThat(report.getInteger("failed_rounds")).isZero();
        assertThat(report.getInteger("verified_rounds")).isEqualTo(3);
        assertThat(report.getDouble("max_rel_error")).isLessThanOrEqualTo(1e-5);
        assertThat(report.getDouble("gbps")).isPositive();
        return report;
    }

    @Test
    void embeddedWebSocketWorkersMatchTheOfflineAggregate() throws Exception {
        assertThat(run(false).getString("transport")).isEqualTo("embedded, ws");
    }

    @Test
    void webSocketWorkersThroughAForkedServerWithATokensFile() throws Exception {
        assertThat(run(true).getString("transport")).isEqualTo("clustered, ws");
    }
}
