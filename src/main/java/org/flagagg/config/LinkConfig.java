package org.flagagg.config;

import io.vertx.core.json.JsonObject;

/**
 * The "link" section: the data link for worker nodes in other JVMs (docs/architecture.md, "Data link").
 *
 * @param port               port on the cluster host; 0 picks a free one
 * @param maxConnections     connections open in all
 * @param maxUnauthenticated connections open before AUTH
 * @param authTimeoutMs      a connection not authenticated within this time is closed
 */
public record LinkConfig(int port, int maxConnections, int maxUnauthenticated, long authTimeoutMs) {

    /** The packaged defaults (conf/flagagg.json). */
    public static LinkConfig defaults() {
        return parse(Configuration.defaults().getJsonObject("link"));
    }

    /** Reads a checked "link" section ({@link Configuration#load}). */
    static LinkConfig parse(JsonObject link) {
        return new LinkConfig(link.getInteger("port"), link.getInteger("max_connections"),
                link.getInteger("max_unauthenticated"), link.getLong("auth_timeout_ms"));
    }
}
