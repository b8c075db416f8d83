package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import org.flagagg.Await;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Pins what {@link VertxInternals} relies on in Vert.x's internal API: if an upgrade changes a cast, a
 * memory-sharing guarantee or the abort path, this fails here rather than as lost speed or a hung socket.
 */
@ExtendWith(VertxExtension.class)
class VertxInternalsTest {

    @Test
    void buffersShareTheirMemoryWithTheByteBufBothWays() {
        byte[] bytes = new byte[8];
        Buffer buffer = VertxInternals.buffer(Unpooled.wrappedBuffer(bytes));
        bytes[0] = 7;
        assertThat(buffer.getByte(0)).isEqualTo((byte) 7);
        VertxInternals.byteBuf(buffer).setByte(1, 9);
        assertThat(bytes[1]).isEqualTo((byte) 9);
        // Vert.x's own buffers (event-bus bodies, Buffer.buffer()) are all BufferInternal: ChunkFrame.view relies on it.
        assertThat(VertxInternals.byteBuf(Buffer.buffer("flagagg"))).isNotNull();
    }

    @Test
    void netSocketsCarryNettyMessagesBothWays(Vertx vertx) throws Exception {
        CompletableFuture<String> atServer = new CompletableFuture<>();
        CompletableFuture<String> atClient = new CompletableFuture<>();
        // The server answers what it read (the link's order): the client's handler is in place by then.
        NetServer server = vertx.createNetServer().connectHandler(socket -> VertxInternals.messageHandler(socket, msg -> {
            read(msg, atServer);
            VertxInternals.writeMessage(socket, Unpooled.copiedBuffer("from server", StandardCharsets.UTF_8));
        }));
        int port = Await.await(server.listen(0, "127.0.0.1")).actualPort();
        NetSocket client = Await.await(vertx.createNetClient().connect(port, "127.0.0.1"));
        VertxInternals.messageHandler(client, msg -> read(msg, atClient));
        Await.await(VertxInternals.writeMessage(client, Unpooled.copiedBuffer("from client", StandardCharsets.UTF_8)));
        assertThat(Await.get(atServer)).isEqualTo("ByteBuf: from client");
        assertThat(Await.get(atClient)).isEqualTo("ByteBuf: from server");
    }

    private static void read(Object msg, CompletableFuture<String> into) {
        into.complete(msg instanceof ByteBuf buf ? "ByteBuf: " + buf.toString(StandardCharsets.UTF_8)
                : msg.getClass().getName());
        ReferenceCountUtil.release(msg);
    }

    @Test
    void abortDropsAWebSocketsConnectionWithoutACloseFrame(Vertx vertx) throws Exception {
        CompletableFuture<HttpConnection> upgraded = new CompletableFuture<>();
        HttpServer server = vertx.createHttpServer().requestHandler(request -> {
            HttpConnection conn = request.connection();
            request.toWebSocket().onSuccess(ws -> upgraded.complete(conn));
        });
        int port = Await.await(server.listen(0, "127.0.0.1")).actualPort();
        WebSocket ws = Await.await(vertx.createWebSocketClient().connect(port, "127.0.0.1", "/"));
        CompletableFuture<Short> closedWith = new CompletableFuture<>();
        ws.closeHandler(v -> closedWith.complete(ws.closeStatusCode()));
        HttpConnection conn = Await.get(upgraded);
        CompletableFuture<Boolean> aborted = new CompletableFuture<>();
        vertx.runOnContext(v -> aborted.complete(VertxInternals.abort(conn)));
        assertThat(Await.get(aborted)).isTrue();
        // 1006: the client saw no close frame (a WebSocket close would have sent 1000 or another code).
        assertThat(Await.get(closedWith)).as("no close frame: the connection was dropped").isEqualTo((short) 1006);
    }

    @Test
    void aMessageSentInThisJvmIsNotFromAnotherMemberAndAnEmbeddedVertxHasNoCluster(Vertx vertx) throws Exception {
        // The other side (a message from another JVM is one, on a clustered Vert.x) is pinned by
        // LinkAttackTest.aClusterMemberWithoutTheSecretCannotJoinNorSendForAnotherSlot, which needs two members.
        CompletableFuture<Boolean> fromOther = new CompletableFuture<>();
        vertx.eventBus().consumer("pin", msg -> fromOther.complete(VertxInternals.fromOtherMember(msg)));
        vertx.eventBus().send("pin", "local");
        assertThat(Await.get(fromOther)).isFalse();
        assertThat(VertxInternals.clusterActive(vertx)).isFalse();
        // The clustered side (Hazelcast's manager) is pinned by worker.WorkerFailoverTest.
        assertThat(VertxInternals.clusterManager(vertx)).isNull();
    }
}
