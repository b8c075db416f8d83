package org.flagagg.worker;

import org.flagagg.wire.CloseCodes;

/**
 * The server refused something: the HTTP status when it refused the upgrade (401 bad token, 400), a close
 * code (4409, 4400, 4413, 4429, 4408, 1009, 1011, ...) when the connection was closed, or the code of an
 * {@code error} message. The message gives the code and the server's reason.
 */
public final class FlagaggException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;
    private final String reason;

    public FlagaggException(int code, String reason) {
        super(describe(code, reason));
        this.code = code;
        this.reason = reason;
    }

    public int code() {
        return code;
    }

    public String reason() {
        return reason;
    }

    private static String describe(int code, String reason) {
        String what = switch (code) {
            case 401 -> "refused: bad token";
            case CloseCodes.CONFLICT -> "refused: conflict";
            case CloseCodes.PROTOCOL -> "closed: protocol violation";
            case CloseCodes.TOO_BIG, CloseCodes.MESSAGE_TOO_BIG -> "closed: message too big";
            case CloseCodes.FLOOD -> "closed: too many control messages";
            case CloseCodes.TOO_SLOW -> "closed: too slow";
            case CloseCodes.NORMAL -> "closed";
            case CloseCodes.GOING_AWAY -> "closed: the server is going away";
            case CloseCodes.SERVER_ERROR -> "closed: server error";
            case 1006 -> "connection lost";
            default -> "server error";
        };
        return "flagagg server " + what + " (" + code + ")" + (reason == null || reason.isEmpty() ? "" : ": " + reason);
    }
}
