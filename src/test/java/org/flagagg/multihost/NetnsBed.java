package org.flagagg.multihost;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Assumptions;

/**
 * A test bed of hosts for the multi-host tests: Linux network namespaces on a bridge ({@code deploy/netns.sh}), the
 * processes started in them (each host's JVM through {@code deploy/host.sh}), and the steps those tests share.
 * {@link #close} kills every process and deletes every namespace, veth and bridge.
 */
final class NetnsBed implements AutoCloseable {
    static final Path DEPLOY = Path.of("deploy").toAbsolutePath();
    static final Path PYTHON_CLIENT = Path.of("client/python").toAbsolutePath();
    /** How long a short command (netns.sh, flagagg certs) may take. */
    private static final Duration COMMAND = Duration.ofSeconds(90);

    /** netns.sh's ID: namespaces fa{id}-I, bridge fab{id}. */
    final long id;
    /** Where logs, configurations and the certificates go. */
    final Path dir;
    /** Namespace, address and root-side veth of each host, in order. */
    private final List<String[]> hosts = new ArrayList<>();
    private final List<HostProcess> started = new ArrayList<>();

    private NetnsBed(long id, Path dir) {
        this.id = id;
        this.dir = dir;
    }

    /**
     * Lays out {@code n} hosts; the test is skipped with the reason when python3 with numpy and websockets or
     * network namespaces (root and iproute2) are not available.
     */
    static NetnsBed up(int n, long id, Path dir) throws Exception {
        Run probe = run(List.of("env", "PYTHONPATH=" + PYTHON_CLIENT, "python3", "-c", "import flagagg, numpy, websockets"),
                COMMAND, dir);
        Assumptions.assumeTrue(probe.code == 0, "python3 with numpy and websockets is needed (.ci/run installs "
                + "client/python): " + probe.output.strip());
        NetnsBed bed = new NetnsBed(id, dir);
        Run up = run(List.of(DEPLOY.resolve("netns.sh").toString(), "up", Integer.toString(n), Long.toString(id)),
                COMMAND, dir);
        if (up.code != 0) {
            bed.down();
        }
        Assumptions.assumeTrue(up.code == 0, "network namespaces are not available here (needs root and iproute2: "
                + "'ip netns add' as root): " + up.output.strip());
        up.output.lines().map(line -> line.split(" ")).filter(f -> f.length == 3).forEach(bed.hosts::add);
        assertThat(bed.hosts).hasSize(n);
        return bed;
    }

    String namespace(int host) {
        return hosts.get(host)[0];
    }

    String address(int host) {
        return hosts.get(host)[1];
    }

    /** {@code flagagg certs} for every host of the bed into DIR/certs (its cluster.json has a random cluster name). */
    Path certs() throws Exception {
        Path certs = dir.resolve("certs");
        Run made = run(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), "org.flagagg.cli.Main", "certs", "--out", certs.toString(),
                "--hosts", String.join(",", hosts.stream().map(h -> h[1]).toList())), COMMAND, dir);
        assertThat(made.code).as(made.output).isZero();
        return certs;
    }

    /** deploy/host.sh ROLE ARGS in host {@code index}'s namespace. */
    HostProcess startHost(String name, int index, List<String> args, Map<String, String> env) throws IOException {
        List<String> command = new ArrayList<>(List.of(DEPLOY.resolve("host.sh").toString()));
        command.addAll(args);
        return startIn(name, index, command, env);
    }

    /** COMMAND in host {@code index}'s namespace; killed by {@link #close}. */
    HostProcess startIn(String name, int index, List<String> command, Map<String, String> env) throws IOException {
        List<String> inNamespace = new ArrayList<>(List.of("ip", "netns", "exec", namespace(index)));
        inNamespace.addAll(command);
        HostProcess process = HostProcess.start(name, inNamespace, env, dir);
        started.add(process);
        return process;
    }

    /**
     * What deploy/host.sh reads on host {@code index}: its address, the member list (hosts 0 .. members - 1) and
     * the launcher's settings.
     */
    Map<String, String> hostEnv(int index, int members) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("FLAGAGG_ENV_FILE", "/dev/null");
        env.put("FLAGAGG_CLUSTER_HOST", address(index));
        env.put("FLAGAGG_CLUSTER_MEMBERS", String.join(",", IntStream.range(0, members).mapToObj(this::address).toList()));
        env.put("FLAGAGG_CLASSPATH", System.getProperty("java.class.path"));
        env.put("FLAGAGG_HEAP", "256m");
        env.put("FLAGAGG_DIRECT_MEMORY", "256m");
        // Short-lived JVMs on a shared 2-core machine: C1 only and the serial collector start them about twice as fast.
        env.put("JAVA_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
        return env;
    }

    /** Brings host {@code index}'s link up or down (down = the host is cut off). */
    void link(int index, String state) throws Exception {
        String veth = hosts.get(index)[2];
        Run r = run(List.of(DEPLOY.resolve("netns.sh").toString(), "link", Long.toString(id),
                veth.substring(veth.lastIndexOf('-') + 1), state), COMMAND, dir);
        assertThat(r.code).as(r.output).isZero();
    }

    /** Kills every process it started so far (SIGKILL). */
    void killAll() throws InterruptedException {
        for (HostProcess process : started) {
            process.close();
        }
        started.clear();
    }

    /** Kills every process it started and deletes the namespaces, veths and bridge (checked against ip link). */
    @Override
    public void close() throws Exception {
        killAll();
        down();
        Run left = run(List.of("ip", "-o", "link", "show"), COMMAND, dir);
        assertThat(left.output).doesNotContain("fab" + id + ":").doesNotContain("fav" + id + "-");
    }

    private void down() throws Exception {
        run(List.of(DEPLOY.resolve("netns.sh").toString(), "down", Long.toString(id)), COMMAND, dir);
    }

    /** Every record of a round log. */
    static List<JsonObject> records(Path roundLog) throws IOException {
        return Files.readAllLines(roundLog).stream().map(JsonObject::new).toList();
    }

    /** Polls a round log until round R's record is in it (the round closed), within {@code limit}. */
    static JsonObject awaitRecord(Path roundLog, long round, Duration limit) throws Exception {
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            if (Files.exists(roundLog)) {
                for (JsonObject record : records(roundLog)) {
                    if (record.getLong("round") == round) {
                        return record;
                    }
                }
            }
            Thread.sleep(20); // a poll interval, not a synchronisation: the loop checks the log
        }
        throw new AssertionError("round " + round + " did not close within " + limit + " (" + roundLog + ")");
    }

    /** The slots of a record's participants ("w3" is slot 3). */
    static int[] participants(JsonObject record) {
        JsonArray names = record.getJsonArray("participants");
        return names.stream().mapToInt(n -> Integer.parseInt(n.toString().substring(1))).toArray();
    }

    /** Polls a server's /metrics until the gauge {@code name} is at least {@code least}, within {@code limit}. */
    static void awaitMetric(String httpUrl, String name, double least, Duration limit) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        URI metrics = URI.create(httpUrl + "/metrics");
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            String text = http.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            if (text.lines().anyMatch(l -> l.startsWith(name + " ")
                    && Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) >= least)) {
                return;
            }
            Thread.sleep(20); // a poll interval, not a synchronisation: the loop checks the gauge
        }
        throw new AssertionError(name + " did not reach " + least + " at " + httpUrl + " within " + limit);
    }

    static byte[] bytes(float[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        return bytes.array();
    }

    /** The little-endian float32 values of a file. */
    static float[] floats(Path file) throws IOException {
        float[] values = new float[(int) (Files.size(file) / 4)];
        ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    record Run(int code, String output) {
    }

    /** Runs a short command to its end (bounded), its exit code and its output (stdout and stderr). */
    static Run run(List<String> command, Duration limit, Path dir) throws Exception {
        Path output = Files.createTempFile(dir, "run-", ".txt");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        boolean done = process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
        if (!done) {
            process.destroyForcibly().waitFor();
        }
        return new Run(done ? process.exitValue() : -1, Files.readString(output));
    }
}
