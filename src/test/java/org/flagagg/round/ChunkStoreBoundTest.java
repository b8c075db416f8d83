package org.flagagg.round;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rounds many times the heap of a forked JVM go through the store within its direct-memory budget. */
class ChunkStoreBoundTest {
    static final long BUDGET = 16L << 20;
    static final int SLAB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void oneGibibyteRoundStaysWithinTheBudgetAndReadsBackExactly() throws Exception {
        int workers = 8;
        long floatsPerWorker = 32L << 20; // 8 x 32 Mi float32 = 1 GiB, under -Xmx64m
        Run run = fork("32m", workers, floatsPerWorker);
        Map<String, Long> v = run.values;
        long total = 4 * workers * floatsPerWorker;
        assertThat(v.get("checked")).as(run.report).isEqualTo(workers * floatsPerWorker);
        assertThat(v.get("mismatches")).as(run.report).isZero();
        assertThat(v.get("heapMax")).as("the data is many times the heap").isLessThan(total / 8);
        assertThat(v.get("maxDirectMemory")).isEqualTo(32L << 20);
        assertThat(v.get("maxDirectSeen")).as(run.report).isLessThanOrEqualTo(BUDGET);
        assertThat(v.get("peakBytesInMemory")).as(run.report).isPositive().isLessThanOrEqualTo(BUDGET);
        assertThat(v.get("slabsAllocated")).isEqualTo(BUDGET / SLAB);
        assertThat(v.get("bytesSpilled")).isEqualTo(total - v.get("peakBytesInMemory"));
        assertThat(v.get("spillFilesLeft")).isZero();
    }

    @Test
    void budgetAboveTheJvmDirectLimitIsClampedWithAWarningInsteadOfFailing() throws Exception {
        int workers = 2;
        long floatsPerWorker = 4L << 20; // 32 MiB through a JVM allowed 8 MiB of direct memory
        Run run = fork("8m", workers, floatsPerWorker);
        Map<String, Long> v = run.values;
        assertThat(v.get("checked")).as(run.report).isEqualTo(workers * floatsPerWorker);
        assertThat(v.get("mismatches")).as(run.report).isZero();
        // 8 MiB minus a quarter of it as headroom for the spill path: 6 slabs of 1 MiB, not the 16 asked for.
        assertThat(v.get("slabsAllocated")).as(run.report).isEqualTo(6);
        assertThat(v.get("maxDirectSeen")).isEqualTo(6L * SLAB);
        assertThat(run.report).contains("WARN").contains("-XX:MaxDirectMemorySize");
        assertThat(v.get("spillFilesLeft")).isZero();
    }

    record Run(Map<String, Long> values, String report) {
    }

    private Run fork(String maxDirect, int workers, long floatsPerWorker) throws Exception {
        Path spill = dir.resolve("spill");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:MaxDirectMemorySize=" + maxDirect, "-cp", System.getProperty("java.class.path"),
                ChunkStoreBoundMain.class.getName(), spill.toString(), Integer.toString(workers),
                Long.toString(floatsPerWorker), Long.toString(BUDGET), Integer.toString(SLAB));
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        // A safety limit only: the run takes a fraction of it.
        boolean finished = process.waitFor(10, TimeUnit.MINUTES);
        if (!finished) {
            process.destroyForcibly();
        }
        assertThat(finished).as("forked store run finished").isTrue();
        String report = Files.readString(out) + Files.readString(err);
        assertThat(process.exitValue()).as(report).isZero();
        Map<String, Long> values = new HashMap<>();
        for (String line : Files.readAllLines(out)) {
            String[] kv = line.split("=", 2);
            values.put(kv[0], Long.parseLong(kv[1]));
        }
        return new Run(values, report);
    }
}
