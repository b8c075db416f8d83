package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without jdk.incubator.vector the product still works, on the scalar kernels, and says so once (aggregate, a
 * one-shot command, only when FLAGAGG_LOG_LEVEL asks for more than INFO: AggregateCommandTest).
 */
class ScalarFallbackTest {

    @TempDir
    Path dir;

    @Test
    void aJvmWithoutTheVectorModuleAggregatesTheSameAndLogsTheFallbackOnce() throws Exception {
        Path example = Path.of("docs/examples/gradients.txt").toAbsolutePath();
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        ProcessBuilder builder = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "aggregate", "--rule", "flag", example.toString()))
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().put("FLAGAGG_LOG_LEVEL", "DEBUG");
        Process process = builder.start();
        assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as(Files.readString(err)).isZero();
        String log = Files.readString(err);
        assertThat(log).contains("jdk.incubator.vector is not enabled").contains("scalar kernels");
        assertThat(log.split("scalar kernels", -1)).hasSize(2);

        StringWriter vectorOut = new StringWriter();
        assertThat(Main.run(new String[] {"aggregate", "--rule", "flag", example.toString()},
                new PrintWriter(vectorOut, true), new PrintWriter(new StringWriter(), true))).isZero();
        double[] scalar = Files.readAllLines(out).stream().mapToDouble(Double::parseDouble).toArray();
        double[] vector = vectorOut.toString().lines().mapToDouble(Double::parseDouble).toArray();
        assertThat(scalar).hasSameSizeAs(vector);
        for (int k = 0; k < scalar.length; k++) {
            assertThat(scalar[k]).isCloseTo(vector[k], org.assertj.core.data.Offset.offset(1e-12 * (1 + Math.abs(vector[k]))));
        }
    }
}
