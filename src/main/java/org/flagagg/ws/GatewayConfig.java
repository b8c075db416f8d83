package org.flagagg.ws;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * The "ws" section of the configuration (docs/architecture.md, "WebSocket gateway").
 *
 * @param tokens       tokens file (one {@code WORKER_ID SHA256_HEX} a line), or null: every connection refused
 * @param tlsKeystore  PKCS12 key store for wss://, or null for plain ws://
 * @param tlsPassword  the key store's password
 * @param controlRate  control messages a second a connection may send, beyond acknowledgements of
 *                     aggregate chunks (those are bounded by the credits)
 * @param controlBurst control messages a connection may send at once
 */
public record GatewayConfig(Path tokens, Path tlsKeystore, String tlsPassword, double controlRate, int controlBurst) {

    public GatewayConfig {
        if (!(controlRate > 0) || controlBurst < 1) {
            throw new IllegalArgumentException("ws.control_rate must be > 0 and ws.control_burst >= 1, got "
                    + controlRate + " and " + controlBurst);
        }
    }

    public static GatewayConfig defaults() {
        return new GatewayConfig(null, null, null, 1000, 2000);
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
                    json.getNumber("control_rate", 1000).doubleValue(), json.getInteger("control_burst", 2000));
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("the ws section has a mistyped key: " + e.getMessage());
        }
    }

    public boolean tls() {
        return tlsKeystore != null;
    }

    public GatewayConfig withControl(double rate, int burst) {
        return new GatewayConfig(tokens, tlsKeystore, tlsPassword, rate, burst);
    }

    public GatewayConfig withTls(Path keystore, String password) {
        return new GatewayConfig(tokens, keystore, password, controlRate, controlBurst);
    }
}
