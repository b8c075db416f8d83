package org.flagagg.multihost;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.engine.Engine;
import org.flagagg.kernels.Kernels;
import org.flagagg.round.Aggregation;
import org.flagagg.round.ArraySource;
import org.flagagg.rules.Rules;
import org.flagagg.sim.Fleet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover across real interfaces (issue 17, "Proven"), on a bed of network namespaces ({@link NetnsBed}): a job's
 * server A ({@code host.sh server --standby}, up first, so it serves), shard hosts with the job's shards 1 and 2, the
 * Java worker host ({@link WorkerHostMain}) and Python workers given the gateways of both A and B. Each test runs its
 * own job on its own JVMs:
 * <ul>
 * <li>a spare third shard host; the JVM of the host running a shard is killed (SIGKILL) mid-round, several times:
 * the round fails "aggregator lost", the job's server places the shard again on a live shard host within the
 * failure timeout, and the next round completes with every worker (each retries the lost round by itself) and is
 * checked against the offline rule;
 * <li>a standby server B; A's JVM is killed mid-round with the Python workers attached to its gateway: B takes the
 * job over, the next round completes and verifies, and B's round log holds every completed round of A's.
 * </ul>
 * Each kill's time to detect and to recover and the rounds lost are printed as {@code multihost: failover ...}
 * lines (docs/reliability.md, "Failover (issue 17)").
 *
 * <p>A round that fails is made deterministic: one Python slot ({@link #HELD}) is kept back until the victim is
 * dead, so the round cannot complete before the kill, while the six other workers are in flight.
 */
@Tag("multihost")
class FailoverNetnsTest {
    static final int SHARDS = 3;
    static final int WORKERS = 7;
    static final int F = 1;
    static final int[] JAVA_SLOTS = {0, 1, 2};
    static final int[] PYTHON_SLOTS = {3, 4, 5, 6};
    /** The Python slot that starts a failing round only once the victim is dead. */
    static final int HELD = 6;
    static final long SEED = 17;
    static final long DIM = 3000;
    static final int CHUNK = 1000;
    /** Every member's cluster.failure_timeout_s: a member whose link is cut is declared dead after it. */
    static final int FAILURE_TIMEOUT_S = 3;
    /** Beyond the failure timeout, how long a detection may take on a loaded 2-core machine. */
    static final Duration DETECT_MARGIN = Duration.ofSeconds(10);
    /** Shard-host kills (-Dflagagg.failover.shardKills=N). */
    static final int SHARD_KILLS = Integer.getInteger("flagagg.failover.shardKills", 5);
    /** Server kills (-Dflagagg.failover.serverKills=N); the killed server comes back as the standby. */
    static final int SERVER_KILLS = Integer.getInteger("flagagg.failover.serverKills", 5);
    /** See MultiHostNetnsTest.DEADLINE_MS; here the deadline passes only once all 7 delivered. */
    static final int DEADLINE_MS = 10_000;
    /**
     * The gateways' HTTP port. Fixed so that the Python workers know both URLs before B serves (a standby does not
     * listen); each host is a namespace with its own network stack, so nothing else can hold it.
     */
    static final int HTTP_PORT = 8080;
    static final Duration START = Duration.ofSeconds(90);
    static final Duration ROUND = Duration.ofSeconds(60);

    /** Hosts of the bed: the servers, the shard hosts, then the Java and the Python workers. */
    static final int SERVER_A = 0;
    static final int SERVER_B = 1;
    static final int[] SHARD_HOSTS = {2, 3, 4};
    static final int JAVA = 5;
    static final int PYTHON = 6;
    /** Hosts 0 .. MEMBERS - 1 are the member list (the aggregator hosts); the worker hosts join through them. */
    static final int MEMBERS = 5;

    /**
     * Python workers, one thread and one flagagg.Client (both gateways' URLs) per slot, each connected for the
     * whole test. A line {@code step G S...} on stdin makes slots S exchange round G's gradient, at round G first
     * and, when that round fails or is refused (aggregator lost, round over), again at the client's next round.
     */
    private static final String PYTHON_WORKERS = String.join("\n",
            "import sys, threading, queue, traceback, numpy as np, flagagg",
            "from flagagg.errors import RoundFailed, RoundRefused",
            "urls, job, d = sys.argv[1].split(','), sys.argv[2], sys.argv[3]",
            "TRIES = 5",
            "tokens = dict(a.split(':') for a in sys.argv[4:])",
            "steps = {int(s): queue.Queue() for s in tokens}",
            "lock = threading.Lock()",
            "def say(line):  # one write a line: the slots' threads print at once",
            "    with lock:",
            "        print(line, flush=True)",
            "def run(slot, token):",
            "    try:",
            "        with flagagg.Client(urls, token, slot=slot, failover_s=60) as c:",
            "            say(f'slot {slot} connected to {c.url}')",
            "            for grad in iter(steps[slot].get, None):",
            "                g = np.fromfile(f'{d}/{job}-g-r{grad}-s{slot}.f32', dtype='<f4')",
            "                rnd = grad",
            "                for _ in range(TRIES):",
            "                    try:",
            "                        a = c.exchange(rnd, g)",
            "                    except (RoundFailed, RoundRefused) as e:",
            "                        rnd = c.next_round",
            "                        say(f'slot {slot} retry at round {rnd}: {e!r}')",
            "                        continue",
            "                    a.astype('<f4').tofile(f'{d}/{job}-a-r{rnd}-s{slot}.f32')",
            "                    say(f\"slot {slot} step {grad} round {rnd} \"",
            "                          f\"{'included' if c.last_result['included'] else 'excluded'}\")",
            "                    break",
            "                else:",
            "                    say(f'slot {slot} step {grad} failed: no result in {TRIES} tries')",
            "    except Exception as e:",
            "        traceback.print_exc()  # to the host's log: where the client let it out",
            "        say(f'slot {slot} failed: {e!r}')",
            "threads = [threading.Thread(target=run, args=(int(s), t)) for s, t in tokens.items()]",
            "[t.start() for t in threads]",
            "for line in sys.stdin:",
            "    words = line.split()",
            "    for s in words[2:]:",
            "        steps[int(s)].put(int(words[1]))",
            "for q in steps.values():",
            "    q.put(None)",
            "[t.join() for t in threads]");

    /** Kept when the test fails: the hosts' logs (*.log) and round logs are there. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path dir;

    static NetnsBed bed;
    /** Every configuration's "cluster" section: flagagg certs' material (a random cluster name), the failure timeout. */
    static JsonObject cluster;
    static Path shardHostConf;
    static Path tokens;
    static Map<String, String> tokenBySlot;
    static Fleet fleet;

    /** This test's job and its configuration file (also the worker hosts'). */
    private String job;
    private Path conf;
    /** Each aggregator host's current JVM (null: not started or killed), by bed host. */
    private final HostProcess[] jvms = new HostProcess[MEMBERS];
    /** Each server's round log, by bed host (a restarted server gets a fresh one). */
    private final Path[] roundLogs = new Path[2];
    private int starts;
    private int active = SERVER_A;
    private HostProcess javaWorkers;
    private HostProcess pythons;

    @BeforeAll
    static void layOutTheHosts() throws Exception {
        // Another ID than MultiHostNetnsTest's in the same JVM: its bed may still be going down.
        bed = NetnsBed.up(PYTHON + 1, (ProcessHandle.current().pid() + 1) % 10_000_000, dir);
        tokenBySlot = TokenTable.generate(Arrays.stream(PYTHON_SLOTS).mapToObj(s -> "w" + s).toList());
        tokens = dir.resolve("tokens.txt");
        TokenTable.write(tokens, tokenBySlot);
        fleet = new Fleet(new Fleet.Config(SEED, 0, "none", "none"), WORKERS, DIM);
        cluster = new JsonObject(Files.readString(bed.certs().resolve("cluster.json"))).getJsonObject("cluster")
                .put("server_wait_s", 60).put("failure_timeout_s", FAILURE_TIMEOUT_S);
        shardHostConf = writeConf("shard-host", new JsonObject());
    }

    @AfterEach
    void stopTheJvms() throws Exception {
        if (bed != null) {
            bed.killAll();
        }
    }

    @AfterAll
    static void removeTheHosts() throws Exception {
        if (bed != null) { // null: skipped before the bed was laid out
            bed.close();
        }
    }

    @Test
    void shardHostsDieMidRoundTheirShardsArePlacedAgainAndEveryWorkerCarriesOn() throws Exception {
        long t0 = System.nanoTime();
        startHosts("shard-kills", false);
        long next = runRound(0);
        List<Figures> kills = new ArrayList<>();
        for (int kill = 0; kill < SHARD_KILLS; kill++) {
            int shard = 1 + kill % (SHARDS - 1);
            int victim = holderOf(shard);
            Figures figures = killAShardHost(next, shard, victim);
            kills.add(figures);
            System.out.printf("multihost: failover shard-host kill %d (shard %d on host %d): %s%n", kill + 1, shard,
                    victim, figures);
            next = figures.recovered + 1;
            startShardHost(victim); // the spare of the next kill
            jvms[victim].expect("shard host ready", START);
        }
        runRound(next);
        summary("shard-host kills", kills);
        report("shard-host kills, whole", t0);
    }

    @Test
    void theJobServerDiesMidRoundTheStandbyTakesOverAndEveryWorkerCarriesOn() throws Exception {
        long t0 = System.nanoTime();
        startHosts("server-kills", true);
        long next = runRound(0);
        List<Figures> kills = new ArrayList<>();
        for (int kill = 0; kill < SERVER_KILLS; kill++) {
            int victim = active;
            Figures figures = killTheServer(next);
            kills.add(figures);
            System.out.printf("multihost: failover server kill %d (host %d): %s%n", kill + 1, victim, figures);
            next = figures.recovered + 1;
            if (kill + 1 < SERVER_KILLS) {
                startServer(victim); // the standby of the next kill
                jvms[victim].expect("standby for job '" + job + "'", START);
            }
        }
        runRound(next);
        summary("server kills", kills);
        report("server kills, whole", t0);
    }

    /**
     * Job NAME's hosts: shard hosts 1 and 2 (they get shards 1 and 2: the server looks shard hosts up at its start), the
     * Java worker host, server A, then server B as A's standby and shard host 3 as a spare when asked for, and the
     * Python workers; every worker joined.
     */
    private void startHosts(String name, boolean standby) throws Exception {
        long t0 = System.nanoTime();
        job = name;
        conf = writeConf(job, new JsonObject().put("name", "flag").put("f", F));
        startShardHost(SHARD_HOSTS[0]);
        startShardHost(SHARD_HOSTS[1]);
        javaWorkers = startJavaWorkerHost();
        jvms[SHARD_HOSTS[0]].expect("shard host ready", START);
        jvms[SHARD_HOSTS[1]].expect("shard host ready", START);
        startServer(SERVER_A);
        ready(SERVER_A);
        if (standby) {
            startServer(SERVER_B);
            jvms[SERVER_B].expect("standby for job '" + job + "'", START);
        } else {
            startShardHost(SHARD_HOSTS[2]);
            jvms[SHARD_HOSTS[2]].expect("shard host ready", START);
        }
        pythons = startPythonWorkers();
        pythons.expectAll(Arrays.stream(PYTHON_SLOTS).mapToObj(s -> "slot " + s + " connected").toList(), START);
        javaWorkers.send("join " + job);
        javaWorkers.expect("joined " + job, START);
        report(name + ": hosts up", t0);
    }

    /** Round NEXT with every worker, each exchanging that round's gradient: completed and verified; the round after it. */
    private long runRound(long round) throws Exception {
        pythons.send("step " + round + " " + slots(PYTHON_SLOTS));
        javaWorkers.send("round " + round);
        awaitWorkers(round);
        JsonObject record = NetnsBed.awaitRecord(roundLog(), round, ROUND);
        assertCompletedByAll(record);
        checkAggregates(round, round);
        return round + 1;
    }

    /**
     * Kills the JVM of VICTIM, the shard host running SHARD, while round R is in flight: the round fails "aggregator
     * lost", the shard is re-placed, and the next completed round carries round R's gradients (every worker retried).
     */
    private Figures killAShardHost(long round, int shard, int victim) throws Exception {
        int logged = jvms[active].logLines();
        long killed = killMidRound(round, victim);
        LocalTime killedAt = LocalTime.now();
        // Logged by the job's server, stamped by its clock ("HH:mm:ss.SSS LEVEL ..."): the loss (WARN), then the
        // shard running again (INFO). Detection is the latter, the shard's new host found and running it.
        String lost = jvms[active].awaitLog("job '" + job + "': aggregator lost: shard " + shard + " ", logged,
                detectLimit());
        String detected = jvms[active].awaitLog("shard " + shard + " of job '" + job + "' re-placed on ", logged,
                detectLimit());
        System.out.printf("multihost: failover: loss logged %d ms after the kill: %s%n",
                sinceKill(killedAt, lost) / 1_000_000, detected);
        return recover(round, killed, killed + sinceKill(killedAt, detected));
    }

    /** Nanoseconds from the kill to a log line, by the line's own timestamp. */
    private static long sinceKill(LocalTime killedAt, String logLine) {
        return Duration.between(killedAt, LocalTime.parse(logLine.substring(0, "HH:mm:ss.SSS".length()))).toNanos();
    }

    /** Kills the active server's JVM while round R is in flight: the standby takes the job over. */
    private Figures killTheServer(long round) throws Exception {
        int standby = active == SERVER_A ? SERVER_B : SERVER_A;
        List<JsonObject> before = NetnsBed.records(roundLog());
        long killed = killMidRound(round, active);
        HostProcess.Line took = jvms[standby].expectAll(List.of("took over job '" + job + "' at round "),
                detectLimit()).get(0);
        System.out.println("multihost: failover: " + took.text());
        active = standby;
        ready(standby);
        Figures figures = recover(round, killed, took.nanos());
        List<JsonObject> after = NetnsBed.records(roundLog());
        for (JsonObject record : before) {
            if ("completed".equals(record.getString("status"))) {
                assertThat(after).as("the new server's round log has round " + record.getLong("round"))
                        .anySatisfy(r -> assertThat(summary(r)).isEqualTo(summary(record)));
            }
        }
        return figures;
    }

    /**
     * Starts round R with every worker but {@link #HELD} (so it cannot complete), waits until the six are in flight
     * (the active server stored their shard-0 chunks), SIGKILLs VICTIM's JVM, then lets the held slot go; when the
     * JVM died.
     */
    private long killMidRound(long round, int victim) throws Exception {
        int[] first = Arrays.stream(PYTHON_SLOTS).filter(s -> s != HELD).toArray();
        pythons.send("step " + round + " " + slots(first));
        javaWorkers.send("round " + round);
        String http = httpUrl(active);
        NetnsBed.awaitMetric(http, "flagagg_rounds_open", 1, ROUND);
        NetnsBed.awaitMetric(http, "flagagg_chunk_store_chunks", WORKERS - 1, ROUND);
        assertThat(NetnsBed.records(roundLog())).as("round " + round + " is in flight at the kill")
                .noneMatch(r -> r.getLong("round") == round);
        long killed = jvms[victim].killJvm();
        jvms[victim] = null;
        pythons.send("step " + round + " " + HELD);
        return killed;
    }

    /**
     * After a kill in round R: R failed "aggregator lost"; the first round completed after it has every worker and
     * R's gradients; each worker finished its step by itself. The figures of the kill.
     */
    private Figures recover(long round, long killed, long detected) throws Exception {
        long end = System.nanoTime() + ROUND.toNanos();
        JsonObject completed = null;
        while (completed == null && System.nanoTime() < end) {
            completed = NetnsBed.records(roundLog()).stream().filter(r -> r.getLong("round") > round
                    && "completed".equals(r.getString("status"))).findFirst().orElse(null);
            Thread.sleep(20); // a poll interval, not a synchronisation: the loop checks the log
        }
        long recovered = System.nanoTime();
        assertThat(completed).as("a round completed after the kill in round " + round + "\n" + outputs()).isNotNull();
        awaitWorkers(round);
        long completedRound = completed.getLong("round");
        List<JsonObject> records = NetnsBed.records(roundLog());
        JsonObject failed = records.stream().filter(r -> r.getLong("round") == round).findFirst()
                .orElseThrow(() -> new AssertionError("no record of round " + round + " in " + roundLog()));
        assertThat(failed.getString("status")).as(failed.encode()).isEqualTo("failed");
        assertThat(failed.getString("error")).as(failed.encode()).startsWith("aggregator lost");
        assertCompletedByAll(completed);
        checkAggregates(completedRound, round);
        int lost = (int) records.stream().filter(r -> r.getLong("round") >= round && r.getLong("round") < completedRound)
                .count();
        Duration limit = detectLimit();
        assertThat(Duration.ofNanos(detected - killed)).as("detected after the kill, within " + limit)
                .isPositive().isLessThan(limit);
        return new Figures((detected - killed) / 1_000_000, (recovered - killed) / 1_000_000, lost, completedRound);
    }

    /** Each Java and Python worker finished round R's step by itself: its last result was "included". */
    private void awaitWorkers(long round) throws Exception {
        List<String> java = javaWorkers.until("done " + round, ROUND);
        for (int slot : JAVA_SLOTS) {
            List<String> results = java.stream().filter(l -> l.startsWith("slot " + slot + " round ")).toList();
            assertThat(results).as(String.join("\n", java)).isNotEmpty();
            assertThat(results.get(results.size() - 1)).as(String.join("\n", java)).endsWith(" included");
        }
        List<HostProcess.Line> python = pythons.expectAll(Arrays.stream(PYTHON_SLOTS)
                .mapToObj(s -> "slot " + s + " step " + round + " ").toList(), ROUND);
        for (HostProcess.Line line : python) {
            assertThat(line.text()).as(pythons.output()).endsWith(" included");
        }
    }

    /** What the active server and the workers printed, for a failure message. */
    private String outputs() {
        return jvms[active].output() + "\n" + javaWorkers.output() + "\n" + pythons.output();
    }

    private static void assertCompletedByAll(JsonObject record) {
        assertThat(record.getString("status")).as(record.encode()).isEqualTo("completed");
        assertThat(NetnsBed.participants(record)).as(record.encode())
                .containsExactlyInAnyOrder(IntStream.range(0, WORKERS).toArray());
        assertThat(record.getJsonArray("shards")).as(record.encode()).hasSize(SHARDS);
    }

    /**
     * Round R's aggregate, as every worker received it, equals the offline rule on its participants' gradients: the
     * Python workers' of round G (R itself, or the lost round whose gradient they sent again), the Java workers' of
     * round R (WorkerHostMain makes a retried step's gradient for the round it retries at).
     */
    private void checkAggregates(long round, long pythonGradients) throws IOException {
        JsonObject record = NetnsBed.records(roundLog()).stream().filter(r -> r.getLong("round") == round)
                .findFirst().orElseThrow();
        int[] participants = NetnsBed.participants(record);
        float[][] gradients = new float[participants.length][(int) DIM];
        for (int k = 0; k < participants.length; k++) {
            int slot = participants[k];
            boolean python = Arrays.stream(PYTHON_SLOTS).anyMatch(s -> s == slot);
            fleet.trueGradient(python ? pythonGradients : round, slot, 0, (int) DIM, gradients[k]);
        }
        float[] expected = new float[(int) DIM];
        JobConfig config = ServerConfig.parse(Configuration.load(conf, Map.of(), new JsonObject())).job();
        new Aggregation(Rules.create(config.rule()), config.chunkCoords(), Kernels.best()).run(new ArraySource(gradients),
                (offset, values, len) -> {
                    for (int k = 0; k < len; k++) {
                        expected[(int) offset + k] = (float) values[k];
                    }
                });
        for (int slot : PYTHON_SLOTS) {
            Engine.assertSameAggregate(NetnsBed.floats(dir.resolve("python").resolve(job + "-a-r" + round + "-s" + slot
                    + ".f32")), expected);
        }
        for (int slot : JAVA_SLOTS) {
            Engine.assertSameAggregate(NetnsBed.floats(dir.resolve("java-worker").resolve(job + "-r" + round + "-s"
                    + slot + ".f32")), expected);
        }
    }

    /** The bed host running SHARD of the job now: the live shard host whose log says it runs it. */
    private int holderOf(int shard) throws IOException {
        List<Integer> holders = new ArrayList<>();
        for (int host : SHARD_HOSTS) {
            if (jvms[host] != null && jvms[host].log().contains("running shard " + shard + " of job '" + job + "'")) {
                holders.add(host);
            }
        }
        assertThat(holders).as("the shard host running shard " + shard).hasSize(1);
        return holders.get(0);
    }

    private static Duration detectLimit() {
        return Duration.ofSeconds(FAILURE_TIMEOUT_S).plus(DETECT_MARGIN);
    }

    private void startShardHost(int host) throws IOException {
        jvms[host] = bed.startHost(job + "-shard-host-" + host + "-" + starts++, host, List.of("shard-host", "--conf",
                shardHostConf.toString()), bed.hostEnv(host, MEMBERS));
    }

    /**
     * A job server on host A or B, as a standby: the first one up is active. Its gateway on the host's address at
     * {@link #HTTP_PORT}, its own round log; the deadline passes only once every worker delivered.
     */
    private void startServer(int host) throws IOException {
        String name = job + "-server-" + (host == SERVER_A ? "a" : "b") + "-" + starts++;
        roundLogs[host] = dir.resolve("rounds-" + name + ".jsonl");
        jvms[host] = bed.startHost(name, host, List.of("server", "--standby", "--conf", conf.toString(), "--host",
                bed.address(host), "--port", Integer.toString(HTTP_PORT), "--round-log", roundLogs[host].toString(),
                "--test-deadlines-wait-for", Integer.toString(WORKERS)), bed.hostEnv(host, MEMBERS));
    }

    /** Waits until the server on HOST serves the job: it printed its ready and listening lines. */
    private void ready(int host) throws Exception {
        jvms[host].expect("aggregator ready", START);
        assertThat(jvms[host].expect("listening on ", START)).endsWith(wsUrl(host));
    }

    private HostProcess startJavaWorkerHost() throws Exception {
        Path out = Files.createDirectories(dir.resolve("java-worker"));
        Map<String, String> env = bed.hostEnv(JAVA, MEMBERS);
        env.put("FLAGAGG_MAIN", WorkerHostMain.class.getName());
        HostProcess host = bed.startHost(job + "-java-worker", JAVA, List.of("worker", "--conf", conf.toString(), "--seed",
                Long.toString(SEED), "--slots", slots(JAVA_SLOTS).replace(' ', ','), "--out", out.toString()), env);
        host.expect("member ", START);
        return host;
    }

    /** The Python host's workers, given both gateways; every round's gradient files written first. */
    private HostProcess startPythonWorkers() throws Exception {
        Path io = Files.createDirectories(dir.resolve("python"));
        long rounds = 2 + 2L * (SHARD_KILLS + SERVER_KILLS) + 8; // a round per kill lost, a few spare
        for (long round = 0; round < rounds; round++) {
            for (int slot : PYTHON_SLOTS) {
                float[] g = new float[(int) DIM];
                fleet.trueGradient(round, slot, 0, g.length, g);
                Files.write(io.resolve(job + "-g-r" + round + "-s" + slot + ".f32"), NetnsBed.bytes(g));
            }
        }
        List<String> command = new ArrayList<>(List.of("python3", "-c", PYTHON_WORKERS,
                wsUrl(SERVER_A) + "," + wsUrl(SERVER_B), job, io.toString()));
        for (int slot : PYTHON_SLOTS) {
            command.add(slot + ":" + tokenBySlot.get("w" + slot));
        }
        return bed.startIn(job + "-python", PYTHON, command, Map.of("PYTHONPATH", NetnsBed.PYTHON_CLIENT.toString()));
    }

    /** The job's configuration file (also the worker hosts' and, under another job name, the shard hosts'). */
    private static Path writeConf(String job, JsonObject rule) throws IOException {
        JsonObject conf = new JsonObject().put("job", job).put("workers", WORKERS).put("dim", DIM)
                .put("chunk_coords", CHUNK).put("quorum", 0).put("rule", rule).put("shards", SHARDS)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", DEADLINE_MS).put("max_ms", DEADLINE_MS))
                .put("result_timeout_ms", 15000).put("memory_budget_mb", 64)
                .put("spill_dir", dir.resolve("spill").toString())
                .put("ws", new JsonObject().put("tokens", tokens.toString()))
                .put("cluster", cluster);
        Path file = dir.resolve("conf-" + job + ".json");
        Files.writeString(file, conf.encodePrettily());
        return file;
    }

    private Path roundLog() {
        return roundLogs[active];
    }

    private String httpUrl(int host) {
        return "http://" + bed.address(host) + ":" + HTTP_PORT;
    }

    private String wsUrl(int host) {
        return "ws://" + bed.address(host) + ":" + HTTP_PORT + "/v1/workers";
    }

    private static String slots(int[] slots) {
        return Arrays.stream(slots).mapToObj(Integer::toString).collect(Collectors.joining(" "));
    }

    /** What a copied record must keep: its round, status and participants. */
    private static String summary(JsonObject record) {
        return record.getLong("round") + " " + record.getString("status") + " " + record.getValue("participants");
    }

    private static void summary(String kind, List<Figures> kills) {
        if (kills.isEmpty()) {
            return;
        }
        long[] detect = kills.stream().mapToLong(Figures::detectMs).sorted().toArray();
        long[] recover = kills.stream().mapToLong(Figures::recoverMs).sorted().toArray();
        int[] lost = kills.stream().mapToInt(Figures::roundsLost).sorted().toArray();
        System.out.printf("multihost: failover %s (%d, failure timeout %d s): detect median %d ms worst %d ms; recover "
                + "median %d ms worst %d ms; rounds lost median %d worst %d%n", kind, kills.size(), FAILURE_TIMEOUT_S,
                detect[detect.length / 2], detect[detect.length - 1], recover[recover.length / 2],
                recover[recover.length - 1], lost[lost.length / 2], lost[lost.length - 1]);
    }

    private static void report(String what, long since) {
        System.out.printf("multihost: failover: %s: %d ms%n", what, (System.nanoTime() - since) / 1_000_000);
    }

    /** One kill: kill to detection, kill to the next completed round record, rounds that failed; that round. */
    private record Figures(long detectMs, long recoverMs, int roundsLost, long recovered) {
        @Override
        public String toString() {
            return "detect " + detectMs + " ms, recover " + recoverMs + " ms, rounds lost " + roundsLost;
        }
    }
}
