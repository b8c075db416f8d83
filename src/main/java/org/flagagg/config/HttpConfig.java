package org.flagagg.config;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * The "http" section: the HTTP server of the dashboard, GET /rounds, /events, /metrics, /ready and the
 * WebSocket gateway.
 *
 * @param host        interface to bind
 * @param port        port; 0 picks a free one
 * @param readTokens  read tokens file (one {@code NAME SHA256_HEX} a line), or null: those pages are open
 * @param metricsOpen serve /metrics without a read token (for Prometheus)
 */
public record HttpConfig(String host, int port, Path readTokens, boolean metricsOpen) {

    /** Reads a checked "http" section ({@link Configuration#load}). */
    static HttpConfig parse(JsonObject http) {
        return new HttpConfig(http.getString("host"), http.getInteger("port"),
                Configuration.path(http.getString("read_tokens")), http.getBoolean("metrics_open"));
    }
}
