package org.flagagg.ws;

import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import org.flagagg.wire.ChunkFrame;
import org.flagagg.wire.CloseCodes;
import org.flagagg.wire.Codes;
import org.flagagg.wire.EngineBridge;
import org.flagagg.wire.MessageAssembler;
import org.flagagg.wire.VertxInternals;
import org.flagagg.wire.WsProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker's WebSocket, bridged to the event bus. Everything here runs on the socket's event loop (the
 * result consumer is registered from it, and replies come back to it), so there are no locks.
 *
 * <p>In: gradient frames go to the aggregator's chunks address, at most {@code credits} in flight; each reply
 * becomes an {@code ack} or a {@code chunk_error}. Out: the round's summary becomes a {@code result}, the
 * aggregate frames go out as binary messages and the event-bus request of each is answered only when the
 * client acknowledges that chunk, so the aggregator never has more than {@code credits} frames queued here.
 * Forwarding and holding are {@link EngineBridge}'s, shared with the data link.
 *
 * <p>Over 400 lines: it is the whole server side of the WebSocket protocol for one peer, every bound a hostile
 * client meets (hello timeout, token bucket, write stall, abort) next to the state they guard.
 */
final class Connection implements MessageAssembler.Sink {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);

    private enum State { AWAIT_HELLO, JOINING, READY, CLOSED }

    /** How the client names an aggregate frame in its ack. */
    private record Sent(long round, int chunk) {
    }

    private final Gateway gateway;
    private final ServerWebSocket ws;
    private final String worker;
    private final TokenBucket bucket;
    /** Gradient frames to the aggregator, and its aggregate frames held until the client acks them. */
    private final EngineBridge<Sent> bridge;
    private final HttpConnection conn;
    private State state = State.AWAIT_HELLO;
    private int slot = -1;
    private int credits;
    private boolean paused;
    /** Closes the socket if its write queue stays full past ws.write_stall_ms; -1 while it is not full. */
    private long stallTimer = -1;
    private long helloTimer = -1;
    private MessageConsumer<Object> results;

    Connection(Gateway gateway, HttpConnection conn, ServerWebSocket ws, String worker) {
        this.gateway = gateway;
        this.conn = conn;
        this.ws = ws;
        this.worker = worker;
        this.bucket = new TokenBucket(gateway.config.controlRate(), gateway.config.controlBurst());
        this.credits = gateway.job.credits();
        this.bridge = new EngineBridge<>(gateway.vertx, gateway.addresses, gateway.job.plan(),
                gateway.job.deadline().maxMs() + gateway.job.resultTimeoutMs(), null, gateway.shardToken);
    }

    /** Closes a socket that never became a session. */
    static void refuse(Gateway gateway, HttpConnection conn, ServerWebSocket ws, short code, String reason) {
        gateway.closed(code);
        ws.frameHandler(frame -> pauseIfFull(gateway, ws)); // until it is closed: its pings' pongs
        closeSocket(gateway, conn, ws, code, reason);
    }

    /**
     * Stops reading, sends the close frame and drops the TCP connection after ws.write_stall_ms whatever
     * happens: Vert.x closes it only once the close frame is written, which never happens behind a queue the
     * client does not read.
     */
    private static void closeSocket(Gateway gateway, HttpConnection conn, ServerWebSocket ws, short code, String reason) {
        pauseIfFull(gateway, ws);
        ws.close(code, CloseCodes.fit(reason));
        gateway.vertx.setTimer(gateway.config.writeStallMs(), t -> VertxInternals.abort(conn));
    }

    /** Once closing: nothing more is read while the client is not reading (it is dropped soon). */
    private static void pauseIfFull(Gateway gateway, ServerWebSocket ws) {
        if (!ws.isClosed() && ws.writeQueueFull()) {
            pause(gateway, ws, () -> true);
        }
    }

    /**
     * Stops reading the socket. Vert.x answers each ping with a pong as it reads it, and after handing a ping
     * to the frame handler asks for one more frame: a pause from the handler of a ping is undone at once, so
     * it is repeated once that handler returned, if {@code still} says so.
     */
    private static void pause(Gateway gateway, ServerWebSocket ws, java.util.function.BooleanSupplier still) {
        ws.pause();
        gateway.vertx.runOnContext(v -> {
            if (still.getAsBoolean()) {
                ws.pause();
            }
        });
    }

    void start() {
        gateway.connections.incrementAndGet();
        ws.frameHandler(new MessageAssembler(Gateway.MAX_TEXT_BYTES, gateway.maxBinaryBytes(), this));
        ws.exceptionHandler(this::onException);
        ws.closeHandler(v -> {
            if (state == State.READY) {
                // The client went away on its own: said once, here, not at every round after. A close frame
                // with 1000 is a deliberate close; none (killed, network) or another code is worth a warning.
                Short code = ws.closeStatusCode();
                String line = "worker '{}' (slot {}) disconnected without bye (close code {})";
                if (code != null && code == CloseCodes.NORMAL) {
                    LOG.info(line, worker, slot, code);
                } else {
                    LOG.warn(line, worker, slot, code == null ? "none" : code);
                }
            }
            cleanup();
            gateway.untrack(conn);
        });
        long timeoutMs = gateway.config.handshakeTimeoutMs();
        helloTimer = gateway.vertx.setTimer(timeoutMs, t -> {
            if (state == State.AWAIT_HELLO) {
                close(CloseCodes.TOO_SLOW, "no hello within " + timeoutMs + " ms (ws.handshake_timeout_ms)");
            }
        });
    }

    /**
     * A frame the WebSocket layer could not decode: one over the frame limit (twice a chunk frame) or a
     * protocol violation. Vert.x then drops the connection without a close frame; the close frame with the
     * decoder's code (1009 too big, 1002 protocol) and a reason goes out first.
     */
    private void onException(Throwable e) {
        if (e instanceof CorruptedWebSocketFrameException bad && state != State.CLOSED) {
            String reason = bad.closeStatus().code() == CloseCodes.MESSAGE_TOO_BIG
                    ? "frame over " + gateway.frameLimit() + " bytes (twice one chunk frame)"
                    : "bad frame: " + bad.getMessage();
            close((short) bad.closeStatus().code(), reason);
        } else {
            LOG.debug("worker '{}': {}", worker, e.toString());
        }
    }

    /** A message over its limit (4096 bytes of text, one chunk frame of binary): closed with 4413. */
    @Override
    public void tooBig(boolean text, long bytes, int limit) {
        close(CloseCodes.TOO_BIG, (text ? "text" : "binary") + " message of " + bytes + "+ bytes, limit " + limit);
    }

    /** Vert.x answers every ping with a pong by itself: pings take a token and are paced by the write queue. */
    @Override
    public void ping() {
        if (state == State.CLOSED) {
            pauseIfFull(gateway, ws); // closing: read on only as long as the pongs go out
        } else if (!bucket.tryTake()) {
            close(CloseCodes.FLOOD, "more than " + (long) gateway.config.controlRate() + " control messages or pings "
                    + "a second (burst " + gateway.config.controlBurst() + ")");
        } else {
            watchWrites(true);
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Control messages in

    @Override
    public void text(String text) {
        if (state == State.CLOSED) {
            return;
        }
        JsonObject msg;
        try {
            msg = new JsonObject(text);
        } catch (DecodeException | ClassCastException e) {
            msg = null;
        }
        String type = msg == null ? null : msg.getValue("type") instanceof String s ? s : null;
        // Acknowledgements of aggregate chunks are paced by the credits; everything else is rate-limited.
        if ("ack".equals(type) && state == State.READY && onAck(msg)) {
            return;
        }
        if (!bucket.tryTake()) {
            close(CloseCodes.FLOOD, "more than " + (long) gateway.config.controlRate() + " control messages a second "
                    + "(burst " + gateway.config.controlBurst() + ")");
            return;
        }
        if (state == State.AWAIT_HELLO) {
            hello(msg, type);
            return;
        }
        if (msg == null) {
            error(Codes.BAD_REQUEST, "not a JSON object: " + abbreviate(text));
        } else if (type == null) {
            error(Codes.BAD_REQUEST, "a control message needs a string \"type\"");
        } else if (state == State.JOINING) {
            error(Codes.BAD_REQUEST, "wait for the session before sending '" + type + "'");
        } else {
            switch (type) {
                case "bye" -> close(CloseCodes.NORMAL, "bye");
                case "ack" -> error(Codes.BAD_REQUEST, "no aggregate chunk " + msg.getValue("round") + "/"
                        + msg.getValue("chunk") + " awaits an ack");
                case "hello" -> error(Codes.BAD_REQUEST, "already in a session (slot " + slot + ")");
                default -> error(Codes.BAD_REQUEST, "unknown message type '" + abbreviate(type) + "'");
            }
        }
    }

    private void hello(JsonObject msg, String type) {
        if (msg == null || !"hello".equals(type)) {
            close(CloseCodes.PROTOCOL, "the first message must be {\"type\": \"hello\", \"version\": 1, \"dim\": N}");
            return;
        }
        Object version = msg.getValue("version");
        if (!(version instanceof Number v) || v.longValue() != WsProtocol.VERSION || v.doubleValue() != WsProtocol.VERSION) {
            close(CloseCodes.PROTOCOL, "unsupported protocol version " + version + "; this server speaks " + WsProtocol.VERSION);
            return;
        }
        Long dim = integer(msg.getValue("dim"), 1, Long.MAX_VALUE);
        Object wanted = msg.getValue("slot");
        Long slotWanted = wanted == null ? null : integer(wanted, 0, gateway.job.workers() - 1);
        if (dim == null) {
            close(CloseCodes.PROTOCOL, "hello needs \"dim\", an integer >= 1, got " + abbreviate(String.valueOf(msg.getValue("dim"))));
            return;
        }
        if (wanted != null && slotWanted == null) {
            close(CloseCodes.PROTOCOL, "\"slot\" must be an integer from 0 to " + (gateway.job.workers() - 1) + ", got "
                    + abbreviate(String.valueOf(wanted)));
            return;
        }
        JsonObject join = new JsonObject().put("worker", worker).put("dim", dim);
        if (slotWanted != null) {
            join.put("slot", slotWanted.intValue());
        }
        state = State.JOINING;
        gateway.vertx.eventBus().<JsonObject>request(gateway.addresses.join(), join).onComplete(ar -> {
            if (state == State.CLOSED) {
                return;
            }
            if (ar.failed()) {
                if (ar.cause() instanceof ReplyException e && e.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
                    close(e.failureCode() == Codes.CLOSED ? CloseCodes.CONFLICT : CloseCodes.PROTOCOL, e.getMessage());
                } else {
                    close(CloseCodes.SERVER_ERROR, "the aggregator did not answer the join: " + ar.cause().getMessage());
                }
                return;
            }
            JsonObject session = ar.result().body();
            slot = session.getInteger("slot");
            credits = session.getInteger("credits");
            results = gateway.vertx.eventBus().consumer(gateway.addresses.results(slot), this::onResult);
            gateway.consumers.incrementAndGet();
            results.completion().onComplete(registered -> {
                if (state == State.CLOSED) {
                    return;
                }
                if (registered.failed()) {
                    close(CloseCodes.SERVER_ERROR, "cannot receive results: " + registered.cause().getMessage());
                    return;
                }
                state = State.READY;
                LOG.info("worker '{}' connected over WebSocket as slot {} ({})", worker, slot, ws.remoteAddress());
                send(new JsonObject().put("type", "session").put("version", WsProtocol.VERSION).mergeIn(session));
            });
        });
    }

    /**
     * The value as a long if it is a JSON integer within [min, max], else null: never truncated (10000.7,
     * 1e3 and 2^40 for an int are refused, not cut).
     */
    static Long integer(Object value, long min, long max) {
        long v;
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            v = ((Number) value).longValue();
        } else if (value instanceof java.math.BigInteger big && big.bitLength() < 64) {
            v = big.longValue();
        } else {
            return null;
        }
        return v >= min && v <= max ? v : null;
    }

    /** Handles an ack of an aggregate chunk; false if no such chunk awaits one. */
    private boolean onAck(JsonObject msg) {
        Long round = integer(msg.getValue("round"), 0, Long.MAX_VALUE);
        Long chunk = integer(msg.getValue("chunk"), 0, Integer.MAX_VALUE);
        if (round == null || chunk == null) {
            return false;
        }
        return bridge.acknowledge(new Sent(round, chunk.intValue()), 0, null);
    }

    // ---------------------------------------------------------------------------------------------------
    // Gradient frames in

    @Override
    public void binary(Buffer frame) {
        if (state != State.READY) {
            if (state != State.CLOSED) {
                close(CloseCodes.PROTOCOL, "send hello and wait for the session before any chunk frame");
            }
            return;
        }
        boolean header = frame.length() >= ChunkFrame.HEADER_BYTES && frame.getIntLE(0) == ChunkFrame.MAGIC;
        Long round = header ? frame.getLongLE(8) : null;
        Integer chunk = header ? frame.getIntLE(20) : null;
        if (header && frame.getIntLE(16) != slot) {
            // Never forwarded: the aggregator would blame the slot the header names.
            refuseLocally(round, chunk, Codes.BAD_REQUEST, "the frame names slot " + frame.getIntLE(16)
                    + "; this session is slot " + slot);
            return;
        }
        if (bridge.forwarding() >= credits) {
            refuseLocally(round, chunk, Codes.TOO_MANY, "more than " + credits + " chunks unacknowledged (credits)");
            return;
        }
        bridge.forward(frame).onSuccess(answer -> {
            if (state == State.CLOSED) {
                return;
            }
            if (answer.code() == 0) {
                send(new JsonObject().put("type", "ack").put("round", round).put("chunk", chunk));
            } else {
                chunkError(round, chunk, answer.code(), answer.reason());
            }
        });
    }

    /** A frame answered here without reaching the aggregator: it counts against the control rate. */
    private void refuseLocally(Long round, Integer chunk, int code, String reason) {
        if (!bucket.tryTake()) {
            close(CloseCodes.FLOOD, "too many refused frames (over " + (long) gateway.config.controlRate() + " a second)");
            return;
        }
        chunkError(round, chunk, code, reason);
        watchWrites(true);
    }

    private void chunkError(Long round, Integer chunk, int code, String reason) {
        JsonObject msg = new JsonObject().put("type", "chunk_error");
        if (round != null) {
            msg.put("round", round).put("chunk", chunk);
        }
        send(msg.put("code", code).put("reason", reason));
    }

    private void error(int code, String reason) {
        send(new JsonObject().put("type", "error").put("code", code).put("reason", reason));
        watchWrites(true);
    }

    // ---------------------------------------------------------------------------------------------------
    // Results out

    private void onResult(Message<Object> msg) {
        if (state != State.READY) {
            msg.fail(Codes.GONE, "worker '" + worker + "' is not connected");
            return;
        }
        String type = msg.headers().get("type");
        if ("summary".equals(type) && msg.body() instanceof JsonObject summary) {
            JsonObject result = new JsonObject().put("type", "result").mergeIn(summary);
            send(result).onComplete(ar -> {
                if (ar.succeeded()) {
                    msg.reply(null);
                } else {
                    msg.fail(Codes.GONE, "the result could not be written: " + ar.cause().getMessage());
                }
            });
        } else if ("dropped".equals(type) && msg.body() instanceof JsonObject notice) {
            // The aggregator stopped this worker's result stream of a round (result_timeout_ms, max_result_rounds).
            send(new JsonObject().put("type", "dropped").mergeIn(notice));
        } else if ("chunk".equals(type) && msg.body() instanceof Buffer frame && frame.length() >= ChunkFrame.HEADER_BYTES) {
            long round = frame.getLongLE(8);
            int chunk = frame.getIntLE(20);
            long timeoutMs = gateway.job.resultTimeoutMs();
            long timer = gateway.vertx.setTimer(timeoutMs, t -> close(CloseCodes.TOO_SLOW, "aggregate chunk " + chunk
                    + " of round " + round + " not acknowledged within " + timeoutMs + " ms (result_timeout_ms)"));
            // A resend of the same chunk replaces the first: the aggregator gave up on it.
            bridge.hold(new Sent(round, chunk), msg, timer);
            gateway.maxUnackedResults.accumulateAndGet(bridge.held(), Math::max);
            ws.writeBinaryMessage(frame);
            watchWrites(false);
        } else {
            msg.fail(Codes.BAD_REQUEST, "unexpected result message of type " + type);
        }
    }

    private io.vertx.core.Future<Void> send(JsonObject msg) {
        io.vertx.core.Future<Void> written = ws.writeTextMessage(msg.encode());
        watchWrites(false);
        return written;
    }

    /**
     * Bounds what waits in the socket's write queue, whatever wrote it (our messages, aggregate frames, Vert.x's
     * pongs). While the queue is full a timer runs: a client that reads nothing for {@code ws.write_stall_ms}
     * is closed. {@code pauseReading} also stops reading for what a client can make us write without bound
     * (pongs, answers to bad control messages and to frames refused here) until the queue drains. Everything
     * else we write is bounded by the credits (one ack or chunk_error per frame in flight, at most W aggregate
     * frames unacknowledged) and by the open rounds (one result each), so reading is not paused for it:
     * pausing a client that is itself blocked sending its last chunks while its results queue up would stall
     * both sides until the result timeout.
     */
    private void watchWrites(boolean pauseReading) {
        if (state == State.CLOSED || ws.isClosed() || !ws.writeQueueFull()) {
            return;
        }
        if (pauseReading) {
            paused = true;
            pause(gateway, ws, () -> paused || state == State.CLOSED);
        }
        if (stallTimer < 0) {
            long stallMs = gateway.config.writeStallMs();
            stallTimer = gateway.vertx.setTimer(stallMs, t -> {
                stallTimer = -1;
                stalled(stallMs);
            });
            ws.drainHandler(v -> drained());
        }
    }

    private void drained() {
        ws.drainHandler(null);
        gateway.vertx.cancelTimer(stallTimer);
        stallTimer = -1;
        if (paused) {
            paused = false;
            if (state != State.CLOSED) {
                ws.resume();
            }
        }
    }

    /** The client read nothing for ws.write_stall_ms: closed, and the TCP connection dropped at once. */
    private void stalled(long stallMs) {
        close(CloseCodes.TOO_SLOW, "not reading: the write queue stayed full for " + stallMs + " ms (ws.write_stall_ms)");
        VertxInternals.abort(conn); // the close frame would wait behind everything the client does not read
    }

    // ---------------------------------------------------------------------------------------------------
    // Closing

    private void close(short code, String reason) {
        if (state == State.CLOSED) {
            return;
        }
        if (code != CloseCodes.NORMAL) {
            LOG.info("closing worker '{}' (slot {}): {} {}", worker, slot, code, reason);
        } else if (state == State.READY) {
            LOG.info("worker '{}' (slot {}) left: {}", worker, slot, reason);
        }
        gateway.closed(code);
        cleanup();
        closeSocket(gateway, conn, ws, code, reason);
    }

    /** Unregisters the results consumer, refuses the unacknowledged aggregate chunks, frees the token. */
    private void cleanup() {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        gateway.vertx.cancelTimer(helloTimer);
        gateway.vertx.cancelTimer(stallTimer);
        gateway.live.remove(worker, this);
        gateway.connections.decrementAndGet();
        if (results != null) {
            results.unregister().onComplete(ar -> gateway.consumers.decrementAndGet());
        }
        bridge.close("worker '" + worker + "' disconnected");
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
