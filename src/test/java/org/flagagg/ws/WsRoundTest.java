package org.flagagg.ws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.junit5.VertxExtension;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.flagagg.Await;
import org.flagagg.LogCapture;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Deadlines;
import org.flagagg.engine.Engine;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.worker.FlagaggException;
import org.flagagg.worker.Worker;
import org.flagagg.worker.WsTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Rounds with WebSocket workers: against the offline rule, over TLS, with a slow reader and a disconnect. */
@ExtendWith(VertxExtension.class)
class WsRoundTest {

    @TempDir
    Path dir;

    static void assertSameAggregate(float[] actual, float[] expected) {
        Engine.assertSameAggregate(actual, expected);
    }

    @Test
    void aRoundMixingBusAndWebSocketWorkersMatchesTheOfflineRule(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 5)
                .put("rule", new JsonObject().put("name", "flag").put("f", 1)), dir);
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            List<WsServer.Client> clients = new ArrayList<>();
            clients.add(server.busClient(0));
            clients.add(server.busClient(1));
            for (int w = 2; w < 5; w++) {
                clients.add(server.wsClient(w));
                assertThat(clients.get(w).worker().slot()).isEqualTo(w);
            }
            for (long round = 0; round < 2; round++) {
                float[][] g = WsServer.gradients(5, (int) job.dim(), 20 + round);
                List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
                for (int w = 0; w < 5; w++) {
                    results.add(clients.get(w).exchange(round, g[w]));
                }
                float[] expected = server.offline(g);
                for (CompletableFuture<Worker.Aggregate> result : results) {
                    Worker.Aggregate a = Await.get(result);
                    assertThat(a.round()).isEqualTo(round);
                    assertThat(a.included()).isTrue();
                    assertSameAggregate(a.values(), expected);
                }
                JsonObject record = Await.get(server.recordOf(round));
                assertThat(record.getString("status")).isEqualTo("completed");
                assertThat(record.getJsonArray("participants")).containsExactlyInAnyOrder("w0", "w1", "w2", "w3", "w4");
                Await.get(server.releasedOf(round));
            }
            assertThat(server.gateway.stats().getInteger("max_unacked_results")).isBetween(1, job.credits());
            assertThat(server.store.stats().bytesInMemory()).isZero();
        }
    }

    /** A worker in a Python process using client/python, as a training script would. */
    private static final String PYTHON_WORKER = String.join("\n",
            "import sys, numpy as np, flagagg",
            "url, token, slot, round_id, gradient, out = sys.argv[1:7]",
            "with flagagg.Client(url, token, slot=int(slot)) as c:",
            "    c.exchange(int(round_id), np.fromfile(gradient, dtype='<f4')).astype('<f4').tofile(out)",
            "    print('included' if c.last_result['included'] else 'not included')");

    @Test
    void aRoundOfBusJavaWebSocketAndPythonWorkersMatchesTheOfflineRule(Vertx vertx) throws Exception {
        Path client = WsServer.pythonClient();

        JobConfig job = WsServer.job(new JsonObject().put("workers", 4)
                .put("rule", new JsonObject().put("name", "flag")), dir);
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            float[][] g = WsServer.gradients(4, (int) job.dim(), 40);
            WsServer.Client bus = server.busClient(0);
            WsServer.Client javaWs = server.wsClient(1);
            List<Process> pythons = new ArrayList<>();
            for (int w = 2; w < 4; w++) {
                Path gradient = dir.resolve("g" + w + ".f32");
                java.nio.ByteBuffer bytes = ByteBuffer.allocate(4 * g[w].length)
                        .order(ByteOrder.LITTLE_ENDIAN);
                for (float v : g[w]) {
                    bytes.putFloat(v);
                }
                Files.write(gradient, bytes.array());
                ProcessBuilder python = new ProcessBuilder("python3", "-c", PYTHON_WORKER, server.url,
                        server.token(w), Integer.toString(w), "0", gradient.toString(),
                        dir.resolve("a" + w + ".f32").toString()).redirectErrorStream(true)
                        .redirectOutput(dir.resolve("py" + w + ".log").toFile());
                python.environment().put("PYTHONPATH", client.toString());
                pythons.add(python.start());
            }
            List<CompletableFuture<Worker.Aggregate>> results = List.of(bus.exchange(0, g[0]), javaWs.exchange(0, g[1]));
            float[] expected = server.offline(g);
            for (CompletableFuture<Worker.Aggregate> result : results) {
                assertSameAggregate(Await.get(result).values(), expected);
            }
            for (int w = 2; w < 4; w++) {
                Process python = pythons.get(w - 2);
                assertThat(python.waitFor(60, TimeUnit.SECONDS)).isTrue();
                String log = Files.readString(dir.resolve("py" + w + ".log"));
                assertThat(python.exitValue()).as(log).isZero();
                assertThat(log).contains("included").doesNotContain("not included");
                java.nio.FloatBuffer aggregate = ByteBuffer.wrap(Files.readAllBytes(
                        dir.resolve("a" + w + ".f32"))).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                float[] values = new float[aggregate.remaining()];
                aggregate.get(values);
                assertSameAggregate(values, expected);
            }
            JsonObject record = Await.get(server.recordOf(0));
            assertThat(record.getJsonArray("participants")).containsExactlyInAnyOrder("w0", "w1", "w2", "w3");
        }
    }

    @Test
    void wssWithATestKeyStore(Vertx vertx) throws Exception {
        Path keystore = dir.resolve("server.p12");
        Path cert = dir.resolve("server.pem");
        keytool("-genkeypair", "-alias", "flagagg", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", "test-secret", "-keypass", "test-secret");
        keytool("-exportcert", "-rfc", "-alias", "flagagg", "-keystore", keystore.toString(), "-storepass",
                "test-secret", "-file", cert.toString());
        JobConfig job = WsServer.job(new JsonObject().put("workers", 2).put("rule", new JsonObject().put("name", "mean")), dir);
        GatewayConfig tls = GatewayConfig.defaults().withTls(keystore, "test-secret");
        try (WsServer server = WsServer.start(vertx, job, tls)) {
            assertThat(server.url).startsWith("wss://127.0.0.1:");
            WsServer.Client bus = server.busClient(0);
            WsServer.Client secure = server.wsClient(1, new WsTransport.Options().setSlot(1)
                    .setTrust(new PemTrustOptions().addCertPath(cert.toString())));
            float[][] g = WsServer.gradients(2, (int) job.dim(), 5);
            CompletableFuture<Worker.Aggregate> a0 = bus.exchange(0, g[0]);
            CompletableFuture<Worker.Aggregate> a1 = secure.exchange(0, g[1]);
            float[] expected = server.offline(g);
            assertSameAggregate(Await.get(a0).values(), expected);
            assertSameAggregate(Await.get(a1).values(), expected);
            // Plain ws:// to the TLS port does not get a WebSocket.
            String plain = server.url.replace("wss://", "ws://");
            assertThatThrownBy(() -> RawWs.connect(vertx, plain, server.token(0), null)).isInstanceOf(Exception.class);
        }
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor()).as("keytool " + String.join(" ", args) + ": " + output).isZero();
    }

    /** Issue 14 item 3 over WebSockets (the bus side is in hostile.RoundAttackTest). */
    @Test
    void aReconnectedWorkerFollowsTheServersRoundAndARoundThatIsOverFailsAtOnce(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 2).put("rule", new JsonObject().put("name", "mean")),
                dir);
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            WsServer.Client w0 = server.wsClient(0);
            WsServer.Client w1 = server.wsClient(1);
            for (long round = 0; round < 2; round++) {
                float[][] g = WsServer.gradients(2, (int) job.dim(), 20 + round);
                List<CompletableFuture<Worker.Aggregate>> results = List.of(w0.exchange(round, g[0]),
                        w1.exchange(round, g[1]));
                for (CompletableFuture<Worker.Aggregate> result : results) {
                    Engine.assertSameAggregate(Await.get(result).values(), server.offline(g));
                }
            }
            Await.get(Await.on(w1.context(), () -> w1.worker().close()));
            WsServer.Client again = server.wsClient(1);
            assertThat(again.worker().session().getLong("round")).isEqualTo(2);
            assertThat(again.worker().nextRound()).isEqualTo(2);

            float[][] g = WsServer.gradients(2, (int) job.dim(), 30);
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> Await.get(again.exchange(0, g[1]))).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(FlagaggException.class)
                    .satisfies(e -> {
                        assertThat(((FlagaggException) e).code()).isEqualTo(410);
                        assertThat(((FlagaggException) e).reason()).contains("the current round is 2");
                    });
            assertThat((System.nanoTime() - t0) / 1_000_000).as("refused at once").isLessThan(5_000);
            assertThatThrownBy(() -> Await.get(again.exchange(7, g[1]))).cause().isInstanceOf(FlagaggException.class)
                    .satisfies(e -> assertThat(((FlagaggException) e).code()).isEqualTo(425));

            List<CompletableFuture<Worker.Aggregate>> results = new ArrayList<>();
            for (WsServer.Client c : List.of(w0, again)) {
                float[] gradient = g[c.worker().slot()];
                results.add(Await.on(c.context(), () -> c.worker().exchange(gradient)));
            }
            for (CompletableFuture<Worker.Aggregate> result : results) {
                Worker.Aggregate a = Await.get(result);
                assertThat(a.round()).isEqualTo(2);
                Engine.assertSameAggregate(a.values(), server.offline(g));
            }
            Await.get(server.releasedOf(2));
            assertThat(server.store.stats().chunks()).isZero();
        }
    }

    @Test
    void aClientThatStopsAcknowledgingIsDroppedWithBoundedServerMemory(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 1).put("credits", 4).put("result_timeout_ms", 1000)
                .put("rule", new JsonObject().put("name", "mean")), dir);
        assertThat(job.chunks()).isGreaterThan(job.credits());
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            WsServer.Client slow = server.wsClient(0);
            float[] gradient = WsServer.gradients(1, (int) job.dim(), 1)[0];
            AtomicInteger delivered = new AtomicInteger();
            // A reader that never finishes with a chunk: the client never acknowledges one.
            CompletableFuture<Worker.Aggregate> result = Await.on(slow.context(), () -> slow.worker().exchange(0,
                    (offset, count, dst) -> System.arraycopy(gradient, (int) offset, dst, 0, count),
                    (offset, values, count) -> {
                        delivered.incrementAndGet();
                        return Promise.<Void>promise().future();
                    }, Future.succeededFuture()));
            assertThatThrownBy(() -> Await.get(result)).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(FlagaggException.class)
                    .satisfies(e -> {
                        // The round's whole stream (408) or one chunk (4408) ran out of result_timeout_ms first.
                        assertThat(((FlagaggException) e).code()).isIn(408, 4408);
                        assertThat(((FlagaggException) e).reason()).contains("not acknowledged within 1000 ms");
                    });
            // The server had exactly `credits` aggregate frames out to it, never more.
            assertThat(delivered.get()).isEqualTo(job.credits());
            assertThat(server.gateway.stats().getInteger("max_unacked_results")).isEqualTo(job.credits());
            // The round's chunks are freed even though one reader never finished.
            Await.get(server.releasedOf(0));
            assertThat(server.store.stats().bytesInMemory()).isZero();
            assertThat(server.gateway.stats().getJsonObject("closes").getLong("4408")).isEqualTo(1L);
            assertThat(server.gateway.stats().getInteger("connections")).isZero();
        }
    }

    @Test
    void aClientThatDisconnectsMidRoundIsAStragglerAndTheRoundClosesOnQuorum(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 3).put("quorum", 2)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 500).put("max_ms", 2000))
                .put("rule", new JsonObject().put("name", "mean")), dir);
        // The deadline also waits for the two who stay, however long a loaded machine makes them take.
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults(), Deadlines.waitingFor(2))) {
            WsServer.Client c0 = server.wsClient(0);
            WsServer.Client c1 = server.wsClient(1);
            RawWs leaver = server.raw(server.token(2));
            JsonObject session = leaver.hello(job.dim(), 2);
            float[][] g = WsServer.gradients(3, (int) job.dim(), 9);
            int coords = session.getInteger("chunk_coords");
            for (int chunk = 0; chunk < 2; chunk++) {
                leaver.send(ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 2, chunk, (long) chunk * coords, g[2],
                        chunk * coords, coords));
                assertThat(leaver.next().getString("type")).isEqualTo("ack");
            }
            leaver.close();
            CompletableFuture<Worker.Aggregate> a0 = c0.exchange(0, g[0]);
            CompletableFuture<Worker.Aggregate> a1 = c1.exchange(0, g[1]);
            float[] expected = server.offline(WsServer.rows(g, 0, 1));
            assertSameAggregate(Await.get(a0).values(), expected);
            assertSameAggregate(Await.get(a1).values(), expected);
            JsonObject record = Await.get(server.recordOf(0));
            assertThat(record.getString("status")).isEqualTo("completed");
            assertThat(record.getString("trigger")).startsWith("deadline");
            assertThat(record.getJsonArray("participants")).containsExactlyInAnyOrder("w0", "w1");
            assertThat(record.getJsonArray("stragglers").getJsonObject(0).getString("worker")).isEqualTo("w2");
            Await.get(server.releasedOf(0));
            assertThat(server.store.stats().bytesInMemory()).isZero();
            // The leaver's session is gone: its consumer unregistered, its token free again.
            assertThat(server.gateway.stats().getInteger("connections")).isEqualTo(2);
            assertThat(server.gateway.stats().getInteger("consumers")).isEqualTo(2);
            RawWs back = server.raw(server.token(2));
            assertThat(back.hello(job.dim(), 2).getInteger("slot")).isEqualTo(2);
            back.close();
        }
    }

    @Test
    void aWorkerThatDisconnectsIsLoggedOnceNotAtEveryRoundAfter(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 3).put("quorum", 2)
                .put("deadline", new JsonObject().put("mode", "fixed").put("min_ms", 300).put("max_ms", 300))
                .put("rule", new JsonObject().put("name", "mean")), dir);
        // Each round's deadline also waits for the two who stay, however long a loaded machine makes them take.
        try (LogCapture log = new LogCapture("org.flagagg");
                WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults(), Deadlines.waitingFor(2))) {
            WsServer.Client c0 = server.wsClient(0);
            WsServer.Client c1 = server.wsClient(1);
            RawWs leaver = server.raw(server.token(2));
            leaver.hello(job.dim(), 2);
            leaver.close();
            for (long round = 0; round < 3; round++) {
                float[][] g = WsServer.gradients(3, (int) job.dim(), 40 + round);
                CompletableFuture<Worker.Aggregate> a0 = c0.exchange(round, g[0]);
                CompletableFuture<Worker.Aggregate> a1 = c1.exchange(round, g[1]);
                assertThat(Await.get(a0).round()).isEqualTo(round);
                assertThat(Await.get(a1).round()).isEqualTo(round);
            }
            // Every round after the disconnect offered w2 its results; one line said it left, one that it takes none.
            assertThat(log.messages(Level.INFO, "'w2' (slot 2) disconnected without bye (close code 1000)")).hasSize(1);
            assertThat(log.messages(Level.WARN, "'w2'")).as("WARN lines about w2")
                    .singleElement().asString().contains("did not take its results");
            assertThat(log.messages(Level.WARN, "stopped streaming")).isEmpty();
        }
    }
}
