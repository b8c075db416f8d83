package org.flagagg.multihost;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.Engine;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.Aggregation;
import org.flagagg.rules.Rules;
import org.flagagg.sim.Fleet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multi-host test (issue 16, "Proven on real interfaces"): hosts are Linux network namespaces on a bridge
 * ({@code deploy/netns.sh}), each with its own address and its own JVM started by the operator's script
 * ({@code deploy/host.sh}): the job's host runs {@code flagagg server --cluster --shards S}, S - 1 shard hosts run
 * {@code flagagg server --shard-host} (the job's server places shards 1..S-1 on them), the Java worker host joins
 * the job over the data link ({@link WorkerHostMain}), and another host runs Python WebSocket workers
 * (client/python) on the job server's gateway, which forwards their chunks to the shards' hosts. The cluster
 * forms over those interfaces from a Hazelcast TCP-IP member list, with the event bus on mutual TLS
 * ({@code flagagg certs}). For every rule a round is checked against the offline aggregate of the same gradients
 * and its record shows the S shards; then the Java worker host's link is cut mid-round, the round closes on
 * quorum at its deadline, and once the link is back the host takes part in the next round.
 * S = 3 by default; {@code -Dflagagg.multihost.shards=1} runs one aggregator host and no shard host.
 *
 * <p>Needs root (or CAP_NET_ADMIN) and iproute2; skipped with the reason otherwise, and without python3,
 * numpy and websockets. Everything it starts is killed and every namespace, veth and bridge deleted after.
 */
@Tag("multihost")
class MultiHostNetnsTest {
    /** The job's shards, one aggregator host each: the job's server and S - 1 shard hosts (-Dflagagg.multihost.shards=S). */
    static final int SHARDS = Integer.getInteger("flagagg.multihost.shards", 3);
    /** The rules checked across hosts (-Dflagagg.multihost.rules=flag,mean to try a few): all by default. */
    static final List<String> RULES = List.of(System.getProperty("flagagg.multihost.rules",
            String.join(",", Rules.NAMES)).split(","));
    static final int WORKERS = 7;
    /** f = 1: bulyan needs p >= 4f + 3 = 7. */
    static final int F = 1;
    static final int[] JAVA_SLOTS = {0, 1, 2};
    static final int[] PYTHON_SLOTS = {3, 4, 5, 6};
    static final long SEED = 16;
    static final long DIM = 3000;
    static final int CHUNK = 1000;
    /**
     * The rounds' fixed deadline from their first chunk; it passes only once the quorum delivered
     * (--test-deadlines-wait-for). Long enough for every worker of a round to start on a loaded machine: a round
     * with everyone closes when the last one delivered, well before it.
     */
    static final int DEADLINE_MS = 10_000;
    /**
     * -Dflagagg.multihost.shardHostCut=true adds {@link #cutAShardHost}: off by default, since the round after the
     * shard host came back failed in 1 of 4 runs (docs/reliability.md).
     */
    static final boolean SHARD_HOST_CUT = Boolean.getBoolean("flagagg.multihost.shardHostCut");
    /** How long a job's server waits for a shard's answer in the shard-host cut (short: the joins fail after it). */
    static final int SHARD_TIMEOUT_MS = 3000;
    static final Duration START = Duration.ofSeconds(90);
    static final Duration ROUND = Duration.ofSeconds(60);

    /** Python workers: one thread per slot, each a flagagg.Client exchanging one round, as a training script would. */
    private static final String PYTHON_WORKERS = String.join("\n",
            "import sys, threading, numpy as np, flagagg",
            "url, job, rnd, d = sys.argv[1:5]",
            "failed = []",
            "def run(slot, token):",
            "    try:",
            "        g = np.fromfile(f'{d}/{job}-g-r{rnd}-s{slot}.f32', dtype='<f4')",
            "        with flagagg.Client(url, token, slot=int(slot)) as c:",
            "            c.exchange(int(rnd), g).astype('<f4').tofile(f'{d}/{job}-a-r{rnd}-s{slot}.f32')",
            "            print(f\"slot {slot} {'included' if c.last_result['included'] else 'excluded'}\", flush=True)",
            "    except Exception as e:",
            "        failed.append(slot)",
            "        print(f'slot {slot} failed: {e!r}', flush=True)",
            "threads = [threading.Thread(target=run, args=a.split(':')) for a in sys.argv[5:]]",
            "[t.start() for t in threads]",
            "[t.join() for t in threads]",
            "sys.exit(1 if failed else 0)");

    /** Kept when the test fails: the hosts' logs (*.log) and round logs are there. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path dir;

    /** Hosts: the job's server 0, shard hosts 1 .. S - 1, then Java workers, then Python. */
    static NetnsBed bed;
    static Path certs;
    static Path tokens;
    static Map<String, String> tokenBySlot;
    static Fleet fleet;

    @BeforeAll
    static void layOutTheHosts() throws Exception {
        bed = NetnsBed.up(SHARDS + 2, ProcessHandle.current().pid() % 10_000_000, dir);
        certs = bed.certs();
        tokenBySlot = TokenTable.generate(Arrays.stream(PYTHON_SLOTS).mapToObj(s -> "w" + s).toList());
        tokens = dir.resolve("tokens.txt");
        TokenTable.write(tokens, tokenBySlot);
        fleet = new Fleet(new Fleet.Config(SEED, 0, "none", "none"), WORKERS, DIM);
    }

    @AfterAll
    static void removeTheHosts() throws Exception {
        if (bed != null) { // null: skipped before the bed was laid out (a failed 'up' already ran 'down')
            bed.close();
        }
    }

    @Test
    void everyRuleAcrossHostsThenACutLinkClosesOnQuorumAndTheHostRejoins() throws Exception {
        long t0 = System.nanoTime();
        // The shard hosts first: a job's server looks for them once, at its start.
        List<HostProcess> shardHosts = new ArrayList<>();
        for (int k = 1; k < SHARDS; k++) {
            shardHosts.add(startShardHost(k));
        }
        HostProcess javaWorkers = startJavaWorkerHost();
        for (HostProcess shardHost : shardHosts) {
            shardHost.expect("shard host ready", START);
        }
        report("java worker host and " + shardHosts.size() + " shard hosts up", t0);
        // One server per rule; the next one starts while this one's round runs (they are separate jobs).
        HostProcess next = startAggregator(ruleConf(0), WORKERS);
        for (int k = 0; k < RULES.size(); k++) {
            long t = System.nanoTime();
            Path conf = ruleConf(k);
            Aggregator server = ready(next);
            next = k + 1 < RULES.size() ? startAggregator(ruleConf(k + 1), WORKERS) : null;
            joinAndRunRound(javaWorkers, server, conf, 0);
            assertPlacedOnShardHosts(shardHosts, conf);
            javaWorkers.send("leave");
            javaWorkers.expect("left", ROUND);
            server.process().terminate();
            report("rule " + RULES.get(k), t);
        }
        long t = System.nanoTime();

        // A round with a quorum of the Python host's workers and a fixed deadline: the Java host's link goes down
        // once round 1 is open (its first Python chunk is in), the round closes on quorum, the link comes back.
        Path conf = jobConf("cut", new JsonObject().put("name", "flag").put("f", F), PYTHON_SLOTS.length);
        Aggregator server = ready(startAggregator(conf, PYTHON_SLOTS.length));
        joinAndRunRound(javaWorkers, server, conf, 0);
        assertPlacedOnShardHosts(shardHosts, conf);
        HostProcess pythons = startPythonWorkers(server, conf, 1);
        NetnsBed.awaitMetric(server.httpUrl(), "flagagg_rounds_open", 1, ROUND);
        bed.link(javaHostIndex(), "down");
        long cut = System.nanoTime();
        JsonObject record;
        try {
            assertThat(records(conf)).as("round 1 is still open when the link goes down").hasSize(1);
            javaWorkers.send("round 1");
            record = awaitRecord(conf, 1, server.process(), pythons);
        } finally {
            // Back as soon as the round closed: while the link is down, results to some of the gateway's own
            // workers wait too (docs/reliability.md, "Across real interfaces").
            bed.link(javaHostIndex(), "up");
            report("link down", cut);
        }
        assertThat(record.getString("status")).as(record.encode()).isEqualTo("completed");
        assertThat(record.getString("trigger")).as(record.encode()).startsWith("deadline");
        assertThat(NetnsBed.participants(record)).containsExactlyInAnyOrder(PYTHON_SLOTS);
        assertShards(record);
        int python = pythons.waitFor(ROUND);
        assertThat(python).as(() -> pythons.output() + "\n" + server.process().output()).isZero();
        report("Python results, from the cut", cut);
        checkAggregates(conf, 1, PYTHON_SLOTS);
        // What the cut host's workers saw of round 1 once the link was back: reported, not asserted (their exchange
        // may fail or end as a non-participant: docs/reliability.md).
        for (int slot : JAVA_SLOTS) {
            System.out.println("multihost: after the cut: " + javaWorkers.expect("slot " + slot + " round 1", ROUND));
        }
        javaWorkers.expect("done 1", ROUND);
        report("cut round", t);
        joinAndRunRound(javaWorkers, server, conf, 2);
        server.process().terminate();
        if (SHARDS > 1 && SHARD_HOST_CUT) {
            cutAShardHost(javaWorkers);
        }
        report("whole test", t0);
    }

    /**
     * A shard host's link goes down between rounds: the Python workers' joins (they join for each round) fail
     * within shard_timeout_ms with a reason naming the unreachable shard, since a join must reach every shard;
     * once the link is back they join again and the next round completes with everyone. (A round started during
     * the cut cannot gather a quorum instead: docs/reliability.md.)
     */
    private void cutAShardHost(HostProcess javaWorkers) throws Exception {
        long t = System.nanoTime();
        Path conf = jobConf("shard-cut", new JsonObject().put("name", "flag").put("f", F), 0);
        Files.writeString(conf, new JsonObject(Files.readString(conf)).put("shard_timeout_ms", SHARD_TIMEOUT_MS)
                .encodePrettily());
        Aggregator server = ready(startAggregator(conf, WORKERS));
        joinAndRunRound(javaWorkers, server, conf, 0);
        bed.link(1, "down");
        long cut = System.nanoTime();
        HostProcess pythons;
        try {
            pythons = startPythonWorkers(server, conf, 1);
            assertThat(pythons.waitFor(ROUND)).isEqualTo(1);
        } finally {
            bed.link(1, "up");
            report("shard host link down", cut);
        }
        String output = pythons.output();
        for (int slot : PYTHON_SLOTS) {
            assertThat(output).containsPattern("slot " + slot + " failed: .*the join did not reach every shard: shard [1-9]");
        }
        assertThat(records(conf)).as("no round opened while the shard host was cut off").hasSize(1);
        joinAndRunRound(javaWorkers, server, conf, 1);
        server.process().terminate();
        report("shard host cut", t);
    }

    private static void report(String what, long since) {
        System.out.printf("multihost: %s: %d ms%n", what, (System.nanoTime() - since) / 1_000_000);
    }

    /** A started aggregator: its process, its gateway's WebSocket URL and its HTTP base URL. */
    private record Aggregator(HostProcess process, String wsUrl, String httpUrl) {
    }

    private static Path ruleConf(int k) throws IOException {
        return jobConf("rule-" + RULES.get(k), new JsonObject().put("name", RULES.get(k)).put("f", F), 0);
    }

    /** JOB's round R with every worker: every one took part, and every aggregate is the offline one. */
    private void joinAndRunRound(HostProcess javaWorkers, Aggregator server, Path conf, long round) throws Exception {
        String job = job(conf).job();
        if (round == 0) {
            javaWorkers.send("join " + job);
            javaWorkers.expect("joined " + job, START);
        }
        HostProcess pythons = startPythonWorkers(server, conf, round);
        javaWorkers.send("round " + round);
        for (int slot : JAVA_SLOTS) {
            assertThat(javaWorkers.expect("slot " + slot + " round " + round, ROUND)).endsWith(" included");
        }
        javaWorkers.expect("done " + round, ROUND);
        int python = pythons.waitFor(ROUND);
        assertThat(python).as(() -> pythons.output() + "\n" + server.process().output()).isZero();
        JsonObject record = awaitRecord(conf, round);
        assertThat(record.getString("status")).as(record.encode()).isEqualTo("completed");
        assertThat(NetnsBed.participants(record)).containsExactlyInAnyOrder(allSlots());
        assertThat(record.getString("trigger")).isEqualTo("all workers delivered");
        assertShards(record);
        checkAggregates(conf, round, allSlots());
    }

    /** S = 1: no {@code shards} in the record (the unsharded form); else one entry per shard, in shard order. */
    private static void assertShards(JsonObject record) {
        if (SHARDS == 1) {
            assertThat(record.containsKey("shards")).as(record.encode()).isFalse();
            return;
        }
        JsonArray shards = record.getJsonArray("shards");
        assertThat(shards).as(record.encode()).hasSize(SHARDS);
        assertThat(IntStream.range(0, SHARDS).map(k -> shards.getJsonObject(k).getInteger("shard")).toArray())
                .as(record.encode()).containsExactly(IntStream.range(0, SHARDS).toArray());
    }

    /** Every shard 1..S-1 of the job ran on a shard host (their logs say so), not beside the job's server. */
    private static void assertPlacedOnShardHosts(List<HostProcess> shardHosts, Path conf) throws IOException {
        StringBuilder logs = new StringBuilder();
        for (HostProcess shardHost : shardHosts) {
            logs.append(shardHost.log());
        }
        for (int k = 1; k < SHARDS; k++) {
            assertThat(logs.toString()).contains("running shard " + k + " of job '" + job(conf).job() + "'");
        }
    }

    private static int javaHostIndex() {
        return SHARDS;
    }

    /** Shard host K ({@code deploy/host.sh shard-host}) on aggregator host K, 1 <= K < S. */
    private static HostProcess startShardHost(int k) throws Exception {
        Path conf = jobConf("shard-host-" + k, new JsonObject(), 0);
        return startHost("shard-host-" + k, k, List.of("shard-host", "--conf", conf.toString()), hostEnv(k));
    }

    private static HostProcess startJavaWorkerHost() throws Exception {
        Path out = Files.createDirectories(dir.resolve("java-worker"));
        Path conf = jobConf("none", new JsonObject(), 0);
        Map<String, String> env = hostEnv(javaHostIndex());
        env.put("FLAGAGG_MAIN", WorkerHostMain.class.getName());
        HostProcess host = startHost("java-worker", javaHostIndex(), List.of("worker", "--conf", conf.toString(), "--seed",
                Long.toString(SEED), "--slots", String.join(",", Arrays.stream(JAVA_SLOTS).mapToObj(Integer::toString)
                        .toList()), "--out", out.toString()), env);
        host.expect("member ", START);
        return host;
    }

    /**
     * Starts the job's server on the first aggregator host (see {@link #ready}); it places its shards 1..S-1 on
     * the shard hosts, and its deadline passes only once {@code waitFor} workers delivered.
     */
    private static HostProcess startAggregator(Path conf, int waitFor) throws Exception {
        return startHost("server-" + job(conf).job(), 0, List.of("server", "--conf", conf.toString(),
                "--test-deadlines-wait-for", Integer.toString(waitFor)), hostEnv(0));
    }

    /** Waits until the server is a cluster member and serving; where it listens (it printed it). */
    private static Aggregator ready(HostProcess server) throws Exception {
        String ready = server.expect("aggregator ready", START);
        String http = ready.substring(ready.indexOf("rounds at ") + "rounds at ".length(), ready.lastIndexOf("/rounds"));
        String ws = server.expect("listening on ", START).substring("listening on ".length());
        return new Aggregator(server, ws, http);
    }

    /** deploy/host.sh ROLE ARGS in host {@code index}'s namespace. */
    private static HostProcess startHost(String name, int index, List<String> args, Map<String, String> env)
            throws IOException {
        return bed.startHost(name, index, args, env);
    }

    /** What deploy/host.sh reads on host {@code index}: its address, the aggregator hosts as members, the launcher's. */
    private static Map<String, String> hostEnv(int index) {
        Map<String, String> env = bed.hostEnv(index, SHARDS + 1);
        // The worker host's cut lasts until its round closed at the deadline, longer than the default failure
        // timeout (10 s): a cut this test means to be short of declaring the host dead (FailoverNetnsTest is
        // where members die).
        env.put("FLAGAGG_CLUSTER__FAILURE_TIMEOUT_S", "60");
        return env;
    }

    /** The Python host's workers exchanging round R of the job (gradient files written first). */
    private static HostProcess startPythonWorkers(Aggregator server, Path conf, long round) throws Exception {
        String job = job(conf).job();
        Path io = Files.createDirectories(dir.resolve("python"));
        for (int slot : PYTHON_SLOTS) {
            Files.write(io.resolve(job + "-g-r" + round + "-s" + slot + ".f32"), NetnsBed.bytes(gradient(round, slot)));
        }
        List<String> command = new ArrayList<>(List.of("python3", "-c", PYTHON_WORKERS, server.wsUrl(), job, Long.toString(round),
                io.toString()));
        for (int slot : PYTHON_SLOTS) {
            command.add(slot + ":" + tokenBySlot.get("w" + slot));
        }
        return bed.startIn("python-" + job + "-r" + round, javaHostIndex() + 1, command,
                Map.of("PYTHONPATH", NetnsBed.PYTHON_CLIENT.toString()));
    }

    /** A job's configuration file: the job, the cluster material of 'flagagg certs', the round log, the gateway. */
    private static Path jobConf(String job, JsonObject rule, int quorum) throws IOException {
        JsonObject cluster = new JsonObject(Files.readString(certs.resolve("cluster.json"))).getJsonObject("cluster")
                .put("server_wait_s", 60);
        JsonObject conf = new JsonObject().put("job", job).put("workers", WORKERS).put("dim", DIM)
                .put("chunk_coords", CHUNK).put("quorum", quorum).put("rule", rule).put("shards", SHARDS)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", DEADLINE_MS).put("max_ms", DEADLINE_MS))
                .put("result_timeout_ms", 15000).put("memory_budget_mb", 64)
                .put("spill_dir", dir.resolve("spill").toString())
                .put("round_log", dir.resolve("rounds-" + job + ".jsonl").toString())
                .put("http", new JsonObject().put("host", bed.address(0)).put("port", 0))
                .put("ws", new JsonObject().put("tokens", tokens.toString()))
                .put("cluster", cluster);
        Path file = dir.resolve("conf-" + job + ".json");
        Files.writeString(file, conf.encodePrettily());
        return file;
    }

    private static JobConfig job(Path conf) {
        return ServerConfig.parse(Configuration.load(conf, Map.of(), new JsonObject())).job();
    }

    /** Round R's record from the server's round log (written when the round closed). */
    private static JsonObject record(Path conf, long round) throws IOException {
        return records(conf).stream().filter(r -> r.getLong("round") == round).findFirst()
                .orElseThrow(() -> new AssertionError("no record of round " + round + " in " + job(conf).roundLog()));
    }

    /** {@link #awaitRecord(Path, long)}; on failure with what these processes printed. */
    private static JsonObject awaitRecord(Path conf, long round, HostProcess... shown) throws Exception {
        try {
            return awaitRecord(conf, round);
        } catch (AssertionError e) {
            StringBuilder output = new StringBuilder(e.getMessage());
            for (HostProcess process : shown) {
                output.append('\n').append(process.output());
            }
            throw new AssertionError(output.toString(), e);
        }
    }

    /** Polls the server's round log until round R's record is in it (the round closed). */
    private static JsonObject awaitRecord(Path conf, long round) throws Exception {
        return NetnsBed.awaitRecord(job(conf).roundLog(), round, ROUND);
    }

    /** Every record of the server's round log. */
    private static List<JsonObject> records(Path conf) throws IOException {
        return NetnsBed.records(job(conf).roundLog());
    }

    /** Where the Java worker host (WorkerHostMain) and the Python workers (PYTHON_WORKERS) put slot S's aggregate. */
    private static Path aggregateFile(String job, long round, int slot) {
        boolean java = Arrays.stream(JAVA_SLOTS).anyMatch(s -> s == slot);
        return java ? dir.resolve("java-worker").resolve(job + "-r" + round + "-s" + slot + ".f32")
                : dir.resolve("python").resolve(job + "-a-r" + round + "-s" + slot + ".f32");
    }

    /** Every aggregate these slots received in round R equals the offline rule on the round's participants. */
    private static void checkAggregates(Path conf, long round, int[] slots) throws IOException {
        JobConfig job = job(conf);
        float[] expected = new float[(int) job.dim()];
        new Aggregation(Rules.create(job.rule()), job.chunkCoords(), Kernels.best()).run(
                fleet.source(round, NetnsBed.participants(record(conf, round))),
                (offset, values, len) -> {
                    for (int k = 0; k < len; k++) {
                        expected[(int) offset + k] = (float) values[k];
                    }
                });
        for (int slot : slots) {
            Engine.assertSameAggregate(NetnsBed.floats(aggregateFile(job.job(), round, slot)), expected);
        }
    }

    private static float[] gradient(long round, int slot) {
        float[] g = new float[(int) DIM];
        fleet.trueGradient(round, slot, 0, g.length, g);
        return g;
    }

    private static int[] allSlots() {
        return IntStream.range(0, WORKERS).toArray();
    }
}
