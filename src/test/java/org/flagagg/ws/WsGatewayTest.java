package org.flagagg.ws;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Stream;
import org.flagagg.Await;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.JobConfig;
import org.flagagg.config.TokenTable;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.worker.FlagaggException;
import org.flagagg.worker.Worker;
import org.flagagg.worker.WsTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Authentication, and every kind of bad input: its error or close code and reason, and nobody else affected. */
@ExtendWith(VertxExtension.class)
class WsGatewayTest {

    @TempDir
    Path dir;

    private JobConfig job(int workers) {
        return WsServer.job(new JsonObject().put("workers", workers).put("rule", new JsonObject().put("name", "mean")), dir);
    }

    @Test
    void aMissingOrUnknownTokenIsRefusedWith401BeforeTheUpgrade(Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(2), GatewayConfig.defaults())) {
            RawWs.Refusal none = RawWs.refused(vertx, server.url, null);
            assertThat(none.status()).isEqualTo(401);
            assertThat(none.reason()).contains("missing token");
            RawWs.Refusal wrong = RawWs.refused(vertx, server.url, TokenTable.newToken());
            assertThat(wrong.status()).isEqualTo(401);
            assertThat(wrong.reason()).contains("unknown or revoked token");
            assertThat(server.gateway.stats().getInteger("connections")).isZero();
            assertThat(server.gateway.stats().getLong("unauthorized")).isEqualTo(2);
        }
    }

    @Test
    void aSecondConnectionWithALiveTokenIsRefusedWith4409AndTheFirstGoesOn(Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(2), GatewayConfig.defaults())) {
            RawWs first = server.raw(server.token(0));
            first.hello(1000, 0);
            RawWs second = server.raw(server.token(0));
            RawWs.Close closed = second.awaitClose();
            assertThat(closed.code()).isEqualTo(4409);
            assertThat(closed.reason()).contains("'w0' already has a live connection");
            first.send(new JsonObject().put("type", "ping?"));
            assertThat(first.next().getString("type")).isEqualTo("error");
            first.close();
        }
    }

    @Test
    void theWebSocketWorkerReportsARefusalWithItsCode(Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(2), GatewayConfig.defaults())) {
            CompletableFuture<Worker> connect = Await.on(vertx.getOrCreateContext(),
                    () -> Worker.connect(vertx, server.url, "not-a-token", 1000, new WsTransport.Options()));
            Throwable e = org.assertj.core.api.Assertions.catchThrowable(() -> Await.get(connect)).getCause();
            assertThat(e).isInstanceOf(FlagaggException.class).hasMessageContaining("401")
                    .hasMessageContaining("unknown or revoked token");
        }
    }

    /** A frame of round 0, chunk 0, slot 0 with this job's chunk size, then bent by the case. */
    static Buffer frame(int coords, Function<float[], float[]> values, int slot, int count) {
        float[] v = new float[coords];
        for (int k = 0; k < coords; k++) {
            v[k] = k * 0.5f;
        }
        v = values.apply(v);
        return ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, slot, 0, 0, v, 0, count);
    }

    static Buffer flipByte(Buffer b, int at) {
        byte[] bytes = b.getBytes();
        bytes[at] ^= 0x10;
        return Buffer.buffer(bytes);
    }

    static Stream<Arguments> malformed() {
        int c = 64;
        byte[] garbage = new byte[100];
        new SplittableRandom(7).nextBytes(garbage);
        return Stream.of(
                Arguments.of("garbage", Buffer.buffer(garbage), 400, "BAD_MAGIC"),
                Arguments.of("shorter than a header", Buffer.buffer(new byte[20]), 400, "TRUNCATED"),
                Arguments.of("truncated payload", frame(c, v -> v, 0, c).slice(0, 40 + 4 * 10).copy(), 400, "BAD_LENGTH"),
                Arguments.of("bad CRC", flipByte(frame(c, v -> v, 0, c), 40 + 9), 400, "BAD_CRC"),
                Arguments.of("wrong slot", frame(c, v -> v, 1, c), 400, "names slot 1; this session is slot 0"),
                Arguments.of("wrong dimension (count)", frame(c, v -> v, 0, c - 1), 422, "wrong shape"),
                Arguments.of("NaN", frame(c, v -> {
                    v[5] = Float.NaN;
                    return v;
                }, 0, c), 422, "non-finite"),
                Arguments.of("infinity", frame(c, v -> {
                    v[7] = Float.NEGATIVE_INFINITY;
                    return v;
                }, 0, c), 422, "non-finite"),
                Arguments.of("aggregate kind", ChunkFrame.toBuffer(ChunkFrame.KIND_AGGREGATE, 0, 0, 0, 0, new float[c], 0, c),
                        400, "expected a gradient frame"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void aMalformedFrameGetsAChunkErrorWithAReasonAndTheSessionGoesOn(String name, Buffer frame, int code, String reason,
            Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(2), GatewayConfig.defaults())) {
            RawWs raw = server.raw(server.token(0));
            raw.hello(1000, 0);
            raw.send(frame);
            JsonObject error = raw.next();
            assertThat(error.getString("type")).isEqualTo("chunk_error");
            assertThat(error.getInteger("code")).isEqualTo(code);
            assertThat(error.getString("reason")).contains(reason);
            raw.send(new JsonObject().put("type", "bye?"));
            assertThat(raw.next().getString("reason")).contains("unknown message type");
            raw.send(new JsonObject().put("type", "bye"));
            assertThat(raw.awaitClose().code()).isEqualTo(1000);
        }
    }

    @Test
    void aWorkerExcludedForNaNLeavesTheOthersRoundIntactAndALateChunkGets409(Vertx vertx) throws Exception {
        JobConfig job = WsServer.job(new JsonObject().put("workers", 2).put("quorum", 1)
                .put("rule", new JsonObject().put("name", "mean")), dir);
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            RawWs bad = server.raw(server.token(0));
            bad.hello(job.dim(), 0);
            WsServer.Client good = server.wsClient(1);
            float[] g1 = WsServer.gradients(2, (int) job.dim(), 3)[1];
            bad.send(frame(job.chunkCoords(), v -> {
                v[0] = Float.POSITIVE_INFINITY;
                return v;
            }, 0, job.chunkCoords()));
            assertThat(bad.next().getInteger("code")).isEqualTo(422);
            Worker.Aggregate a = Await.get(good.exchange(0, g1));
            assertThat(a.included()).isTrue();
            assertThat(a.values()).containsExactly(g1);
            JsonObject result = bad.next("result");
            assertThat(result.getBoolean("included")).isFalse();
            assertThat(result.getString("reason")).startsWith("excluded: ").contains("non-finite");
            for (int chunk = 0; chunk < result.getInteger("chunks"); chunk++) {
                Buffer agg = bad.nextBinary();
                ChunkFrame.Header h = ChunkFrame.parse(agg);
                bad.send(new JsonObject().put("type", "ack").put("round", h.round()).put("chunk", h.chunkIndex()));
            }
            // Wrong round: round 0 is over.
            bad.send(frame(job.chunkCoords(), v -> v, 0, job.chunkCoords()));
            JsonObject late = bad.next("chunk_error");
            assertThat(late.getInteger("code")).isEqualTo(410);
            assertThat(late.getString("reason")).contains("round 0 is over; the current round is 1");
            Await.get(server.releasedOf(0));
        }
    }

    @Test
    void badJsonUnknownTypesAndStrayAcksGetErrorsWithoutClosing(Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(2), GatewayConfig.defaults())) {
            RawWs raw = server.raw(server.token(0));
            raw.hello(1000, 0);
            raw.sendText("{not json");
            JsonObject e1 = raw.next();
            assertThat(e1.getString("type")).isEqualTo("error");
            assertThat(e1.getInteger("code")).isEqualTo(400);
            assertThat(e1.getString("reason")).contains("not a JSON object");
            raw.send(new JsonObject().put("type", "gimme"));
            assertThat(raw.next().getString("reason")).contains("unknown message type 'gimme'");
            raw.send(new JsonObject().put("kind", "ack"));
            assertThat(raw.next().getString("reason")).contains("needs a string \"type\"");
            raw.send(new JsonObject().put("type", "ack").put("round", 3).put("chunk", 1));
            assertThat(raw.next().getString("reason")).contains("no aggregate chunk 3/1 awaits an ack");
            raw.send(new JsonObject().put("type", "hello").put("version", 1).put("dim", 1000));
            assertThat(raw.next().getString("reason")).contains("already in a session");
            assertThat(raw.closed).isNotDone();
            raw.close();
        }
    }

    static Stream<Arguments> protocolViolations() {
        return Stream.of(
                Arguments.of("binary before hello", null, "send hello and wait for the session"),
                Arguments.of("not hello first", new JsonObject().put("type", "ack"), "first message must be"),
                Arguments.of("wrong version", new JsonObject().put("type", "hello").put("version", 2).put("dim", 1000),
                        "unsupported protocol version 2"),
                Arguments.of("no dim", new JsonObject().put("type", "hello").put("version", 1), "\"dim\", an integer >= 1"),
                Arguments.of("wrong dimension", new JsonObject().put("type", "hello").put("version", 1).put("dim", 999),
                        "dimension mismatch"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocolViolations")
    void aBadStartIsClosedWith4400AndAReason(String name, JsonObject first, String reason, Vertx vertx) throws Exception {
        try (WsServer server = WsServer.start(vertx, job(2), GatewayConfig.defaults())) {
            RawWs raw = server.raw(server.token(0));
            if (first == null) {
                raw.send(frame(64, v -> v, 0, 64));
            } else {
                raw.send(first);
            }
            RawWs.Close closed = raw.awaitClose();
            assertThat(closed.code()).isEqualTo(4400);
            assertThat(closed.reason()).contains(reason);
            assertThat(server.gateway.stats().getInteger("connections")).isZero();
            // The token is free again.
            RawWs again = server.raw(server.token(0));
            assertThat(again.hello(1000, 0).getInteger("slot")).isZero();
            again.close();
        }
    }

    @Test
    void aMessageOverOneChunkFrameIsClosedWith4413(Vertx vertx) throws Exception {
        JobConfig job = job(2);
        try (WsServer server = WsServer.start(vertx, job, GatewayConfig.defaults())) {
            RawWs raw = server.raw(server.token(0));
            raw.hello(job.dim(), 0);
            int c = job.chunkCoords();
            raw.send(ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 0, 0, 0, new float[c + 1], 0, c + 1));
            RawWs.Close closed = raw.awaitClose();
            assertThat(closed.code()).isEqualTo(4413);
            assertThat(closed.reason()).contains("limit " + (40 + 4 * c));
        }
    }

    @Test
    void aFloodOfControlMessagesIsClosedWith4429(Vertx vertx) throws Exception {
        GatewayConfig strict = GatewayConfig.defaults().withControl(5, 10);
        try (WsServer server = WsServer.start(vertx, job(2), strict)) {
            RawWs raw = server.raw(server.token(0));
            raw.hello(1000, 0);
            // Written without waiting: 200 messages arrive far faster than 5 a second.
            for (int i = 0; i < 200; i++) {
                raw.ws.writeTextMessage(new JsonObject().put("type", "spam").encode());
            }
            RawWs.Close closed = raw.awaitClose();
            assertThat(closed.code()).isEqualTo(4429);
            assertThat(closed.reason()).contains("control messages");
            // The bucket held 10 tokens after the hello took one: at most that many got an answer.
            assertThat(raw.texts).hasSizeLessThan(15);
        }
    }

    /** Sanity check of the frame helper: the header of a frame built for slot 1 names slot 1. */
    @Test
    void frameHelperWritesTheSlot() {
        ByteBuffer b = ChunkFrame.view(frame(64, v -> v, 1, 64)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getInt(16)).isEqualTo(1);
    }
}
