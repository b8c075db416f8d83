package org.flagagg.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.flagagg.ForkedMain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A round whose raw data is several times the heap of a forked JVM goes through the aggregator verticle,
 * streamed in and out, and matches the offline aggregate: the engine's memory is bounded by its chunk
 * store budget and credits, not by the round's size.
 */
class EngineBoundTest {
    static final int WORKERS = EngineBoundMain.WORKERS;
    static final long DIM = 50_000_000L; // 8 x 5e7 float32 = 1.6 GB through -Xmx256m

    @TempDir
    Path dir;

    @Test
    void aRoundSixTimesTheHeapAggregatesCorrectlyWithinTheStoreBudget() throws Exception {
        ForkedMain run = ForkedMain.run(dir, Duration.ofMinutes(10),
                List.of("-Xmx256m", "-XX:MaxDirectMemorySize=160m", "--add-modules=jdk.incubator.vector"),
                EngineBoundMain.class, dir.toString(), Long.toString(DIM));
        Map<String, String> v = run.values();
        String report = run.report();
        long[] received = Arrays.stream(v.get("received").split(",")).mapToLong(Long::parseLong).toArray();
        assertThat(received).as(report).hasSize(WORKERS).containsOnly(DIM);
        assertThat(Double.parseDouble(v.get("max_rel_error"))).as(report).isBetween(0.0, 1e-5);
        // FA's aggregate is small (max |ref| is about 4e-4), so the error relative to it is checked too: the
        // two runs differ only by the Gram matrix's rounding, so they agree to about a float32 ulp.
        assertThat(Double.parseDouble(v.get("max_abs_ref"))).as(report).isPositive();
        assertThat(Double.parseDouble(v.get("strict_rel_error"))).as(report).isBetween(0.0, 1e-6);
        assertThat(Long.parseLong(v.get("raw_bytes"))).as("the round is several times the heap")
                .isGreaterThanOrEqualTo(4 * Long.parseLong(v.get("heap_max_bytes")));
        assertThat(Long.parseLong(v.get("store_peak_bytes"))).as(report).isPositive()
                .isLessThanOrEqualTo(EngineBoundMain.BUDGET);
        assertThat(Long.parseLong(v.get("spilled_bytes"))).as(report).isPositive();
        assertThat(Long.parseLong(v.get("store_chunks_left"))).as(report).isZero();
        try (Stream<Path> left = Files.list(dir.resolve("spill"))) {
            assertThat(left).as("spill files left").isEmpty();
        }
    }
}
