package org.flagagg.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.flagagg.Await;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.FrameCodec;
import org.flagagg.wire.VertxInternals;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The worker's failover rules against scripted servers, each step seen as sent: a round failed with "aggregator
 * lost" keeps the session; a dropped WebSocket fails the exchange in flight with AggregatorLostException and the
 * next exchange joins again (URLs in turn, the slot it had, the new session's round); a refusal of the re-join
 * is final; with nothing answering, the re-join gives up after its bound.
 */
@ExtendWith(VertxExtension.class)
class FailoverScriptedTest {
    private static final int DIM = StrayFrameTest.DIM;
    private static final int CHUNKS = DIM / StrayFrameTest.CHUNK;

    private static JsonObject session(long round) {
        return StrayFrameTest.session().put("slot", 2).put("round", round);
    }

    private static JsonObject summary(long round) {
        return StrayFrameTest.summary().put("round", round);
    }

    @Test
    void aRoundFailedByALostShardHostFailsWithAggregatorLostAndKeepsTheSession(Vertx vertx) throws Exception {
        Addresses addresses = new Addresses("stray");
        FrameCodec.register(vertx.eventBus());
        AtomicInteger joins = new AtomicInteger();
        Await.await(vertx.eventBus().consumer(addresses.join(), msg -> {
            joins.incrementAndGet();
            msg.reply(session(5));
        }).completion());
        CompletableFuture<Void> allSent = new CompletableFuture<>();
        AtomicInteger chunks = new AtomicInteger();
        Await.await(vertx.eventBus().consumer(addresses.chunks(), msg -> {
            msg.reply(null);
            if (chunks.incrementAndGet() == CHUNKS) {
                allSent.complete(null);
            }
        }).completion());
        Context context = vertx.getOrCreateContext();
        Worker worker = Await.get(Await.on(context, () -> Worker.join(vertx, "stray", "w2", DIM, 2)));

        CompletableFuture<Worker.Aggregate> lost = Await.on(context, () -> worker.exchange(5, StrayFrameTest.gradient()));
        Await.get(allSent);
        String reason = "aggregator lost: shard 1's host left the cluster";
        Await.await(vertx.eventBus().request(addresses.results(2), new JsonObject().put("round", 5L)
                .put("status", "failed").put("reason", reason), new DeliveryOptions().addHeader("type", "summary")));
        assertThatThrownBy(() -> Await.get(lost)).cause().isInstanceOf(Worker.AggregatorLostException.class)
                .hasMessage("round 5 failed: " + reason);
        // The session holds: the step is retried at the next round, with no new join.
        assertThat(Await.get(Await.on(context, worker::ready))).isEqualTo(6);
        assertThat(worker.rejoins()).isZero();
        assertThat(joins).hasValue(1);
    }

    /**
     * A gateway whose connections follow a script: each hello is recorded and answered with the session of
     * {@code rounds[n]} (n: the connection's number); a connection listed in {@code drop} is dropped without a
     * close frame once its gradient is in, the others get the result and three times the gradient back. From
     * connection {@code refuseFrom} on, upgrades are refused with 401.
     */
    private static final class Gateway {
        final List<JsonObject> hellos = new CopyOnWriteArrayList<>();
        final AtomicInteger upgrades = new AtomicInteger();
        final long[] rounds;
        final int drop;
        final int refuseFrom;
        final HttpServer server;
        final String url;

        Gateway(Vertx vertx, long[] rounds, int drop, int refuseFrom) throws Exception {
            this.rounds = rounds;
            this.drop = drop;
            this.refuseFrom = refuseFrom;
            this.server = vertx.createHttpServer().requestHandler(this::upgrade);
            this.url = "ws://127.0.0.1:" + Await.await(server.listen(0, "127.0.0.1")).actualPort() + "/v1/workers";
        }

        private void upgrade(HttpServerRequest request) {
            int n = upgrades.getAndIncrement();
            if (n >= refuseFrom) {
                request.response().setStatusCode(401).end(new JsonObject().put("error", "unknown or revoked token")
                        .encode());
                return;
            }
            request.toWebSocket().onSuccess(ws -> {
                float[] received = new float[DIM];
                AtomicInteger frames = new AtomicInteger();
                ws.textMessageHandler(text -> {
                    JsonObject msg = new JsonObject(text);
                    if ("hello".equals(msg.getString("type"))) {
                        hellos.add(msg);
                        ws.writeTextMessage(session(rounds[n]).put("type", "session").put("version", 1).encode());
                    }
                });
                ws.binaryMessageHandler(frame -> {
                    ChunkFrame.Header h = ChunkFrame.parse(frame);
                    ChunkFrame.readPayload(frame, h, received, (int) h.offset());
                    ws.writeTextMessage(new JsonObject().put("type", "ack").put("round", h.round())
                            .put("chunk", h.chunkIndex()).encode());
                    if (frames.incrementAndGet() < CHUNKS) {
                        return;
                    }
                    if (n == drop) {
                        VertxInternals.abort(request.connection());
                        return;
                    }
                    ws.writeTextMessage(summary(h.round()).put("type", "result").encode());
                    float[] aggregate = StrayFrameTest.tripled(received);
                    for (int c = 0; c < CHUNKS; c++) {
                        ws.writeBinaryMessage(StrayFrameTest.aggregateFrame(h.round(), c, aggregate));
                    }
                });
            });
        }
    }

    /** A URL where nothing listens any more: a server that was started on port 0 and closed. */
    private static String deadUrl(Vertx vertx) throws Exception {
        HttpServer server = vertx.createHttpServer().requestHandler(r -> r.response().end());
        int port = Await.await(server.listen(0, "127.0.0.1")).actualPort();
        Await.await(server.close());
        return "ws://127.0.0.1:" + port + "/v1/workers";
    }

    private static Worker connect(Vertx vertx, Context context, List<String> urls) throws Exception {
        return Await.get(Await.on(context, () -> Worker.connect(vertx, urls, "t", DIM, new WsTransport.Options())));
    }

    @Test
    void aDroppedWebSocketFailsTheExchangeAndTheNextOneJoinsAgainTryingTheUrlsInTurn(Vertx vertx) throws Exception {
        Gateway gateway = new Gateway(vertx, new long[] {7, 0}, 0, Integer.MAX_VALUE);
        String dead = deadUrl(vertx);
        Context context = vertx.getOrCreateContext();
        // The dead URL first: the first join goes on to the gateway, and so does each re-join after a pause.
        Worker worker = connect(vertx, context, List.of(dead, gateway.url));
        assertThat(worker.nextRound()).isEqualTo(7);
        float[] g = StrayFrameTest.gradient();

        CompletableFuture<Worker.Aggregate> dropped = Await.on(context, () -> worker.exchange(g));
        assertThatThrownBy(() -> Await.get(dropped)).cause().isInstanceOf(Worker.AggregatorLostException.class)
                .hasMessageStartingWith("aggregator lost: ").hasMessageContaining("(1006)");

        Worker.Aggregate a = Await.get(Await.on(context, () -> worker.exchange(g)));
        assertThat(a.round()).as("the new session's round, below the last one seen").isZero();
        assertThat(a.values()).containsExactly(StrayFrameTest.tripled(g));
        assertThat(worker.rejoins()).isEqualTo(1);
        assertThat(worker.nextRound()).isEqualTo(1);
        assertThat(gateway.hellos).hasSize(2);
        assertThat(gateway.hellos.get(0).containsKey("slot")).as("the first join takes any slot").isFalse();
        assertThat(gateway.hellos.get(1).getInteger("slot")).as("the re-join asks for the slot it had").isEqualTo(2);
        Await.get(Await.on(context, worker::close));
    }

    @Test
    void aRefusedRejoinIsNotRetried(Vertx vertx) throws Exception {
        Gateway gateway = new Gateway(vertx, new long[] {3}, 0, 1);
        Context context = vertx.getOrCreateContext();
        Worker worker = connect(vertx, context, List.of(gateway.url));
        // Retrying would outlast the test's bound on any wait (Await.WAIT_S).
        worker.setFailoverMs(10 * Await.WAIT_S * 1000);
        float[] g = StrayFrameTest.gradient();
        CompletableFuture<Worker.Aggregate> dropped = Await.on(context, () -> worker.exchange(g));
        assertThatThrownBy(() -> Await.get(dropped)).cause().isInstanceOf(Worker.AggregatorLostException.class);

        assertThatThrownBy(() -> Await.get(Await.on(context, () -> worker.exchange(g)))).cause()
                .isInstanceOf(FlagaggException.class)
                .satisfies(e -> assertThat(((FlagaggException) e).code()).isEqualTo(401));
        assertThat(gateway.upgrades).as("one refused attempt, no retry").hasValue(2);
    }

    @Test
    void withNothingAnsweringTheRejoinGivesUpAfterItsBound(Vertx vertx) throws Exception {
        Gateway gateway = new Gateway(vertx, new long[] {3}, 0, Integer.MAX_VALUE);
        Context context = vertx.getOrCreateContext();
        Worker worker = connect(vertx, context, List.of(gateway.url));
        worker.setFailoverMs(1_000);
        float[] g = StrayFrameTest.gradient();
        CompletableFuture<Worker.Aggregate> dropped = Await.on(context, () -> worker.exchange(g));
        assertThatThrownBy(() -> Await.get(dropped)).cause().isInstanceOf(Worker.AggregatorLostException.class);
        Await.await(gateway.server.close());

        assertThatThrownBy(() -> Await.get(Await.on(context, () -> worker.exchange(g)))).cause()
                .isInstanceOf(Worker.AggregatorLostException.class)
                .hasMessageContaining("took this worker (slot 2) back nowhere within 1000 ms");
        // Not final: a later exchange tries again (and fails the same way here).
        assertThatThrownBy(() -> Await.get(Await.on(context, () -> worker.exchange(g)))).cause()
                .isInstanceOf(Worker.AggregatorLostException.class);
        assertThat(worker.rejoins()).isZero();
        assertThat(gateway.upgrades).hasValue(1);
        Await.get(Await.on(context, worker::close));
    }
}
