package org.flagagg.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.flagagg.Await;
import org.flagagg.ForkedMain;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Engine;
import org.flagagg.worker.Worker;
import org.flagagg.ws.RawWs;
import org.flagagg.ws.WsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile peers of the WebSocket gateway (issue 14, items 1 and 7): each attack, the attacker's refusal, and
 * honest workers' rounds going on with the right aggregate.
 */
@ExtendWith(VertxExtension.class)
class WsAttackTest {

    @TempDir
    Path dir;

    private JobConfig job() {
        return WsServer.job(new JsonObject().put("workers", 2).put("rule", new JsonObject().put("name", "mean")), dir);
    }

    private static int port(WsServer server) {
        return Integer.parseInt(server.url.replaceAll(".*:(\\d+)/.*", "$1"));
    }

    /** One round of two honest WebSocket workers; asserts both are included with the offline aggregate. */
    private static void honestRound(WsServer server, WsServer.Client[] honest, long round) throws Exception {
        float[][] g = WsServer.gradients(2, (int) server.job.dim(), round + 1);
        float[] expected = server.offline(g);
        List<CompletableFuture<Worker.Aggregate>> results = List.of(honest[0].exchange(round, g[0]),
                honest[1].exchange(round, g[1]));
        for (CompletableFuture<Worker.Aggregate> result : results) {
            Worker.Aggregate a = Await.get(result);
            assertThat(a.included()).as(a.reason()).isTrue();
            Engine.assertSameAggregate(a.values(), expected);
        }
    }

    // -------------------------------------------------------------------------------------------------------
    // Item 1: the ping flood

    /**
     * Before: the upgrade succeeded without a token and every ping's pong queued until the heap ran out
     * (1M pings, OutOfMemoryError under -Xmx256m). Now: 401 before the upgrade and the connection dropped;
     * a token holder that pings and never reads is dropped after ws.write_stall_ms; honest rounds go on and
     * the heap comes back to where it was.
     */
    @Test
    void anUnauthenticatedPingFloodGets401AndANonReaderIsDroppedInA128MHeapWhileHonestRoundsComplete() throws Exception {
        ForkedMain run = ForkedMain.run(dir, Duration.ofMinutes(3),
                List.of("-Xmx128m", "--add-modules=jdk.incubator.vector"), WsFloodMain.class, dir.toString());
        String report = run.report();
        Map<String, String> v = run.values();

        assertThat(v.get("anonymous_status")).as(report).startsWith("HTTP/1.1 401");
        assertThat(v.get("anonymous_cut")).as(report).isEqualTo("true");
        assertThat(v.get("non_reader_status")).as(report).startsWith("HTTP/1.1 101");
        assertThat(v.get("non_reader_cut")).as(report).isEqualTo("true");
        assertThat(Long.parseLong(v.get("non_reader_ms"))).as(report).isLessThan(WsFloodMain.MAX_FLOOD_MS);
        assertThat(Long.parseLong(v.get("closes_4408"))).as(report).isEqualTo(1);
        assertThat(Long.parseLong(v.get("unauthorized"))).as(report).isEqualTo(1);
        assertThat(Integer.parseInt(v.get("connections"))).as("the two honest sessions are left\n" + report).isEqualTo(2);
        assertThat(Long.parseLong(v.get("rounds_during"))).as(report).isPositive();
        assertThat(Long.parseLong(v.get("heap_after"))).as("heap after GC back near its level before the attack\n" + report)
                .isLessThan(Long.parseLong(v.get("heap_before")) + (16L << 20));
    }

    /** Before: pings were free. Now each takes a control-rate token: a flood at the default rate gets 4429. */
    @Test
    void aPingFloodAtTheDefaultRateIsClosedWith4429AndTheOthersGoOn(Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(), GatewayConfig.defaults())) {
            WsServer.Client[] honest = {server.wsClient(0), server.wsClient(1)};
            RawWs attacker = server.raw(server.token(2));
            for (int i = 0; i < 5_000; i++) {
                attacker.ws.writePing(Buffer.buffer(new byte[125]));
            }
            RawWs.Close closed = attacker.awaitClose();
            assertThat(closed.code()).isEqualTo(4429);
            assertThat(closed.reason()).contains("pings");
            honestRound(server, honest, 0);
        }
    }

    // -------------------------------------------------------------------------------------------------------
    // Item 7: silent sockets, connections per address, frames over the limit, numbers in the hello

    /** The status line of GET path from this local address (HTTP/1.1, Connection: close). */
    private static String get(int port, String localAddress, String path) throws IOException {
        try (Socket s = connect(port, localAddress)) {
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String head = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            return head;
        }
    }

    private static Socket connect(int port, String localAddress) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout((int) TimeUnit.SECONDS.toMillis(Await.WAIT_S));
        s.bind(new InetSocketAddress(localAddress, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        return s;
    }

    /** True once the server closed this socket (end of stream or reset); blocks up to its timeout. */
    private static boolean closedByServer(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            return in.read() < 0;
        } catch (SocketException reset) {
            return true;
        }
    }

    /**
     * Before: 1100 silent sockets at an fd limit of 1024 stopped /health and new workers. Now a socket that
     * sends no request within ws.handshake_timeout_ms is closed, and so is a WebSocket that sends no hello.
     */
    @Test
    void aSilentSocketAndAWebSocketWithoutHelloAreClosedAfterTheHandshakeTimeout(Vertx vertx) throws Exception {
        GatewayConfig config = GatewayConfig.fromJson(new JsonObject().put("handshake_timeout_ms", 1000));
        try (WsServer server = WsServer.start(vertx, job(), config)) {
            try (Socket silent = connect(port(server), "127.0.0.1")) {
                assertThat(closedByServer(silent)).isTrue();
            }
            RawWs noHello = server.raw(server.token(2));
            RawWs.Close closed = noHello.awaitClose();
            assertThat(closed.code()).isEqualTo(4408);
            assertThat(closed.reason()).contains("no hello within 1000 ms");
            assertThat(server.gateway.stats().getLong("handshake_timeouts")).isEqualTo(1);
            assertThat(get(port(server), "127.0.0.1", "/health")).isEqualTo("HTTP/1.1 200");
            WsServer.Client[] honest = {server.wsClient(0), server.wsClient(1)};
            honestRound(server, honest, 0);
        }
    }

    /**
     * Connections beyond ws.max_connections_per_address from one address, or ws.max_connections in all, are
     * closed as they are accepted; other addresses and the workers already connected are unaffected.
     */
    @Test
    void connectionsPerAddressAndInAllAreBounded(Vertx vertx) throws Exception {
        GatewayConfig config = GatewayConfig.fromJson(new JsonObject().put("max_connections_per_address", 4)
                .put("max_connections", 10));
        try (WsServer server = WsServer.start(vertx, job(), config)) {
            int port = port(server);
            WsServer.Client[] honest = {server.wsClient(0), server.wsClient(1)};
            List<Socket> kept = new ArrayList<>();
            try {
                // From 127.0.0.2: 4 kept, the 5th closed at once. Accepts are handled in order, so the
                // 5th's close also says the first 4 were counted.
                for (int i = 0; i < 4; i++) {
                    kept.add(connect(port, "127.0.0.2"));
                }
                try (Socket fifth = connect(port, "127.0.0.2")) {
                    assertThat(closedByServer(fifth)).as("5th connection from 127.0.0.2").isTrue();
                }
                // From 127.0.0.3: 4 more make 10 in all with the honest two; the next is over the total.
                for (int i = 0; i < 4; i++) {
                    kept.add(connect(port, "127.0.0.3"));
                }
                try (Socket over = connect(port, "127.0.0.4")) {
                    assertThat(closedByServer(over)).as("11th connection in all").isTrue();
                }
                JsonObject stats = server.gateway.stats();
                assertThat(stats.getInteger("open")).isEqualTo(10);
                assertThat(stats.getLong("refused_connections")).isEqualTo(2);
                honestRound(server, honest, 0);
            } finally {
                for (Socket s : kept) {
                    s.close();
                }
            }
        }
    }

    /** Before: a frame over twice the limit ended in 1006 (no close frame). Now 1009 with a reason. */
    @Test
    void aFrameOverTwiceTheLimitIsClosedWith1009AndAReason(Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(), GatewayConfig.defaults())) {
            RawWs attacker = server.raw(server.token(2));
            int limit = Math.max(2 * (40 + 4 * server.job.chunkCoords()), 2 * 4096);
            attacker.send(Buffer.buffer(new byte[limit + 1000]));
            RawWs.Close closed = attacker.awaitClose();
            assertThat(closed.code()).isEqualTo(1009);
            assertThat(closed.reason()).contains("frame over " + limit + " bytes");
            WsServer.Client[] honest = {server.wsClient(0), server.wsClient(1)};
            honestRound(server, honest, 0);
        }
    }

    /**
     * Before: an ack's chunk was cut to an int, so chunk 2^32 acknowledged chunk 0 (and round 0.5 round 0).
     * Now such an ack matches no pending chunk and gets an error; the real ack still releases the round.
     */
    @Test
    void anAckWithAnOutOfRangeChunkOrAFractionalRoundAcknowledgesNothing(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 1).put("dim", 64).put("chunk_coords", 64)
                .put("rule", new JsonObject().put("name", "mean")), dir);
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            RawWs raw = server.raw(server.token(0));
            raw.hello(64, 0);
            float[] g = WsServer.gradients(1, 64, 5)[0];
            raw.send(org.flagagg.wire.ChunkFrame.toBuffer(org.flagagg.wire.ChunkFrame.KIND_GRADIENT, 0, 0, 0, 0, g, 0, 64));
            assertThat(raw.next("result").getBoolean("included")).isTrue();
            raw.nextBinary();
            CompletableFuture<Void> released = server.releasedOf(0);
            raw.send(new JsonObject().put("type", "ack").put("round", 0).put("chunk", 1L << 32));
            assertThat(raw.next("error").getString("reason")).contains("no aggregate chunk 0/4294967296 awaits an ack");
            raw.send(new JsonObject().put("type", "ack").put("round", 0.5).put("chunk", 0));
            assertThat(raw.next("error").getString("reason")).contains("no aggregate chunk 0.5/0 awaits an ack");
            assertThat(released).isNotDone();
            raw.send(new JsonObject().put("type", "ack").put("round", 0).put("chunk", 0));
            Await.get(released);
            raw.close();
        }
    }

    static Stream<Arguments> badNumbers() {
        JsonObject hello = new JsonObject().put("type", "hello").put("version", 1);
        return Stream.of(
                Arguments.of("fractional dim", hello.copy().put("dim", 10000.7), "\"dim\", an integer >= 1, got 10000.7"),
                Arguments.of("dim in exponent form", hello.copy().put("dim", 1e3), "\"dim\", an integer >= 1, got 1000.0"),
                Arguments.of("dim as a string", hello.copy().put("dim", "1000"), "\"dim\", an integer >= 1"),
                Arguments.of("dim past a long", new JsonObject("{\"type\":\"hello\",\"version\":1,\"dim\":99999999999999999999}"),
                        "\"dim\", an integer >= 1"),
                Arguments.of("slot 2^40", hello.copy().put("dim", 1000).put("slot", 1L << 40),
                        "\"slot\" must be an integer from 0 to 1, got 1099511627776"),
                Arguments.of("fractional slot", hello.copy().put("dim", 1000).put("slot", 0.5), "\"slot\" must be an integer"),
                Arguments.of("negative slot", hello.copy().put("dim", 1000).put("slot", -1), "\"slot\" must be an integer"));
    }

    /** Before: dim 10000.7 and slot 2^40 were truncated silently. Now 4400 with what was wrong. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badNumbers")
    void aHelloWithANumberThatIsNotAnIntegerInRangeIsClosedWith4400(String name, JsonObject hello, String reason, Vertx vertx)
            throws Exception {
        try (WsServer server = WsServer.start(vertx, job(), GatewayConfig.defaults())) {
            RawWs attacker = server.raw(server.token(2));
            attacker.send(hello);
            RawWs.Close closed = attacker.awaitClose();
            assertThat(closed.code()).isEqualTo(4400);
            assertThat(closed.reason()).contains(reason);
        }
    }
}
