package org.flagagg.worker;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.TrustOptions;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.CloseCodes;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.MessageAssembler;
import org.flagagg.wire.WsProtocol;

/**
 * A worker over a WebSocket to the aggregator's gateway (docs/protocol.md, "WebSocket workers"), the Java
 * twin of the Python client. The hello carries the dimension and the session answers it; gradient frames go
 * out as binary messages, each answered by an {@code ack} or a {@code chunk_error} naming its round and chunk;
 * results come as {@code result} messages and aggregate frames, each acknowledged with an {@code ack} once
 * the worker took it. Every server error (close code, {@code error} message) fails the worker's exchanges
 * with a {@link FlagaggException}; a closed socket fails every later one too.
 */
public final class WsTransport implements Transport {

    /** Connection options. */
    public static final class Options {
        private int slot = -1;
        private TrustOptions trust;
        private boolean verifyHost = true;
        private int maxMessageBytes = 64 << 20;

        /** Ask for this slot (reproducible worker order); -1 (default) takes the first free one. */
        public Options setSlot(int slot) {
            this.slot = slot;
            return this;
        }

        /** Certificates to trust for wss:// (a PEM file, a key store...); default: the JVM's. */
        public Options setTrust(TrustOptions trust) {
            this.trust = trust;
            return this;
        }

        /** Check that the server's certificate names the host (default true). */
        public Options setVerifyHost(boolean verifyHost) {
            this.verifyHost = verifyHost;
            return this;
        }

        /** Largest message accepted from the server (an aggregate frame or a result with its record). */
        public Options setMaxMessageBytes(int maxMessageBytes) {
            if (maxMessageBytes < 1024) {
                throw new IllegalArgumentException("maxMessageBytes must be >= 1024, got " + maxMessageBytes);
            }
            this.maxMessageBytes = maxMessageBytes;
            return this;
        }
    }

    /** A gradient frame sent and not answered yet. */
    private record Sent(long round, int chunk) {
    }

    private final Vertx vertx;
    private final WebSocketClient client;
    private final WebSocket ws;
    private final long dim;
    private final int slotWanted;
    /** How long the session may take after the hello; 0: no bound. */
    private final long sessionWaitMs;
    private final Promise<Void> joined = Promise.promise();
    private final Map<Sent, Promise<Void>> unanswered = new HashMap<>();
    private Worker worker;
    private FlagaggException closedBy;
    private boolean byeSent;

    private WsTransport(Vertx vertx, WebSocketClient client, WebSocket ws, long dim, Options options, int slot,
            long sessionWaitMs) {
        this.vertx = vertx;
        this.sessionWaitMs = sessionWaitMs;
        this.client = client;
        this.ws = ws;
        this.dim = dim;
        this.slotWanted = slot >= 0 ? slot : options.slot;
        ws.frameHandler(new MessageAssembler(options.maxMessageBytes, options.maxMessageBytes, new MessageAssembler.Sink() {
            @Override
            public void text(String text) {
                onText(text);
            }

            @Override
            public void binary(Buffer message) {
                onBinary(message);
            }

            @Override
            public void tooBig(boolean text, long bytes, int limit) {
                ws.close(CloseCodes.TOO_BIG, "message over " + limit + " bytes");
                closed(new FlagaggException(CloseCodes.TOO_BIG, "the server sent a message over " + limit + " bytes"));
            }
        }));
        ws.closeHandler(v -> closed(closeOf(ws)));
        ws.exceptionHandler(e -> {
            // The close handler follows with the code.
        });
    }

    /**
     * Opens the WebSocket with the token, to ask for {@code slot} (-1: the options' slot); fails with a
     * {@link FlagaggException} if the upgrade is refused. {@code attemptMs} > 0 bounds the connection, the
     * upgrade and then the session each (a re-join's attempt); 0: unbounded.
     */
    static Future<WsTransport> connect(Vertx vertx, String url, String token, long dim, Options options, int slot,
            long attemptMs) {
        WebSocketClientOptions clientOptions = new WebSocketClientOptions()
                .setTryUsePerMessageCompression(false)
                .setTryUsePerFrameCompression(false)
                .setMaxFrameSize(options.maxMessageBytes)
                .setMaxMessageSize(options.maxMessageBytes)
                .setVerifyHost(options.verifyHost);
        if (options.trust != null) {
            clientOptions.setTrustOptions(options.trust);
        }
        WebSocketClient client = vertx.createWebSocketClient(clientOptions);
        WebSocketConnectOptions connect = new WebSocketConnectOptions().setAbsoluteURI(url)
                .addHeader("Authorization", "Bearer " + token);
        if (attemptMs > 0) {
            connect.setConnectTimeout(attemptMs).setTimeout(attemptMs);
        }
        return client.connect(connect).compose(ws -> {
            try {
                return Future.succeededFuture(new WsTransport(vertx, client, ws, dim, options, slot, attemptMs));
            } catch (IllegalStateException closedAlready) {
                return Future.<WsTransport>failedFuture(closeOf(ws));
            }
        }).recover(e -> {
            client.close();
            return Future.failedFuture(e instanceof UpgradeRejectedException refused ? rejected(refused) : e);
        });
    }

    private static FlagaggException closeOf(WebSocket ws) {
        Short code = ws.closeStatusCode();
        return new FlagaggException(code == null ? 1006 : code, code == null ? "the connection was lost" : ws.closeReason());
    }

    /** The server answered the upgrade with an HTTP error: its status and the reason in its {"error": ...} body. */
    private static FlagaggException rejected(UpgradeRejectedException e) {
        String body = e.getBody() == null ? "" : e.getBody().toString(StandardCharsets.UTF_8);
        String reason;
        try {
            reason = new JsonObject(body).getString("error", body);
        } catch (DecodeException | ClassCastException notJson) {
            reason = body;
        }
        return new FlagaggException(e.getStatus(), reason.isEmpty() ? "HTTP " + e.getStatus() : reason);
    }

    /** Says hello; completes once the session came. */
    @Override
    public Future<Void> join(Worker worker) {
        this.worker = worker;
        if (closedBy != null) {
            return Future.failedFuture(closedBy);
        }
        JsonObject hello = new JsonObject().put("type", "hello").put("version", WsProtocol.VERSION).put("dim", dim);
        if (slotWanted >= 0) {
            hello.put("slot", slotWanted);
        }
        ws.writeTextMessage(hello.encode());
        if (sessionWaitMs > 0) {
            long timer = vertx.setTimer(sessionWaitMs, t -> joined.tryFail(new FlagaggException(CloseCodes.TOO_SLOW,
                    "no session within " + sessionWaitMs + " ms of the hello")));
            joined.future().onComplete(ar -> vertx.cancelTimer(timer));
        }
        return joined.future().recover(e -> ws.close().eventually(client::close).transform(v -> Future.failedFuture(e)));
    }

    @Override
    public Future<Void> send(long round, int slot, int chunkIndex, long offset, float[] values, int count) {
        if (closedBy != null) {
            return Future.failedFuture(closedBy);
        }
        Promise<Void> answered = Promise.promise();
        Promise<Void> superseded = unanswered.put(new Sent(round, chunkIndex), answered);
        if (superseded != null) {
            superseded.tryFail(new IllegalStateException("chunk " + chunkIndex + " of round " + round + " sent again"));
        }
        ws.writeBinaryMessage(ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, round, slot, chunkIndex, offset, values, 0,
                count));
        return answered.future();
    }

    /** A server that never answers must not make the map grow: at most credits entries per open exchange. */
    @Override
    public void roundEnded(long round) {
        unanswered.keySet().removeIf(sent -> sent.round() == round);
    }

    /** Gradient frames sent and not answered (for tests). */
    int unanswered() {
        return unanswered.size();
    }

    @Override
    public boolean writeQueueFull() {
        return ws.writeQueueFull();
    }

    @Override
    public void drainHandler(Runnable drained) {
        ws.drainHandler(v -> {
            ws.drainHandler(null);
            drained.run();
        });
    }

    @Override
    public Throwable refusal(long round, int code, String reason) {
        return new FlagaggException(code, "round " + round + " refused: " + reason);
    }

    @Override
    public Throwable dropNotice(long round, String reason) {
        return new FlagaggException(Codes.RESULTS_DROPPED, "round " + round + ": the server stopped sending its "
                + "results: " + reason);
    }

    /** Says bye and closes the connection; pending exchanges fail. */
    @Override
    public Future<Void> close() {
        if (closedBy == null && !byeSent) {
            byeSent = true;
            ws.writeTextMessage(new JsonObject().put("type", "bye").encode());
        }
        return ws.close().eventually(client::close);
    }

    // ---------------------------------------------------------------------------------------------------

    private void onText(String text) {
        if (worker == null) {
            return;
        }
        JsonObject msg;
        try {
            msg = new JsonObject(text);
        } catch (DecodeException e) {
            failAll(new FlagaggException(1002, "the server sent a message that is not JSON: " + text));
            return;
        }
        String type = msg.getString("type", "");
        switch (type) {
            case "session" -> {
                worker.session(msg);
                joined.tryComplete();
            }
            case "ack" -> answer(msg, null);
            case "chunk_error" -> {
                int code = msg.getInteger("code", 0);
                String reason = msg.getString("reason", "");
                if (msg.containsKey("round")) {
                    // A late answer for a frame of an exchange that ended is dropped with it.
                    answer(msg, new ReplyException(ReplyFailure.RECIPIENT_FAILURE, code, reason));
                } else {
                    failAll(new FlagaggException(code, reason));
                }
            }
            case "result" -> worker.summary(msg);
            case "dropped" -> worker.dropped(msg.getLong("round", -1L), msg.getString("reason", ""));
            case "error" -> failAll(new FlagaggException(msg.getInteger("code", 0), msg.getString("reason", "")));
            default -> failAll(new FlagaggException(1002, "the server sent an unknown message type '" + type + "'"));
        }
    }

    /** The server's answer to a gradient frame: stored (refusal null) or refused. */
    private void answer(JsonObject msg, ReplyException refusal) {
        Promise<Void> sent = unanswered.remove(new Sent(msg.getLong("round", -1L), msg.getInteger("chunk", -1)));
        if (sent == null) {
            return;
        }
        if (refusal == null) {
            sent.tryComplete();
        } else {
            sent.tryFail(refusal);
        }
    }

    private void onBinary(Buffer frame) {
        if (worker == null) {
            return;
        }
        ChunkFrame.Header h;
        try {
            h = ChunkFrame.parse(frame);
        } catch (FrameException e) {
            failAll(new FlagaggException(1002, "malformed aggregate frame: " + e.getMessage()));
            return;
        }
        worker.aggregate(h, frame).onComplete(ar -> {
            if (closedBy == null) {
                ws.writeTextMessage(new JsonObject().put("type", "ack").put("round", h.round())
                        .put("chunk", h.chunkIndex()).encode());
            }
        });
    }

    private void failAll(FlagaggException e) {
        joined.tryFail(e);
        if (worker != null) {
            worker.failAll(e);
        }
    }

    private void closed(FlagaggException e) {
        if (closedBy != null) {
            return;
        }
        closedBy = e;
        joined.tryFail(e);
        // The worker first: its exchanges fail with what the close means, not with their chunks' failure.
        if (worker != null && joined.future().succeeded()) {
            if (!byeSent && droppedByServer(e.code())) {
                worker.lost(this, e);
            } else {
                worker.gone(e);
            }
        }
        List<Promise<Void>> sent = List.copyOf(unanswered.values());
        unanswered.clear();
        sent.forEach(p -> p.tryFail(e));
    }

    /**
     * A close that means the server (or the network to it) went away rather than refused this worker: no close
     * frame (1006), going away (1001), server error (1011). The worker joins again after these.
     */
    private static boolean droppedByServer(int code) {
        return code == 1006 || code == CloseCodes.GOING_AWAY || code == CloseCodes.SERVER_ERROR;
    }
}
