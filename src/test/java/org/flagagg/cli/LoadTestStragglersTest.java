package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's straggler example shows stragglers; a delay the quorum waits for is pointed out. */
class LoadTestStragglersTest {

    @TempDir
    Path dir;

    /** The README's loadtest command after "# with a straggler", its arguments after the jar. */
    static List<String> readmeStragglerExample() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("README.md"));
        int at = 0;
        while (!lines.get(at).startsWith("# with a straggler")) {
            at++;
        }
        StringBuilder command = new StringBuilder();
        for (at++; ; at++) {
            String line = lines.get(at).strip();
            command.append(' ').append(line.endsWith("\\") ? line.substring(0, line.length() - 1) : line);
            if (!line.endsWith("\\")) {
                break;
            }
        }
        String text = command.toString();
        return new ArrayList<>(Arrays.asList(text.substring(text.indexOf("flagagg.jar") + 11).strip().split("\\s+")));
    }

    JsonObject run(List<String> args, StringWriter out, StringWriter err) throws Exception {
        Path json = dir.resolve("report.json");
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of("--round-log", dir.resolve("rounds.jsonl").toString(), "--spill-dir",
                dir.resolve("spill").toString(), "--json", json.toString()));
        int code = Main.run(all.toArray(String[]::new), new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).as(out + "\n" + err).isZero();
        return new JsonObject(Files.readString(json));
    }

    @Test
    void theReadmeStragglerExampleReportsItsStraggler() throws Exception {
        List<String> args = readmeStragglerExample();
        assertThat(args).startsWith("loadtest").contains("--stragglers");
        // Two rounds instead of the README's five, to keep the test short; everything else as written, but that
        // each deadline also waits for the 15 others (a hidden test flag), however long a loaded machine makes them take.
        args.set(args.indexOf("--rounds") + 1, "2");
        args.addAll(List.of("--test-deadlines-wait-for", "15"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        JsonObject report = run(args, out, err);
        assertThat(report.getInteger("completed_rounds")).as(out + "\n" + err).isEqualTo(2);
        assertThat(report.getLong("stragglers")).as(out + "\n" + err).isEqualTo(2);
        assertThat(report.getInteger("verified_rounds")).isEqualTo(2);
        assertThat(err.toString()).doesNotContain("never counts as a straggler");
    }

    @Test
    void aDelayTheQuorumWaitsForIsPointedOut() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        JsonObject report = run(List.of("loadtest", "--workers", "3", "--dim", "1000", "--rounds", "1",
                "--rule", "mean", "--stragglers", "delay:ms=10"), out, err);
        assertThat(report.getLong("stragglers")).isZero();
        assertThat(err.toString()).contains("note: the quorum is all 3 workers")
                .contains("never counts as a straggler").contains("--quorum below 3");
    }
}
