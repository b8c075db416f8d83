package org.flagagg.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.flagagg.Await;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.FrameCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The policy for an aggregate frame of a round the worker is not exchanging (docs/protocol.md, "Aggregate
 * frames of another round"): acknowledged, dropped and counted, on the event bus and on a WebSocket alike,
 * and the worker's own round goes on. Against scripted servers, so each transport's answer is seen as sent.
 */
@ExtendWith(VertxExtension.class)
class StrayFrameTest {
    static final int DIM = 8;
    static final int CHUNK = 4;
    static final long ROUND = 5;
    static final long STRAY_ROUND = 3;

    static JsonObject session() {
        return new JsonObject().put("job", "stray").put("worker", "w0").put("slot", 0).put("dim", DIM)
                .put("chunk_coords", CHUNK).put("chunks", DIM / CHUNK).put("credits", 2).put("quorum", 1)
                .put("deadline_max_ms", 5000L).put("result_timeout_ms", 5000L).put("round", ROUND);
    }

    static JsonObject summary() {
        return new JsonObject().put("round", ROUND).put("status", "completed").put("included", true)
                .put("chunks", DIM / CHUNK).put("record", new JsonObject());
    }

    static Buffer aggregateFrame(long round, int chunk, float[] values) {
        return ChunkFrame.toBuffer(ChunkFrame.KIND_AGGREGATE, round, 0, chunk, (long) chunk * CHUNK, values,
                chunk * CHUNK, CHUNK);
    }

    static float[] gradient() {
        float[] g = new float[DIM];
        for (int i = 0; i < DIM; i++) {
            g[i] = 0.5f * i - 1;
        }
        return g;
    }

    /** What the scripted servers send back as the aggregate: three times the gradient, coordinate by coordinate. */
    static float[] tripled(float[] g) {
        float[] out = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            out[i] = 3 * g[i];
        }
        return out;
    }

    static long strayFrames(Context context, Worker worker) throws Exception {
        return Await.get(Await.on(context, () -> Future.succeededFuture(worker.strayFrames())));
    }

    @Test
    void onTheBusAStrayFrameIsAnsweredNotRefused(Vertx vertx) throws Exception {
        Addresses addresses = new Addresses("stray");
        FrameCodec.register(vertx.eventBus());
        float[] g = gradient();
        float[] received = new float[DIM];
        List<Integer> chunks = new ArrayList<>();
        CompletableFuture<Void> allSent = new CompletableFuture<>();
        Await.await(vertx.eventBus().consumer(addresses.join(), msg -> msg.reply(session())).completion());
        Await.await(vertx.eventBus().<Buffer>consumer(addresses.chunks(), msg -> {
            ChunkFrame.Header h = ChunkFrame.parse(msg.body());
            ChunkFrame.readPayload(msg.body(), h, received, (int) h.offset());
            chunks.add(h.chunkIndex());
            msg.reply(null);
            if (chunks.size() == DIM / CHUNK) {
                allSent.complete(null);
            }
        }).completion());
        Context context = vertx.getOrCreateContext();
        Worker worker = Await.get(Await.on(context, () -> Worker.join(vertx, "stray", "w0", DIM, 0)));

        // Before the worker's round: a frame of a round it never exchanged is answered with success.
        DeliveryOptions chunk = new DeliveryOptions().addHeader("type", "chunk").setCodecName(FrameCodec.NAME);
        Await.await(vertx.eventBus().request(addresses.results(0), aggregateFrame(STRAY_ROUND, 0, new float[DIM]), chunk));
        assertThat(strayFrames(context, worker)).isEqualTo(1);

        CompletableFuture<Worker.Aggregate> result = Await.on(context, () -> worker.exchange(ROUND, g));
        Await.get(allSent);
        Await.await(vertx.eventBus().request(addresses.results(0), summary(),
                new DeliveryOptions().addHeader("type", "summary")));
        float[] aggregate = tripled(received);
        for (int c = 0; c < DIM / CHUNK; c++) {
            Await.await(vertx.eventBus().request(addresses.results(0), aggregateFrame(ROUND, c, aggregate), chunk));
        }
        Worker.Aggregate a = Await.get(result);
        assertThat(chunks).containsExactlyInAnyOrder(0, 1);
        assertThat(received).containsExactly(g);
        assertThat(a.values()).containsExactly(tripled(g));
        assertThat(strayFrames(context, worker)).isEqualTo(1);
    }

    @Test
    void onAWebSocketAStrayFrameIsAcknowledged(Vertx vertx) throws Exception {
        float[] g = gradient();
        float[] received = new float[DIM];
        CompletableFuture<JsonObject> strayAck = new CompletableFuture<>();
        HttpServer server = vertx.createHttpServer().webSocketHandler(ws -> script(ws, received, strayAck));
        int port = Await.await(server.listen(0, "127.0.0.1")).actualPort();
        Context context = vertx.getOrCreateContext();
        Worker worker = Await.get(Await.on(context, () -> Worker.connect(vertx, "ws://127.0.0.1:" + port
                + "/v1/workers", "t", DIM, new WsTransport.Options())));

        Worker.Aggregate a = Await.get(Await.on(context, () -> worker.exchange(ROUND, g)));
        assertThat(Await.get(strayAck)).isEqualTo(new JsonObject().put("type", "ack").put("round", STRAY_ROUND)
                .put("chunk", 0));
        assertThat(received).containsExactly(g);
        assertThat(a.values()).containsExactly(tripled(g));
        assertThat(strayFrames(context, worker)).isEqualTo(1);
        Await.get(Await.on(context, worker::close));
    }

    /**
     * The gateway's side: the session, an ack per gradient frame; once all are in, a stray frame of another
     * round, and only once the client acknowledged it the result and the aggregate.
     */
    private static void script(ServerWebSocket ws, float[] received, CompletableFuture<JsonObject> strayAck) {
        int[] gradientFrames = new int[1];
        ws.textMessageHandler(text -> {
            JsonObject msg = new JsonObject(text);
            if ("hello".equals(msg.getString("type"))) {
                ws.writeTextMessage(session().put("type", "session").put("version", 1).encode());
            } else if ("ack".equals(msg.getString("type")) && msg.getLong("round") == STRAY_ROUND) {
                strayAck.complete(msg);
                ws.writeTextMessage(summary().put("type", "result").encode());
                float[] aggregate = tripled(received);
                for (int c = 0; c < DIM / CHUNK; c++) {
                    ws.writeBinaryMessage(aggregateFrame(ROUND, c, aggregate));
                }
            }
        });
        ws.binaryMessageHandler(frame -> {
            ChunkFrame.Header h = ChunkFrame.parse(frame);
            ChunkFrame.readPayload(frame, h, received, (int) h.offset());
            ws.writeTextMessage(new JsonObject().put("type", "ack").put("round", h.round()).put("chunk", h.chunkIndex())
                    .encode());
            if (++gradientFrames[0] == DIM / CHUNK) {
                ws.writeBinaryMessage(aggregateFrame(STRAY_ROUND, 0, new float[DIM]));
            }
        });
    }
}
