package org.flagagg.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.ForkedMain;
import org.flagagg.cli.Main;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.Engine;
import org.flagagg.link.LinkServer;
import org.flagagg.link.RawNode;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.JobSecret;
import org.flagagg.wire.LinkRecords;
import org.flagagg.worker.LinkClient;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks on the data link and on joining over the event bus (issue 14, items 2 and 6): a server without
 * --cluster opening the link, peers that never authenticate, declare huge records or flood connections,
 * nodes with a wrong secret, frames for another worker's slot, and cluster members without the secret
 * joining as w0..w3 or sending for another slot. Each is refused with a reason while honest workers' rounds
 * complete with the right aggregate.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LinkAttackTest {
    static final JobSecret SECRET = JobSecret.of(RawNode.SECRET);

    @TempDir
    Path dir;

    JobConfig job(JsonObject overrides) {
        return Engine.job(new JsonObject().put("rule", new JsonObject().put("name", "mean")).mergeIn(overrides, true), dir);
    }

    static LinkServer deployLink(Vertx vertx, JobConfig job, LinkServer.Limits limits) throws Exception {
        LinkServer server = new LinkServer(job, SECRET, "127.0.0.1", 0, limits);
        await(vertx.deployVerticle(server));
        return server;
    }

    /** The aggregator's refusal of a request: its code, then its reason. */
    static String refusal(CompletableFuture<?> request) {
        Throwable cause = assertThatThrownBy(() -> Await.get(request)).isInstanceOf(ExecutionException.class)
                .actual().getCause();
        assertThat(cause).isInstanceOf(ReplyException.class);
        return ((ReplyException) cause).failureCode() + " " + cause.getMessage();
    }

    static String refusal(io.vertx.core.Future<?> request) {
        return refusal(request.toCompletionStage().toCompletableFuture());
    }

    /** Sends one FRAME record and returns its ACK's code and reason. */
    static String sendFrame(RawNode node, int seq, byte[] frame) throws Exception {
        node.write(RawNode.record(LinkRecords.FRAME, seq, frame));
        RawNode.Rec ack = node.read();
        assertThat(ack.type()).isEqualTo(LinkRecords.ACK);
        assertThat(ack.seq()).isEqualTo(seq);
        return ack.code() + " " + ack.text();
    }

    /** The BYE's code and reason, on a connection whose HELLO got a CHALLENGE first. */
    static String refusalAfterChallenge(Socket socket) throws Exception {
        byte[] got = RawNode.readUntilClosed(socket.getInputStream());
        assertThat(got[4]).as("the first record's type").isEqualTo((byte) LinkRecords.CHALLENGE);
        return RawNode.refusal(Arrays.copyOfRange(got, 4 + RawNode.int32(got, 0), got.length));
    }

    /** Waits (bounded) until the aggregator has a round open: an attack then meets a round in progress. */
    static void awaitOpenRound(Vertx vertx, Engine engine) throws Exception {
        CompletableFuture<Void> open = new CompletableFuture<>();
        vertx.setPeriodic(5, id -> {
            if (engine.aggregator.load().openRounds() > 0) {
                vertx.cancelTimer(id);
                open.complete(null);
            }
        });
        Await.get(open);
    }

    static void assertRoundOf(Engine engine, long round, List<CompletableFuture<Worker.Aggregate>> results,
            float[] expected) throws Exception {
        for (CompletableFuture<Worker.Aggregate> r : results) {
            Worker.Aggregate a = Await.get(r);
            assertThat(a.included()).as(a.reason()).isTrue();
            Engine.assertSameAggregate(a.values(), expected);
        }
        JsonObject record = Await.get(engine.recordOf(round));
        assertThat(record.getString("status")).isEqualTo("completed");
        assertThat(record.getJsonObject("excluded", new JsonObject())).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------------
    // The link is opened only where worker nodes can use it, and only with a secret

    @Test
    void aServerWithoutClusterOpensNoDataLinkAndAClusteredOneNeedsASecret() throws Exception {
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "--add-modules=jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "server", "--job", "nolink", "--workers", "2", "--dim", "100", "--memory-budget", "4",
                "--round-log", dir.resolve("rounds.jsonl").toString(), "--port", "0");
        Process process = new ProcessBuilder(command).redirectError(dir.resolve("server.err").toFile()).start();
        List<String> lines = new ArrayList<>();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            // The server prints its ready lines, the dashboard's last; then it runs until stopped.
            for (String line = out.readLine(); line != null && lines.size() < 10; line = out.readLine()) {
                lines.add(line);
                if (line.startsWith("dashboard at")) {
                    break;
                }
            }
        } finally {
            process.destroy();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(lines).as(Files.readString(dir.resolve("server.err"))).anyMatch(l -> l.startsWith("aggregator ready"))
                .anyMatch(l -> l.startsWith("dashboard at")).noneMatch(l -> l.contains("data link"));

        // Clustered, a server refuses to start without a job secret, or with one too short, before it joins.
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"server", "--cluster", "--job", "nosecret", "--dim", "100"},
                new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("--cluster needs the job secret", "--cluster-secret FILE");
        Path shortSecret = Files.writeString(dir.resolve("short.txt"), "tooshort\n");
        err.getBuffer().setLength(0);
        code = Main.run(new String[] {"server", "--cluster", "--cluster-secret", shortSecret.toString(), "--dim", "100"},
                new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("at least " + JobSecret.MIN_CHARS + " characters");
    }

    // ---------------------------------------------------------------------------------------------------
    // Before authentication: allocations, connections and time are bounded

    @Test
    void peersDeclaringHugeRecordsBeforeHelloCannotFillASmallHeap() throws Exception {
        int connections = 250;
        ForkedMain run = ForkedMain.run(dir, Duration.ofMinutes(3),
                List.of("-Xmx96m", "-XX:MaxDirectMemorySize=128m", "--add-modules=jdk.incubator.vector"),
                LinkFloodMain.class, dir.toString(), Integer.toString(connections));
        String report = run.report();
        assertThat(run.stderr()).as("the server never ran out of heap").doesNotContain("OutOfMemoryError");
        Map<String, String> v = run.values();
        assertThat(Long.parseLong(v.get("declared_bytes"))).as("the attack declares more than the heap")
                .isGreaterThan(2 * Long.parseLong(v.get("heap_max_bytes")));
        assertThat(Integer.parseInt(v.get("refused"))).isEqualTo(connections);
        assertThat(v.get("first_reason")).as(report).matches("(400 record length .* is outside \\[5, "
                + LinkRecords.MAX_UNAUTHENTICATED_RECORD + "\\]|429 .*link.max_unauthenticated.*)");
        assertThat(v.get("honest_round")).isEqualTo("completed");
        assertThat(Long.parseLong(v.get("heap_growth_bytes"))).as("heap back to baseline").isLessThan(16L << 20);
    }

    @Test
    void silentAndStalledPeersAreClosedAtTheAuthTimeoutWithTheReason(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 1));
        try (Engine engine = Engine.start(vertx, job)) {
            LinkServer server = deployLink(vertx, job, new LinkServer.Limits(64, 8, 300));
            long started = System.nanoTime();
            try (Socket silent = RawNode.open(server.actualPort()); Socket stalled = RawNode.open(server.actualPort())) {
                stalled.getOutputStream().write(RawNode.hello(LinkRecords.VERSION, job.job(), "cd".repeat(32)));
                assertThat(RawNode.refusal(RawNode.readUntilClosed(silent.getInputStream())))
                        .isEqualTo(Codes.TIMEOUT + " not authenticated within 300 ms (link.auth_timeout_ms)");
                assertThat(refusalAfterChallenge(stalled)).startsWith(Codes.TIMEOUT + " ");
            }
            assertThat(System.nanoTime() - started).as("closed well before the test's own timeouts")
                    .isLessThan(TimeUnit.SECONDS.toNanos(RawNode.TIMEOUT_MS / 1000));
            // An honest node is not affected.
            try (RawNode node = RawNode.connect(server.actualPort(), job.job())) {
                assertThat(node.welcome.getString("relay")).isNotBlank();
            }
        }
    }

    @Test
    void connectionsBeyondTheLimitsAreRefusedAndTheirPlacesFreedOnClose(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 1));
        try (Engine engine = Engine.start(vertx, job)) {
            LinkServer server = deployLink(vertx, job, new LinkServer.Limits(3, 2, 30_000));
            int port = server.actualPort();
            Socket silent1 = RawNode.open(port);
            try (Socket silent2 = RawNode.open(port); Socket third = RawNode.open(port)) {
                assertThat(RawNode.refusal(RawNode.readUntilClosed(third.getInputStream()))).isEqualTo(Codes.TOO_MANY
                        + " 2 connections are authenticating (link.max_unauthenticated)");
                silent1.close();
                // The server notices the close asynchronously: an honest node gets in within a few tries.
                RawNode a = connectWithin(port, job, 50);
                try (a; RawNode b = connectWithin(port, job, 50); Socket fourth = RawNode.open(port)) {
                    assertThat(RawNode.refusal(RawNode.readUntilClosed(fourth.getInputStream()))).isEqualTo(
                            Codes.TOO_MANY + " the data link has its 3 connections (link.max_connections)");
                }
            }
        }
    }

    /** Connects an honest raw node, retrying (bounded) while the server still counts a just-closed peer. */
    static RawNode connectWithin(int port, JobConfig job, int tries) throws Exception {
        AssertionError last = null;
        for (int i = 0; i < tries; i++) {
            try {
                return RawNode.connect(port, job.job());
            } catch (AssertionError refused) {
                last = refused;
                Thread.onSpinWait();
            }
        }
        throw last;
    }

    // ---------------------------------------------------------------------------------------------------
    // Authentication with the job secret

    @Test
    void aNodeWithoutTheSecretIsRefusedWithTheReasonAndAReplayedProofFails(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 2));
        try (Engine engine = Engine.start(vertx, job)) {
            int port = deployLink(vertx, job, LinkServer.Limits.defaults()).actualPort();
            assertThatThrownBy(() -> await(LinkClient.connect(vertx, job.job(),
                    JobSecret.of("a-wrong-secret-0123456789"))))
                    .hasMessageContaining("refused this node: 401 authentication failed");

            // A proof seen on one connection is worth nothing on the next: the server's nonce is new.
            String nodeNonce = "ef".repeat(32);
            String seenProof;
            try (RawNode eavesdropped = RawNode.connect(port, job.job())) {
                assertThat(eavesdropped.welcome.getString("relay")).isNotBlank();
            }
            try (Socket first = RawNode.open(port)) {
                first.getOutputStream().write(RawNode.hello(LinkRecords.VERSION, job.job(), nodeNonce));
                java.io.DataInputStream in = new java.io.DataInputStream(first.getInputStream());
                byte[] challenge = in.readNBytes(RawNode.int32(in.readNBytes(4), 0));  // type, seq, JSON
                assertThat(challenge[0]).isEqualTo((byte) LinkRecords.CHALLENGE);
                String serverNonce = new JsonObject(new String(challenge, 5, challenge.length - 5,
                        StandardCharsets.UTF_8)).getString("nonce");
                seenProof = RawNode.hmac(RawNode.SECRET, "flagagg-link-node", job.job(), nodeNonce, serverNonce);
            }
            try (Socket replay = RawNode.open(port)) {
                replay.getOutputStream().write(RawNode.concat(RawNode.hello(LinkRecords.VERSION, job.job(), nodeNonce),
                        RawNode.auth(seenProof)));
                assertThat(refusalAfterChallenge(replay)).isEqualTo(Codes.UNAUTHORIZED
                        + " authentication failed: the node's proof does not match this job's secret (cluster.secret)");
            }

            // Honest nodes' workers still aggregate.
            LinkClient node = await(LinkClient.connect(vertx, job.job(), SECRET));
            float[][] g = Engine.gradients(2, (int) job.dim(), 11);
            List<CompletableFuture<Worker.Aggregate>> results = List.of(
                    engine.client("w0", 0, node).exchange(0, g[0]), engine.client("w1", 1, node).exchange(0, g[1]));
            assertRoundOf(engine, 0, results, engine.offline(g));
            await(node.close());
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Each connection acts only for the slots that joined through it

    @Test
    void framesNamingAnotherWorkersSlotAreRefusedAndExcludeNobody(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 2));
        try (Engine engine = Engine.start(vertx, job);
                RawNode attacker = RawNode.connect(deployLink(vertx, job, LinkServer.Limits.defaults()).actualPort(),
                        job.job())) {
            // w1 is a worker of this JVM, as the WebSocket gateway's token-authenticated workers are.
            Engine.Client w0 = engine.client("w0", 0);
            Engine.Client w1 = engine.client("w1", 1);
            float[][] g = Engine.gradients(2, (int) job.dim(), 21);
            CompletableFuture<Worker.Aggregate> a0 = w0.exchange(0, g[0]);
            awaitOpenRound(vertx, engine);
            // Before the fix each of these excluded w1 from the round: its frame was taken as w1's.
            int n = job.chunkCoords();
            float[] forged = new float[n];
            Arrays.fill(forged, 250_000f);
            byte[] valid = ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 0, 1, 0, 0, forged, 0, n);
            byte[] truncated = Arrays.copyOf(valid, valid.length - 4);
            float[] nan = Arrays.copyOf(g[1], n);
            nan[3] = Float.NaN;
            String notHere = Codes.FORBIDDEN + " slot 1 did not join through this data link; its frames are refused here";
            assertThat(sendFrame(attacker, 1, truncated)).startsWith(Codes.BAD_REQUEST + " malformed frame");
            assertThat(sendFrame(attacker, 2, ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 0, 1, 0, 0, nan, 0, n)))
                    .isEqualTo(notHere);
            assertThat(sendFrame(attacker, 3, valid)).isEqualTo(notHere);

            List<CompletableFuture<Worker.Aggregate>> results = List.of(a0, w1.exchange(0, g[1]));
            assertRoundOf(engine, 0, results, engine.offline(g));
        }
    }

    @Test
    void aFullGradientForAnAbsentWorkersSlotIsNotCounted(Vertx vertx) throws Exception {
        JobConfig job = job(new JsonObject().put("workers", 3).put("quorum", 2)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 100).put("max_ms", 1500)));
        // The deadline also waits for w0 and w1, however long a loaded machine makes them take.
        try (Engine engine = Engine.start(vertx, job, Deadlines.waitingFor(2));
                RawNode attacker = RawNode.connect(deployLink(vertx, job, LinkServer.Limits.defaults()).actualPort(),
                        job.job())) {
            Engine.Client w0 = engine.client("w0", 0);
            Engine.Client w1 = engine.client("w1", 1);
            engine.client("w2", 2);  // joined, then absent
            float[][] g = Engine.gradients(3, (int) job.dim(), 31);
            float[] huge = new float[(int) job.dim()];
            Arrays.fill(huge, 250_000f);
            for (int k = 0; k < job.chunks(); k++) {
                int offset = k * job.chunkCoords();
                int count = Math.min(job.chunkCoords(), huge.length - offset);
                assertThat(sendFrame(attacker, k, ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 0, 2, k, offset, huge,
                        offset, count))).startsWith(Codes.FORBIDDEN + " slot 2 did not join through this data link");
            }
            List<CompletableFuture<Worker.Aggregate>> results = List.of(w0.exchange(0, g[0]), w1.exchange(0, g[1]));
            float[] expected = engine.offline(new float[][] {g[0], g[1]});
            assertRoundOf(engine, 0, results, expected);
            assertThat(Await.get(engine.recordOf(0)).getJsonArray("participants")).containsExactly("w0", "w1");
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Joining over the clustered event bus

    @Test
    void aClusterMemberWithoutTheSecretCannotJoinNorSendForAnotherSlot() throws Exception {
        JsonObject cluster = new JsonObject().put("name", "link-attack-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime()).put("host", "127.0.0.1").put("port", 0);
        Vertx aggregatorJvm = await(Cluster.start(ClusterConfig.fromJson(cluster.copy()), true).compose(node -> {
            cluster.put("members", new JsonArray().add(node.member()));
            return io.vertx.core.Future.succeededFuture(node.vertx());
        }));
        Vertx otherJvm = null;
        try {
            otherJvm = await(Cluster.start(ClusterConfig.fromJson(cluster), true)).vertx();
            JobConfig job = job(new JsonObject().put("workers", 2));
            Addresses addresses = new Addresses(job.job());
            try (Engine engine = Engine.start(aggregatorJvm, job, SECRET)) {
                Vertx other = otherJvm;
                FrameCodec.register(other.eventBus());
                Context context = other.getOrCreateContext();
                JsonObject join = new JsonObject().put("worker", "w1").put("dim", job.dim()).put("slot", 1);

                // No proof, a wrong secret's proof, and a replayed valid join are refused with their reason.
                assertThat(refusal(other.eventBus().request(addresses.join(), join.copy())))
                        .startsWith(Codes.UNAUTHORIZED + " a join from another JVM must prove the job secret");
                assertThat(refusal(Await.on(context, () -> Worker.join(other, job.job(), "w1", job.dim(), 1, null,
                        JobSecret.of("a-wrong-secret-0123456789"))))).isEqualTo(Codes.UNAUTHORIZED
                        + " authentication failed: the join's proof does not match this job's secret (cluster.secret)");
                String nonce = await(other.eventBus().<JsonObject>request(addresses.join(),
                        new JsonObject().put("challenge", true))).body().getString("nonce");
                JsonObject proven = join.copy().put("nonce", nonce).put("proof", SECRET.mac(Addresses.JOIN_PROOF,
                        job.job(), "w1", Long.toString(job.dim()), "1", "", nonce));
                String firstToken = await(other.eventBus().<JsonObject>request(addresses.join(), proven.copy()))
                        .body().getString(Addresses.TOKEN_HEADER);
                assertThat(firstToken).hasSize(64);
                assertThat(refusal(other.eventBus().request(addresses.join(), proven.copy())))
                        .startsWith(Codes.UNAUTHORIZED + " the join's nonce was not issued by this aggregator");

                // Honest workers in the other JVM join with the secret (w1 again: its first token is void now).
                Worker w0 = Await.get(Await.on(context, () -> Worker.join(other, job.job(), "w0", job.dim(),
                        0, null, SECRET)));
                Worker w1 = Await.get(Await.on(context, () -> Worker.join(other, job.job(), "w1", job.dim(),
                        1, null, SECRET)));
                assertThat(w0.session().getString(Addresses.TOKEN_HEADER)).isNotEqualTo(firstToken);

                // Chunks for w0's slot without its token, with w1's old or current token, or malformed: refused,
                // and nobody is excluded.
                float[][] g = Engine.gradients(2, (int) job.dim(), 41);
                CompletableFuture<Worker.Aggregate> a0 = Await.on(context, () -> w0.exchange(0, g[0]));
                awaitOpenRound(aggregatorJvm, engine);
                int n = job.chunkCoords();
                float[] forged = new float[n];
                Arrays.fill(forged, 250_000f);
                Buffer forW0 = Buffer.buffer(ChunkFrame.toBytes(ChunkFrame.KIND_GRADIENT, 0, 0, 0, 0, forged, 0, n));
                DeliveryOptions binary = new DeliveryOptions().setCodecName(FrameCodec.NAME);
                String notGranted = Codes.FORBIDDEN + " slot 0 was not granted to this sender: its join's chunk_token is "
                        + "missing or wrong";
                assertThat(refusal(other.eventBus().request(addresses.chunks(), forW0, binary))).isEqualTo(notGranted);
                for (String token : List.of(firstToken, w1.session().getString(Addresses.TOKEN_HEADER))) {
                    assertThat(refusal(other.eventBus().request(addresses.chunks(), forW0, new DeliveryOptions(binary)
                            .addHeader(Addresses.TOKEN_HEADER, token)))).isEqualTo(notGranted);
                }
                Buffer truncated = forW0.getBuffer(0, forW0.length() - 4);
                assertThat(refusal(other.eventBus().request(addresses.chunks(), truncated, binary)))
                        .startsWith(Codes.BAD_REQUEST + " malformed frame");

                CompletableFuture<Worker.Aggregate> a1 = Await.on(context, () -> w1.exchange(0, g[1]));
                assertRoundOf(engine, 0, List.of(a0, a1), engine.offline(g));
            }
        } finally {
            if (otherJvm != null) {
                await(otherJvm.close());
            }
            await(aggregatorJvm.close());
        }
    }
}
