package org.flagagg.worker;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.TrustOptions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.CloseCodes;
import org.flagagg.wire.Codes;
import org.flagagg.wire.FrameException;
import org.flagagg.wire.MessageAssembler;
import org.flagagg.wire.WsProtocol;
import org.flagagg.worker.WorkerClient.Aggregate;
import org.flagagg.worker.WorkerClient.AsyncResultSink;
import org.flagagg.worker.WorkerClient.GradientReader;

/**
 * A worker that takes part in rounds over a WebSocket to the aggregator's gateway (docs/protocol.md,
 * "WebSocket workers"): the Java twin of the Python client, with the API of {@link WorkerClient}.
 * {@link #connect} authenticates with a token, says hello and waits for the session; {@link #exchange}
 * streams a round's gradient with at most {@code credits} chunks unacknowledged (and no more than the
 * socket's write queue takes) and completes with the round's aggregate. Every server error fails the
 * futures with a {@link FlagaggException} (close code or error code, and the server's reason); a
 * {@code chunk_error} stops sending for that round, and the exchange still completes with the result
 * ({@link Aggregate#included()} false, with the reason), like {@link WorkerClient}. Use it from one Vert.x
 * context (the one that called connect).
 */
public final class FlagaggClient implements GradientExchange {

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

    private final Vertx vertx;
    private final WebSocketClient client;
    private final WebSocket ws;
    private final Promise<FlagaggClient> connected = Promise.promise();
    private final Map<Long, Exchange> exchanges = new HashMap<>();
    private JsonObject session;
    private int slot;
    private int chunkCoords;
    /** One chunk's values, for every exchange of this client (see {@link RoundExchange#chunk}). */
    private float[] scratch;
    private int chunks;
    private long dim;
    private int credits;
    private long timeoutMs;
    private FlagaggException closedBy;
    /** The round to exchange next: the session's current round, then the one after the latest result. */
    private long nextRound;
    private boolean byeSent;

    private FlagaggClient(Vertx vertx, WebSocketClient client, WebSocket ws, int maxMessageBytes) {
        this.vertx = vertx;
        this.client = client;
        this.ws = ws;
        ws.frameHandler(new MessageAssembler(maxMessageBytes, maxMessageBytes, new MessageAssembler.Sink() {
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
        ws.closeHandler(v -> {
            Short code = ws.closeStatusCode();
            closed(new FlagaggException(code == null ? 1006 : code, code == null ? "the connection was lost" : ws.closeReason()));
        });
        ws.exceptionHandler(e -> {
            // The close handler follows with the code.
        });
    }

    /**
     * Connects to {@code url} (ws:// or wss://.../v1/workers) with {@code token}, says hello with the
     * gradient's dimension and completes once the server sent the session. Fails with a
     * {@link FlagaggException} if the server refuses (HTTP 401 bad token, 4409 token in use or job full, 4400
     * wrong dimension).
     */
    public static Future<FlagaggClient> connect(Vertx vertx, String url, String token, long dim, Options options) {
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
        return client.connect(connect).compose(ws -> {
            FlagaggClient flagagg;
            try {
                flagagg = new FlagaggClient(vertx, client, ws, options.maxMessageBytes);
            } catch (IllegalStateException closedAlready) {
                Short code = ws.closeStatusCode();
                return Future.failedFuture(new FlagaggException(code == null ? 1006 : code,
                        code == null ? "the connection was lost" : ws.closeReason()));
            }
            JsonObject hello = new JsonObject().put("type", "hello").put("version", WsProtocol.VERSION).put("dim", dim);
            if (options.slot >= 0) {
                hello.put("slot", options.slot);
            }
            ws.writeTextMessage(hello.encode());
            return flagagg.connected.future();
        }).recover(e -> {
            client.close();
            return Future.failedFuture(e instanceof UpgradeRejectedException refused ? rejected(refused) : e);
        });
    }

    /** The server answered the upgrade with an HTTP error: its status and the reason in its {"error": ...} body. */
    private static FlagaggException rejected(UpgradeRejectedException e) {
        String body = e.getBody() == null ? "" : e.getBody().toString(java.nio.charset.StandardCharsets.UTF_8);
        String reason;
        try {
            reason = new JsonObject(body).getString("error", body);
        } catch (DecodeException | ClassCastException notJson) {
            reason = body;
        }
        return new FlagaggException(e.getStatus(), reason.isEmpty() ? "HTTP " + e.getStatus() : reason);
    }

    @Override
    public JsonObject session() {
        return session.copy();
    }

    @Override
    public int slot() {
        return slot;
    }

    @Override
    public long nextRound() {
        return nextRound;
    }

    /** Largest number of values per chunk the server accepts (chunk_coords of the session). */
    public int chunkCoords() {
        return chunkCoords;
    }

    @Override
    public Future<Aggregate> exchange(long round, GradientReader gradient, AsyncResultSink aggregate, Future<?> sendWhen) {
        if (closedBy != null) {
            return Future.failedFuture(closedBy);
        }
        if (exchanges.containsKey(round)) {
            return Future.failedFuture(new IllegalStateException("round " + round + " is already being exchanged"));
        }
        Exchange exchange = new Exchange(round, gradient, aggregate);
        exchanges.put(round, exchange);
        return exchange.begin(timeoutMs * 2, sendWhen);
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
        JsonObject msg;
        try {
            msg = new JsonObject(text);
        } catch (DecodeException e) {
            failAll(new FlagaggException(1002, "the server sent a message that is not JSON: " + text));
            return;
        }
        String type = msg.getString("type", "");
        switch (type) {
            case "session" -> onSession(msg);
            case "ack" -> {
                Exchange exchange = exchanges.get(msg.getLong("round", -1L));
                if (exchange != null) {
                    exchange.acked();
                }
            }
            case "chunk_error" -> {
                Exchange exchange = msg.containsKey("round") ? exchanges.get(msg.getLong("round")) : null;
                if (exchange != null) {
                    exchange.refusedChunk(msg.getInteger("code", 0), msg.getString("reason", ""));
                } else if (msg.containsKey("round")) {
                    // A late answer for an exchange that ended (refused at once, or its result came first): the
                    // frames it had in flight are answered too, and must not fail the exchanges after it.
                } else {
                    failAll(new FlagaggException(msg.getInteger("code", 0), msg.getString("reason", "")));
                }
            }
            case "result" -> {
                long round = msg.getLong("round", -1L);
                nextRound = Math.max(nextRound, round + 1);
                Exchange exchange = exchanges.get(round);
                if (exchange != null) {
                    exchange.summary(msg);
                }
            }
            case "dropped" -> {
                Exchange exchange = exchanges.get(msg.getLong("round", -1L));
                if (exchange != null) {
                    exchange.dropped(msg.getString("reason", ""));
                }
            }
            case "error" -> failAll(new FlagaggException(msg.getInteger("code", 0), msg.getString("reason", "")));
            default -> failAll(new FlagaggException(1002, "the server sent an unknown message type '" + type + "'"));
        }
    }

    private void onSession(JsonObject msg) {
        session = msg;
        slot = msg.getInteger("slot");
        chunkCoords = msg.getInteger("chunk_coords");
        scratch = new float[chunkCoords];
        chunks = msg.getInteger("chunks");
        dim = msg.getLong("dim");
        credits = msg.getInteger("credits");
        timeoutMs = msg.getLong("deadline_max_ms") + msg.getLong("result_timeout_ms");
        nextRound = msg.getLong("round", 0L);
        connected.tryComplete(this);
    }

    private void onBinary(Buffer frame) {
        ChunkFrame.Header h;
        try {
            h = ChunkFrame.parse(frame);
        } catch (FrameException e) {
            failAll(new FlagaggException(1002, "malformed aggregate frame: " + e.getMessage()));
            return;
        }
        Exchange exchange = exchanges.get(h.round());
        if (exchange == null || h.offset() + h.count() > dim || h.count() > chunkCoords) {
            // A round this worker is not exchanging: acknowledged and dropped, so the server keeps streaming.
            ack(h);
            return;
        }
        exchange.chunk(frame, h).onComplete(ar -> ack(h));
    }

    private void ack(ChunkFrame.Header h) {
        if (closedBy == null) {
            ws.writeTextMessage(new JsonObject().put("type", "ack").put("round", h.round()).put("chunk", h.chunkIndex()).encode());
        }
    }

    private void failAll(FlagaggException e) {
        connected.tryFail(e);
        new ArrayList<>(exchanges.values()).forEach(x -> x.fail(e));
    }

    private void closed(FlagaggException e) {
        if (closedBy != null) {
            return;
        }
        closedBy = e;
        failAll(e);
    }

    private void pumpAll() {
        List<Exchange> all = new ArrayList<>(exchanges.values());
        all.forEach(Exchange::pump);
    }

    /** One round's exchange: chunks out under credits and the write queue, the result and aggregate in. */
    private final class Exchange extends RoundExchange {
        Exchange(long round, GradientReader gradient, AsyncResultSink sink) {
            super(vertx, round, gradient, sink, scratch);
        }

        @Override
        protected void pump() {
            while (!stopSending && closedBy == null && inFlight < credits && next < chunks) {
                if (ws.writeQueueFull()) {
                    ws.drainHandler(v -> {
                        ws.drainHandler(null);
                        pumpAll();
                    });
                    return;
                }
                int index = next++;
                long offset = (long) index * chunkCoords;
                int count = (int) Math.min(chunkCoords, dim - offset);
                gradient.read(offset, count, chunk);
                inFlight++;
                ws.writeBinaryMessage(ChunkFrame.toBuffer(ChunkFrame.KIND_GRADIENT, round, slot, index, offset,
                        chunk, 0, count));
            }
        }

        void acked() {
            inFlight--;
            acknowledged();
            pump();
        }

        void refusedChunk(int code, String reason) {
            inFlight--;
            refused(code, reason);
        }

        @Override
        protected Throwable refusal(int code, String reason) {
            return new FlagaggException(code, "round " + round + " refused: " + reason);
        }

        @Override
        protected Throwable dropNotice(String reason) {
            return new FlagaggException(Codes.RESULTS_DROPPED, "round " + round + ": the server stopped sending its "
                    + "results: " + reason);
        }

        @Override
        protected void ended() {
            exchanges.remove(round, this);
        }
    }
}
