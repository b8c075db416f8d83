package org.flagagg.wire;

import java.nio.charset.StandardCharsets;

/** WebSocket close codes of the worker protocol (docs/protocol.md, "WebSocket workers"). */
public final class CloseCodes {
    /** Normal end (after the client's bye). */
    public static final short NORMAL = 1000;
    /** The server is shutting down. */
    public static final short GOING_AWAY = 1001;
    /** A single frame over the WebSocket layer's frame limit (twice one chunk frame). */
    public static final short MESSAGE_TOO_BIG = 1009;
    /** A server error (the aggregator cannot be reached). */
    public static final short SERVER_ERROR = 1011;
    /** Protocol violation: no hello first, bad hello, wrong version, wrong dimension. */
    public static final short PROTOCOL = 4400;
    /**
     * Too slow: an aggregate chunk not acknowledged within result_timeout_ms, no hello within
     * ws.handshake_timeout_ms, or nothing read for ws.write_stall_ms.
     */
    public static final short TOO_SLOW = 4408;
    /** Another live connection holds this token, or the job has no slot for this worker. */
    public static final short CONFLICT = 4409;
    /** A message over the size limit. */
    public static final short TOO_BIG = 4413;
    /** Too many control messages (over the configured rate). */
    public static final short FLOOD = 4429;

    /** A close frame's reason holds at most 123 bytes of UTF-8 (RFC 6455, 5.5). */
    static final int MAX_REASON_BYTES = 123;

    private CloseCodes() {
    }

    /** The reason cut to fit a close frame, on a character boundary. */
    public static String fit(String reason) {
        if (reason.getBytes(StandardCharsets.UTF_8).length <= MAX_REASON_BYTES) {
            return reason;
        }
        StringBuilder out = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < reason.length(); ) {
            int cp = reason.codePointAt(i);
            int len = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + len > MAX_REASON_BYTES - 3) {
                break;
            }
            out.appendCodePoint(cp);
            bytes += len;
            i += Character.charCount(cp);
        }
        return out.append("...").toString();
    }
}
