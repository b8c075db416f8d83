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
import java.util.stream.Stream;

/**
 * A process the multi-host test started (a host's JVM, usually through {@code ip netns exec}): its stdout
 * lines are queued for {@link #expect}, its stderr goes to a log file shown when an expectation fails.
 */
final class HostProcess implements AutoCloseable {
    private static final Line EXITED = new Line("\u0000exited", 0);

    private final String name;
    private final Process process;
    private final Path log;
    private final BlockingQueue<Line> lines = new LinkedBlockingQueue<>();
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
                    lines.add(new Line(line, System.nanoTime()));
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

    /** A stdout line and when it came ({@link System#nanoTime}). */
    record Line(String text, long nanos) {
    }

    /** The next stdout line starting with {@code prefix} (skipping others), within {@code limit}; fails otherwise. */
    String expect(String prefix, Duration limit) throws Exception {
        return expectAll(List.of(prefix), limit).get(0).text();
    }

    /**
     * The next stdout lines starting with each of {@code prefixes}, in any order (skipping others), within
     * {@code limit}; in the order of {@code prefixes}. Fails otherwise.
     */
    List<Line> expectAll(List<String> prefixes, Duration limit) throws Exception {
        Line[] found = new Line[prefixes.size()];
        int missing = found.length;
        long end = System.nanoTime() + limit.toNanos();
        for (long left = limit.toNanos(); left > 0 && missing > 0; left = end - System.nanoTime()) {
            Line line = lines.poll(left, TimeUnit.NANOSECONDS);
            if (line == null || line == EXITED) {
                break;
            }
            seen.add(line.text());
            for (int k = 0; k < found.length; k++) {
                if (found[k] == null && line.text().startsWith(prefixes.get(k))) {
                    found[k] = line;
                    missing--;
                    break;
                }
            }
        }
        if (missing > 0) {
            throw new AssertionError(name + ": no line starting with each of " + prefixes + " within " + limit
                    + "; stdout so far:\n  " + String.join("\n  ", seen) + "\nlog tail:\n" + logTail());
        }
        return List.of(found);
    }

    /** Every stdout line up to the next one starting with {@code prefix}, that one last, within {@code limit}; fails otherwise. */
    List<String> until(String prefix, Duration limit) throws Exception {
        int from = seen.size();
        expect(prefix, limit);
        return List.copyOf(seen.subList(from, seen.size()));
    }

    /** Its stdout so far (what {@link #expect} saw and what is queued) and its log's tail, for a failure message. */
    String output() {
        List<String> all = new ArrayList<>(seen);
        lines.stream().filter(l -> l != EXITED).map(Line::text).forEach(all::add);
        return name + " stdout:\n  " + String.join("\n  ", all) + "\n" + name + " log tail:\n" + logTail();
    }

    /** How many lines its log (stderr) has now: {@link #awaitLog} looks past them. */
    int logLines() throws IOException {
        return Files.readAllLines(log).size();
    }

    /**
     * Polls its log (stderr) until a line after the first {@code from} contains {@code needle}, within
     * {@code limit}; that line. Fails otherwise.
     */
    String awaitLog(String needle, int from, Duration limit) throws Exception {
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            List<String> all = Files.readAllLines(log);
            for (String line : all.subList(Math.min(from, all.size()), all.size())) {
                if (line.contains(needle)) {
                    return line;
                }
            }
            Thread.sleep(20); // a poll interval, not a synchronisation: the loop checks the log
        }
        throw new AssertionError(name + ": no log line with '" + needle + "' within " + limit + "\n" + output());
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

    /**
     * SIGKILL to the host's JVM, at once (a crash): the java process among this process and its descendants
     * ({@code ip netns exec} and deploy/host.sh exec it, so usually this process itself); when it is gone.
     */
    long killJvm() throws InterruptedException {
        ProcessHandle root = process.toHandle();
        ProcessHandle jvm = Stream.concat(Stream.of(root), root.descendants())
                .filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false)).findFirst()
                .orElseThrow(() -> new AssertionError(name + ": no java process (pid " + root.pid() + ")"));
        jvm.destroyForcibly();
        long killed = System.nanoTime();
        assertThat(jvm.onExit().toCompletableFuture().completeOnTimeout(null, 15, TimeUnit.SECONDS).join())
                .as(name + "'s JVM " + jvm.pid() + " died on SIGKILL").isNotNull();
        return killed;
    }

    /** SIGKILL, at once: what a crash or a cleanup after a failure does. */
    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly().waitFor(15, TimeUnit.SECONDS);
    }
}
