package org.flagagg.wire;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocketFrame;
import java.nio.charset.StandardCharsets;

/**
 * Turns WebSocket frames into whole messages under a size limit per kind. Used instead of Vert.x's
 * message handlers because those copy every binary message once more, and because a message over the limit
 * must end in our close code with a reason, not in a generic exception. A message of one frame (what every
 * client sends) is handed over as the frame's own buffer, without a copy.
 */
public final class MessageAssembler implements Handler<WebSocketFrame> {

    /** What the assembler delivers. */
    public interface Sink {
        void text(String text);

        void binary(Buffer message);

        /** A message passed its limit; nothing more is delivered. */
        void tooBig(boolean text, long bytes, int limit);

        /** A ping came (Vert.x has already answered it with a pong). */
        default void ping() {
        }
    }

    private final int maxText;
    private final int maxBinary;
    private final Sink sink;
    private Buffer partial;
    private boolean partialText;
    private boolean failed;

    public MessageAssembler(int maxText, int maxBinary, Sink sink) {
        this.maxText = maxText;
        this.maxBinary = maxBinary;
        this.sink = sink;
    }

    @Override
    public void handle(WebSocketFrame frame) {
        if (failed) {
            return;
        }
        boolean text;
        if (frame.isPing()) {
            sink.ping();
            return;
        }
        if (frame.isText() || frame.isBinary()) {
            text = frame.isText();
            partial = null;
            partialText = text;
        } else if (frame.isContinuation() && partial != null) {
            text = partialText;
        } else {
            return; // pong, close, or a stray continuation
        }
        Buffer data = frame.binaryData();
        int limit = text ? maxText : maxBinary;
        long size = (partial == null ? 0 : partial.length()) + (long) data.length();
        if (size > limit) {
            failed = true;
            partial = null;
            sink.tooBig(text, size, limit);
            return;
        }
        if (frame.isFinal()) {
            Buffer message = data;
            if (partial != null) {
                message = partial.appendBuffer(data);
                partial = null;
            }
            if (text) {
                sink.text(message.toString(StandardCharsets.UTF_8));
            } else {
                sink.binary(message);
            }
        } else {
            if (partial == null) {
                partial = Buffer.buffer((int) Math.min(limit, 2L * data.length()));
            }
            partial.appendBuffer(data);
        }
    }
}
