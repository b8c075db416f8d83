package org.flagagg.wire;

/** The WebSocket worker protocol's version, which client and gateway compare in hello and session (docs/protocol.md). */
public final class WsProtocol {
    /** The version this build speaks. */
    public static final int VERSION = 1;

    private WsProtocol() {
    }
}
