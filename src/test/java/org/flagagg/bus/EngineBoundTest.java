package org.flagagg.bus;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:MaxDirectMemorySize=160m", "--add-modules=jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"),
                EngineBoundMain.class.getName(), dir.toString(), Long.toString(DIM));
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        // A safety limit only: the run takes a fraction of it.
        boolean finished = process.waitFor(10, TimeUnit.MINUTES);
        if (!finished) {
            process.destroyForcibly().waitFor();
        }
        String stdout = Files.readString(out);
        String report = stdout + Files.readString(err);
        assertThat(finished).as("forked engine run finished\n" + report).isTrue();
        assertThat(process.exitValue()).as(report).isZero();

        Map<String, String> v = new HashMap<>();
        for (String line : stdout.split("\n")) {
            String[] kv = line.split("=", 2);
            if (kv.length == 2 && !kv[0].contains(" ")) {
                v.put(kv[0], kv[1].trim());
            }
        }
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
