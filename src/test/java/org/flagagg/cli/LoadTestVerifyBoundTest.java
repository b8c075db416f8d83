package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.flagagg.ForkedMain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `loadtest --verify` on a model several times the heap of a forked JVM: the check streams (the received
 * aggregate goes to a file in the spill directory, the offline one is regenerated chunk by chunk), so the
 * round completes and is verified instead of running out of heap.
 */
class LoadTestVerifyBoundTest {
    static final long HEAP_MB = 112;
    static final long DIM = 100_000_000L; // one aggregate is 400 MB: about 4 x the heap, the round 1.6 GB

    @TempDir
    Path dir;

    @Test
    void verifyChecksAModelSeveralTimesTheHeap() throws Exception {
        Path json = dir.resolve("report.json");
        Path spill = dir.resolve("spill");
        ForkedMain run = ForkedMain.run(dir, Duration.ofMinutes(3),
                List.of("-Xmx" + HEAP_MB + "m", "-XX:MaxDirectMemorySize=160m", "--add-modules=jdk.incubator.vector"),
                Main.class, "loadtest", "--workers", "4", "--dim", Long.toString(DIM), "--rounds", "1",
                // 256 KiB chunks: below half a G1 region of this small heap, so no chunk is a humongous object.
                "--rule", "flag", "--chunk-coords", "65536", "--memory-budget", "64", "--spill-dir", spill.toString(), "--verify",
                "--json", json.toString());
        assertThat(4 * DIM).as("the model is several times the heap").isGreaterThan(3 * (HEAP_MB << 20));
        JsonObject report = new JsonObject(Files.readString(json));
        assertThat(report.getInteger("completed_rounds")).as(run.report()).isEqualTo(1);
        assertThat(report.getInteger("verified_rounds")).as(run.report()).isEqualTo(1);
        assertThat(report.getDouble("max_rel_error")).as(run.report()).isBetween(0.0, 1e-5);
        assertThat(report.containsKey("verify_error")).as(run.report()).isFalse();
        try (Stream<Path> left = Files.list(spill)) {
            assertThat(left).as("spill and verify files left").isEmpty();
        }
    }
}
