package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A `flagagg server --cluster` in a child JVM, for clustered load runs: started, joined, measured, stopped. */
final class ServerProcess implements AutoCloseable {
    /** What Hazelcast needs on Java 17+ when not launched with -jar (the jar's manifest has the same). */
    static final List<String> HAZELCAST_JVM_FLAGS = List.of(
            "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.management/sun.management=ALL-UNNAMED",
            "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED");
    private static final Pattern READY = Pattern.compile("cluster member (\\S+);");
    private static final Pattern LISTENING = Pattern.compile("listening on (wss?://\\S+)");

    private final Process process;
    private final String member;
    private final String wsUrl;
    private final Path conf;
    private final Path log;

    private ServerProcess(Process process, String member, String wsUrl, Path conf, Path log) {
        this.process = process;
        this.member = member;
        this.wsUrl = wsUrl;
        this.conf = conf;
        this.log = log;
    }

    /**
     * Starts the server on this configuration (and {@code serverArgs} after it) and waits (at most a minute) until
     * it is a cluster member.
     */
    static ServerProcess start(JsonObject config, List<String> jvmOptions, List<String> serverArgs) throws IOException {
        Path conf = Files.createTempFile("flagagg-server-", ".json");
        Path log = Files.createTempFile("flagagg-server-", ".log");
        Files.writeString(conf, config.encodePrettily());
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmOptions);
        command.add("--add-modules=jdk.incubator.vector");
        command.addAll(HAZELCAST_JVM_FLAGS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "server", "--cluster", "--conf", conf.toString()));
        command.addAll(serverArgs);
        Process process = new ProcessBuilder(command).redirectError(log.toFile()).start();
        CompletableFuture<String> ready = new CompletableFuture<>();
        CompletableFuture<String> listening = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    Matcher m = READY.matcher(line);
                    if (m.find()) {
                        ready.complete(m.group(1));
                    }
                    Matcher url = LISTENING.matcher(line);
                    if (url.find()) {
                        listening.complete(url.group(1));
                    }
                }
                ready.completeExceptionally(new IOException("the server exited before it was ready"));
                listening.completeExceptionally(new IOException("the server exited before it was ready"));
            } catch (IOException e) {
                ready.completeExceptionally(e);
                listening.completeExceptionally(e);
            }
        }, "flagagg-server-stdout");
        reader.setDaemon(true);
        reader.start();
        try {
            String member = ready.get(60, TimeUnit.SECONDS);
            return new ServerProcess(process, member, listening.get(10, TimeUnit.SECONDS), conf, log);
        } catch (Exception e) {
            process.destroyForcibly();
            String tail = Files.readAllLines(log).stream().reduce((a, b) -> b).orElse("");
            throw new IOException("the aggregator server did not start: " + (tail.isEmpty() ? e.toString() : tail));
        }
    }

    /** Its Hazelcast member address, "host:port". */
    String member() {
        return member;
    }

    /** Its WebSocket gateway's URL, ws://host:port/v1/workers. */
    String wsUrl() {
        return wsUrl;
    }

    /** Its peak resident set (VmHWM) in MiB, or -1 where /proc is not there. */
    double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Not Linux, or the process is gone.
        }
        return -1;
    }

    /**
     * The last {@code lines} lines of its log (its stderr; only the file's last 64 KiB is read), oldest first;
     * empty if the log cannot be read.
     */
    List<String> logTail(int lines) {
        try (FileChannel file = FileChannel.open(log)) {
            long from = Math.max(0, file.size() - 65536);
            ByteBuffer bytes = ByteBuffer.allocate((int) (file.size() - from));
            while (bytes.hasRemaining() && file.read(bytes, from + bytes.position()) >= 0) {
                // read to the end
            }
            List<String> all = new String(bytes.array(), 0, bytes.position(), StandardCharsets.UTF_8).lines()
                    .skip(from > 0 ? 1 : 0) // a line cut by the 64 KiB window
                    .toList();
            return all.subList(Math.max(0, all.size() - lines), all.size());
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Kills it at once (SIGKILL: no shutdown hook runs), as a crash would. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    /** Stops it (SIGTERM, its shutdown hook closes Vert.x and the store; forcibly after 15 s). */
    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(conf);
        Files.deleteIfExists(log);
    }
}
