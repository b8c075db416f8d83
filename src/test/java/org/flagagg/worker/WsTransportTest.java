package org.flagagg.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.flagagg.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The WebSocket transport against a server that takes the gradient and never answers it. */
@ExtendWith(VertxExtension.class)
class WsTransportTest {

    @Test
    void framesAServerNeverAnswersAreForgottenWhenTheirRoundEnds(Vertx vertx) throws Exception {
        AtomicInteger frames = new AtomicInteger();
        HttpServer server = vertx.createHttpServer().webSocketHandler(ws -> {
            ws.textMessageHandler(text -> {
                if ("hello".equals(new JsonObject(text).getString("type"))) {
                    // A short timeout: the exchange gives up after 2 x (500 + 500) ms without an answer.
                    ws.writeTextMessage(StrayFrameTest.session().put("type", "session").put("version", 1)
                            .put("deadline_max_ms", 500L).put("result_timeout_ms", 500L).encode());
                }
            });
            ws.binaryMessageHandler(frame -> frames.incrementAndGet());
        });
        int port = Await.await(server.listen(0, "127.0.0.1")).actualPort();
        Context context = vertx.getOrCreateContext();
        Worker worker = Await.get(Await.on(context, () -> Worker.connect(vertx, "ws://127.0.0.1:" + port
                + "/v1/workers", "t", StrayFrameTest.DIM, new WsTransport.Options())));
        WsTransport transport = (WsTransport) worker.transport;

        CompletableFuture<Worker.Aggregate> exchange = Await.on(context, () -> worker.exchange(StrayFrameTest.ROUND,
                StrayFrameTest.gradient()));
        int[] whileOpen = new int[1];
        Await.get(Await.on(context, () -> {
            whileOpen[0] = transport.unanswered();
            return Future.succeededFuture();
        }));
        assertThat(whileOpen[0]).isEqualTo(2);  // both chunks, within the 2 credits
        assertThatThrownBy(() -> Await.get(exchange)).cause().isInstanceOf(Worker.RoundFailedException.class)
                .hasMessageContaining("no aggregate for round " + StrayFrameTest.ROUND);
        int left = Await.get(Await.on(context, () -> Future.succeededFuture(transport.unanswered())));
        assertThat(left).isZero();
        Await.get(Await.on(context, worker::close));
    }
}
