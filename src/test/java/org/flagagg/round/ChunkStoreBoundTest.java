package org.flagagg.round;

import org.flagagg.ForkedMain;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
        ForkedMain run = ForkedMain.run(dir, Duration.ofMinutes(10),
                List.of("-Xmx64m", "-XX:MaxDirectMemorySize=" + maxDirect), ChunkStoreBoundMain.class,
                dir.resolve("spill").toString(), Integer.toString(workers), Long.toString(floatsPerWorker),
                Long.toString(BUDGET), Integer.toString(SLAB));
        Map<String, Long> values = new HashMap<>();
        run.values().forEach((key, value) -> values.put(key, Long.parseLong(value)));
        return new Run(values, run.report());
    }
}
