package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.flagagg.ws.GatewayConfig;
import org.flagagg.ws.TokenTable;
import picocli.CommandLine.Option;

/** The WebSocket gateway's flags (the "ws" configuration section). */
final class WsOptions {

    @Option(names = "--tokens", paramLabel = "FILE", description = "WebSocket workers' tokens: one 'WORKER_ID "
            + "SHA256_HEX' a line, '#' comments ('flagagg token ID' makes one). Without it every worker connection "
            + "is refused. Revoke a token by removing its line and restarting.")
    Path tokens;

    @Option(names = "--tls-keystore", paramLabel = "FILE", description = "PKCS12 key store: serve wss:// instead of "
            + "ws:// (and https://).")
    Path tlsKeystore;

    @Option(names = "--tls-password", paramLabel = "PASSWORD", description = "The key store's password (default: "
            + "the environment variable FLAGAGG_TLS_PASSWORD, then ws.tls_password).")
    String tlsPassword;

    /** Lays the flags and FLAGAGG_TLS_PASSWORD over the "ws" section and reads it, tokens file included. */
    GatewayConfig resolve(JsonObject json, Map<String, String> env) {
        JsonObject ws = json.getJsonObject("ws");
        if (ws == null) {
            ws = new JsonObject();
            json.put("ws", ws);
        }
        RuleOptions.putIfSet(ws, "tokens", tokens == null ? null : tokens.toString());
        RuleOptions.putIfSet(ws, "tls_keystore", tlsKeystore == null ? null : tlsKeystore.toString());
        RuleOptions.putIfSet(ws, "tls_password", tlsPassword != null ? tlsPassword : env.get("FLAGAGG_TLS_PASSWORD"));
        GatewayConfig config = GatewayConfig.fromJson(ws);
        if (config.tls() && !Files.isReadable(config.tlsKeystore())) {
            throw new InputException("--tls-keystore " + config.tlsKeystore() + ": no such readable file");
        }
        return config;
    }

    /** The token table of the configuration: the tokens file, or empty (every connection refused). */
    static TokenTable tokenTable(GatewayConfig config) {
        return config.tokens() == null ? TokenTable.empty() : TokenTable.read(config.tokens());
    }
}
