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

    public static GatewayConfig defaults() {
        return fromJson(null);
    }

    /** Reads the "ws" section; missing keys take the defaults. */
    public static GatewayConfig fromJson(JsonObject ws) {
        JsonObject json = ws == null ? new JsonObject() : ws;
        try {
            String tokens = json.getString("tokens", "");
            String keystore = json.getString("tls_keystore", "");
            String password = json.getString("tls_password", "");
            return new GatewayConfig(tokens.isEmpty() ? null : Path.of(tokens),
                    keystore.isEmpty() ? null : Path.of(keystore), password,
                    json.getNumber("control_rate", 1000).doubleValue(), json.getInteger("control_burst", 2000),
                    json.getLong("handshake_timeout_ms", 10_000L), json.getLong("write_stall_ms", 30_000L),
                    json.getInteger("max_connections_per_address", 256), json.getInteger("max_connections", 768));
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
