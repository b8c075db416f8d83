package org.flagagg;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A test main run in a JVM of its own (for a small -Xmx or -XX:MaxDirectMemorySize), on the test class path,
 * bounded in time. The main prints its findings as {@code key=value} lines on stdout.
 *
 * @param stdout what the main printed
 * @param stderr its log and errors
 * @param values the {@code key=value} lines of stdout (keys without spaces)
 */
public record ForkedMain(String stdout, String stderr, Map<String, String> values) {

    /** Everything the run printed, for assertion messages. */
    public String report() {
        return stdout + stderr;
    }

    public long number(String key) {
        return Long.parseLong(values.get(key));
    }

    /**
     * Runs {@code main} with {@code jvmOptions} and {@code args}, its output in {@code dir}; asserts that it
     * finished within {@code limit} (a safety limit: the run takes a fraction of it) with exit code 0.
     */
    public static ForkedMain run(Path dir, Duration limit, List<String> jvmOptions, Class<?> main, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        boolean finished = process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
        if (!finished) {
            process.destroyForcibly().waitFor();
        }
        ForkedMain run = new ForkedMain(Files.readString(out), Files.readString(err), new HashMap<>());
        assertThat(finished).as("forked %s finished within %s%n%s", main.getSimpleName(), limit, run.report()).isTrue();
        assertThat(process.exitValue()).as(run.report()).isZero();
        run.stdout.lines().map(line -> line.split("=", 2)).filter(kv -> kv.length == 2 && !kv[0].contains(" "))
                .forEach(kv -> run.values.put(kv[0], kv[1].trim()));
        return run;
    }
}
