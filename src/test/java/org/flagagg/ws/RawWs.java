package org.flagagg.ws;

import static org.flagagg.Await.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.TrustOptions;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.flagagg.Await;

/**
 * A test client that speaks the WebSocket protocol by hand with Vert.x's WebSocket client: it sends
 * whatever a test builds and queues everything the server sends, and the close code and reason.
 */
public final class RawWs {
    public record Close(int code, String reason) {
    }

    public final WebSocket ws;
    final WebSocketClient client;
    final BlockingQueue<JsonObject> texts = new LinkedBlockingQueue<>();
    final BlockingQueue<Buffer> binaries = new LinkedBlockingQueue<>();
    final CompletableFuture<Close> closed = new CompletableFuture<>();

    private RawWs(WebSocketClient client, WebSocket ws) {
        this.client = client;
        this.ws = ws;
        ws.textMessageHandler(t -> texts.add(new JsonObject(t)));
        ws.binaryMessageHandler(binaries::add);
        ws.closeHandler(v -> closed.complete(new Close(ws.closeStatusCode() == null ? 1006 : ws.closeStatusCode(),
                ws.closeReason())));
    }

    /** Connects with this token (null: no Authorization header). */
    public static RawWs connect(Vertx vertx, String url, String token, TrustOptions trust) throws Exception {
        WebSocketClientOptions options = new WebSocketClientOptions().setMaxFrameSize(1 << 22).setMaxMessageSize(1 << 22)
                .setTryUsePerMessageCompression(false);
        if (trust != null) {
            options.setTrustOptions(trust);
        }
        WebSocketClient client = vertx.createWebSocketClient(options);
        WebSocketConnectOptions connect = new WebSocketConnectOptions().setAbsoluteURI(url);
        if (token != null) {
            connect.addHeader("Authorization", "Bearer " + token);
        }
        // Handlers are set on the event loop as the upgrade completes, before a close frame can be processed.
        return await(client.connect(connect).map(ws -> new RawWs(client, ws)));
    }

    /** An upgrade the server refused with an HTTP status: the status, the reason of its {"error"} body. */
    public record Refusal(int status, String reason) {
    }

    /** Tries to connect with this token (null: no header) and returns the HTTP refusal; fails if upgraded. */
    public static Refusal refused(Vertx vertx, String url, String token) throws Exception {
        WebSocketClient client = vertx.createWebSocketClient();
        WebSocketConnectOptions connect = new WebSocketConnectOptions().setAbsoluteURI(url);
        if (token != null) {
            connect.addHeader("Authorization", "Bearer " + token);
        }
        try {
            Throwable e = Await.get(client.connect(connect).map(ws -> (Throwable) null).recover(Future::succeededFuture)
                    .toCompletionStage().toCompletableFuture());
            if (!(e instanceof UpgradeRejectedException rejected)) {
                throw new AssertionError("expected an HTTP refusal of the upgrade, got " + (e == null ? "a WebSocket" : e));
            }
            return new Refusal(rejected.getStatus(), new JsonObject(rejected.getBody()).getString("error"));
        } finally {
            await(client.close());
        }
    }

    public void send(JsonObject msg) throws Exception {
        await(ws.writeTextMessage(msg.encode()));
    }

    public void sendText(String text) throws Exception {
        await(ws.writeTextMessage(text));
    }

    public void send(Buffer frame) throws Exception {
        await(ws.writeBinaryMessage(frame));
    }

    /** Says hello and returns the session. */
    public JsonObject hello(long dim, int slot) throws Exception {
        JsonObject hello = new JsonObject().put("type", "hello").put("version", 1).put("dim", dim);
        if (slot >= 0) {
            hello.put("slot", slot);
        }
        send(hello);
        JsonObject session = next();
        if (!"session".equals(session.getString("type"))) {
            throw new AssertionError("expected a session, got " + session);
        }
        return session;
    }

    /** The next text message from the server. */
    public JsonObject next() throws Exception {
        JsonObject msg = texts.poll(Await.WAIT_S, TimeUnit.SECONDS);
        if (msg == null) {
            throw new TimeoutException("no message from the server within " + Await.WAIT_S + " s (closed: "
                    + closed.getNow(null) + ")");
        }
        return msg;
    }

    /** The next text message of this type, skipping others. */
    public JsonObject next(String type) throws Exception {
        while (true) {
            JsonObject msg = next();
            if (type.equals(msg.getString("type"))) {
                return msg;
            }
        }
    }

    public Buffer nextBinary() throws Exception {
        Buffer b = binaries.poll(Await.WAIT_S, TimeUnit.SECONDS);
        if (b == null) {
            throw new TimeoutException("no binary message within " + Await.WAIT_S + " s");
        }
        return b;
    }

    public Close awaitClose() throws Exception {
        return Await.get(closed);
    }

    public void close() throws Exception {
        if (!closed.isDone()) {
            await(ws.close());
        }
        await(client.close());
    }
}
