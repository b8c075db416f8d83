package org.flagagg.multihost;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A process the multi-host test started (a host's JVM, usually through {@code ip netns exec}): its stdout
 * lines are queued for {@link #expect}, its stderr goes to a log file shown when an expectation fails.
 */
final class HostProcess implements AutoCloseable {
    private static final String EXITED = "\u0000exited";

    private final String name;
    private final Process process;
    private final Path log;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> seen = new ArrayList<>();
    private final PrintWriter stdin;

    private HostProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.stdin = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // The process is gone: EXITED says so.
            }
            lines.add(EXITED);
        }, "host-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    static HostProcess start(String name, List<String> command, Map<String, String> env, Path dir) throws IOException {
        Path log = dir.resolve(name + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(log.toFile());
        builder.environment().putAll(env);
        return new HostProcess(name, builder.start(), log);
    }

    /** Sends one command line to its stdin. */
    void send(String line) {
        stdin.println(line);
    }

    /** The next stdout line starting with {@code prefix} (skipping others), within {@code limit}; fails otherwise. */
    String expect(String prefix, Duration limit) throws Exception {
        long end = System.nanoTime() + limit.toNanos();
        for (long left = limit.toNanos(); left > 0; left = end - System.nanoTime()) {
            String line = lines.poll(left, TimeUnit.NANOSECONDS);
            if (line == null || line.equals(EXITED)) {
                break;
            }
            seen.add(line);
            if (line.startsWith(prefix)) {
                return line;
            }
        }
        throw new AssertionError(name + ": no line starting with '" + prefix + "' within " + limit + "; stdout so far:\n  "
                + String.join("\n  ", seen) + "\nlog tail:\n" + logTail());
    }

    /** Its stdout so far (what {@link #expect} saw and what is queued) and its log's tail, for a failure message. */
    String output() {
        List<String> all = new ArrayList<>(seen);
        lines.stream().filter(l -> !l.equals(EXITED)).forEach(all::add);
        return name + " stdout:\n  " + String.join("\n  ", all) + "\n" + name + " log tail:\n" + logTail();
    }

    /** Its whole log (stderr) so far. */
    String log() throws IOException {
        return Files.readString(log);
    }

    String logTail() {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - 30), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Waits for it to exit by itself, within {@code limit}; its exit code. */
    int waitFor(Duration limit) throws InterruptedException {
        assertThat(process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)).as(name + " exited within " + limit
                + "\n" + logTail()).isTrue();
        return process.exitValue();
    }

    /** SIGTERM, not waiting: a clean stop that overlaps with what comes next ({@link #close} reaps it). */
    void terminate() {
        process.destroy();
    }

    /** SIGKILL, at once: what a crash or a cleanup after a failure does. */
    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly().waitFor(15, TimeUnit.SECONDS);
    }
}
