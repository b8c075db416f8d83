package org.flagagg.config;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * The "ws" section of the configuration (docs/architecture.md, "WebSocket gateway").
 *
 * @param tokens                   tokens file (one {@code WORKER_ID SHA256_HEX} a line), or null: every
 *                                 connection refused
 * @param tlsKeystore              PKCS12 key store for wss://, or null for plain ws://
 * @param tlsPassword              the key store's password
 * @param controlRate              control messages a second a connection may send, beyond acknowledgements of
 *                                 aggregate chunks (those are bounded by the credits); pings count too
 * @param controlBurst             control messages a connection may send at once
 * @param handshakeTimeoutMs       a TCP connection must send its first HTTP request, and a WebSocket its hello,
 *                                 within this time, else it is closed
 * @param writeStallMs             a WebSocket whose write queue stays full this long (its client does not read)
 *                                 is closed
 * @param maxConnectionsPerAddress open TCP connections to the HTTP port from one remote address; more are
 *                                 closed as they are accepted
 * @param maxConnections           open TCP connections to the HTTP port in all
 */
public record GatewayConfig(Path tokens, Path tlsKeystore, String tlsPassword, double controlRate, int controlBurst,
        long handshakeTimeoutMs, long writeStallMs, int maxConnectionsPerAddress, int maxConnections) {

    public GatewayConfig {
        if (!(controlRate > 0) || controlBurst < 1) {
            throw new IllegalArgumentException("ws.control_rate must be > 0 and ws.control_burst >= 1, got "
                    + controlRate + " and " + controlBurst);
        }
        if (handshakeTimeoutMs < 1 || writeStallMs < 1) {
            throw new IllegalArgumentException("ws.handshake_timeout_ms and ws.write_stall_ms must be >= 1, got "
                    + handshakeTimeoutMs + " and " + writeStallMs);
        }
        if (maxConnectionsPerAddress < 1 || maxConnections < maxConnectionsPerAddress) {
            throw new IllegalArgumentException("ws.max_connections_per_address must be >= 1 and ws.max_connections "
                    + ">= it, got " + maxConnectionsPerAddress + " and " + maxConnections);
        }
    }

    /** The packaged defaults (conf/flagagg.json). */
    public static GatewayConfig defaults() {
        return parse(Configuration.defaults().getJsonObject("ws"));
    }

    /** A "ws" section laid over the packaged defaults (only what differs is needed), for tests. */
    public static GatewayConfig fromJson(JsonObject ws) {
        return parse(Configuration.defaults().getJsonObject("ws").mergeIn(ws));
    }

    /** Reads a complete "ws" section, as checked by {@link Configuration#load}. */
    static GatewayConfig parse(JsonObject ws) {
        try {
            return new GatewayConfig(Configuration.path(ws.getString("tokens")),
                    Configuration.path(ws.getString("tls_keystore")), ws.getString("tls_password"),
                    ws.getDouble("control_rate"), ws.getInteger("control_burst"),
                    ws.getLong("handshake_timeout_ms"), ws.getLong("write_stall_ms"),
                    ws.getInteger("max_connections_per_address"), ws.getInteger("max_connections"));
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("the ws section has a mistyped key: " + e.getMessage());
        }
    }

    public boolean tls() {
        return tlsKeystore != null;
    }

    public GatewayConfig withControl(double rate, int burst) {
        return new GatewayConfig(tokens, tlsKeystore, tlsPassword, rate, burst, handshakeTimeoutMs, writeStallMs,
                maxConnectionsPerAddress, maxConnections);
    }

    public GatewayConfig withTls(Path keystore, String password) {
        return new GatewayConfig(tokens, keystore, password, controlRate, controlBurst, handshakeTimeoutMs, writeStallMs,
                maxConnectionsPerAddress, maxConnections);
    }
}
