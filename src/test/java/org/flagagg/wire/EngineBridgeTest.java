package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.flagagg.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The bridge both the data link and the WebSocket gateway use towards the engine, against a scripted engine. */
@ExtendWith(VertxExtension.class)
class EngineBridgeTest {

    static Buffer frame(int chunk) {
        return ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, 0, 0, chunk, 0, new float[1], 0, 1);
    }

    /** Runs on the bridge's context and waits for the future. */
    static <T> T on(Vertx vertx, java.util.function.Supplier<Future<T>> action) throws Exception {
        return Await.get(Await.on(vertx.getOrCreateContext(), action));
    }

    @Test
    void forwardTurnsTheEnginesReplyIntoACodeAndCountsWhatIsInFlight(Vertx vertx) throws Exception {
        Addresses addresses = new Addresses("bridge");
        FrameCodec.register(vertx.eventBus());
        List<String> relays = new CopyOnWriteArrayList<>();
        Await.await(vertx.eventBus().<Buffer>consumer(addresses.chunks(), msg -> {
            relays.add(String.valueOf(msg.headers().get(Addresses.RELAY_HEADER)));
            int chunk = ChunkFrame.parse(msg.body()).chunkIndex();
            if (chunk == 0) {
                msg.reply(null);
            } else if (chunk == 1) {
                msg.fail(Codes.BAD_CHUNK, "NaN at 0");
            } // chunk 2: never answered
        }).completion());
        EngineBridge<Integer> bridge = new EngineBridge<>(vertx, addresses, 300, "relay-1");

        assertThat(on(vertx, () -> bridge.forward(frame(0)))).isEqualTo(new EngineBridge.Answer(0, null, true));
        assertThat(on(vertx, () -> bridge.forward(frame(1))))
                .isEqualTo(new EngineBridge.Answer(Codes.BAD_CHUNK, "NaN at 0", true));
        int[] inFlight = new int[1];
        EngineBridge.Answer timedOut = on(vertx, () -> {
            Future<EngineBridge.Answer> answer = bridge.forward(frame(2));
            inFlight[0] = bridge.forwarding();
            return answer;
        });
        assertThat(inFlight[0]).isEqualTo(1);
        assertThat(timedOut.code()).isEqualTo(Codes.SERVER_ERROR);
        assertThat(timedOut.reason()).startsWith("the aggregator did not answer");
        assertThat(timedOut.engineDone()).isFalse();
        assertThat(bridge.forwarding()).isZero();
        assertThat(relays).containsExactly("relay-1", "relay-1", "relay-1");
    }

    @Test
    void aChunkForAShardNobodyConsumesIsToldToComeAgainLater(Vertx vertx) throws Exception {
        // Shard 1's host died and the shard is being placed again: its address has no consumer for a while.
        Addresses addresses = new Addresses("bridge-lost");
        FrameCodec.register(vertx.eventBus());
        EngineBridge<Integer> bridge = new EngineBridge<>(vertx, addresses, 300, null);
        EngineBridge.Answer answer = on(vertx, () -> bridge.forward(frame(0)));
        assertThat(answer.code()).isEqualTo(Codes.TOO_MANY);
        assertThat(answer.reason()).contains("being placed again");
        assertThat(answer.engineDone()).isTrue();
    }

    @Test
    void heldFramesAreAnsweredByTheClientsAckOrRefusedWithGoneOnClose(Vertx vertx) throws Exception {
        String address = "bridge.held";
        List<Message<Object>> requests = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> allIn = new CompletableFuture<>();
        Await.await(vertx.eventBus().consumer(address, msg -> {
            requests.add(msg);
            if (requests.size() == 4) {
                allIn.complete(null);
            }
        }).completion());
        List<Future<Message<Object>>> answers = List.of(0, 1, 2, 3).stream()
                .map(i -> vertx.eventBus().request(address, i)).toList();
        Await.get(allIn);
        EngineBridge<Integer> bridge = new EngineBridge<>(vertx, new Addresses("bridge"), 1000, null);
        long timer = vertx.setTimer(60_000, t -> { });
        boolean[] acks = new boolean[3];
        on(vertx, () -> {
            for (Message<Object> m : requests) {
                bridge.hold((Integer) m.body(), m, m.body().equals(0) ? timer : -1);
            }
            acks[0] = bridge.acknowledge(0, 0, null);
            acks[1] = bridge.acknowledge(1, Codes.SERVER_ERROR, "sink failed");
            acks[2] = bridge.acknowledge(7, 0, null);
            bridge.close("link closed");
            return Future.succeededFuture();
        });
        assertThat(acks).containsExactly(true, true, false);
        assertThat(vertx.cancelTimer(timer)).as("the acked frame's timer was cancelled").isFalse();
        assertThat(bridge.held()).isZero();
        Await.await(answers.get(0));
        for (int i = 1; i < 4; i++) {
            int at = i;
            assertThatThrownBy(() -> Await.await(answers.get(at))).cause().isInstanceOf(ReplyException.class)
                    .satisfies(e -> assertThat(((ReplyException) e).failureCode())
                            .isEqualTo(at == 1 ? Codes.SERVER_ERROR : Codes.GONE));
        }
    }
}
