package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.util.Map;
import org.flagagg.config.GatewayConfig;
import org.flagagg.config.InputException;
import org.flagagg.config.TokenTable;
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
        if (config.tls()) {
            checkKeystore(config.tlsKeystore(), config.tlsPassword());
        }
        return config;
    }

    /** Opens the key store as PKCS12 with its password, so a wrong file is one line naming it, before anything starts. */
    static void checkKeystore(Path file, String password) {
        if (!Files.isReadable(file)) {
            throw new InputException("--tls-keystore " + file + ": no such readable file");
        }
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore.getInstance("PKCS12").load(in, password == null ? null : password.toCharArray());
        } catch (IOException | GeneralSecurityException e) {
            boolean badPassword = e.getCause() instanceof UnrecoverableKeyException;
            throw new InputException("--tls-keystore " + file + ": " + (badPassword
                    ? "the password is wrong (--tls-password or FLAGAGG_TLS_PASSWORD)"
                    : "not a PKCS12 key store (" + e.getClass().getSimpleName()
                            + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")"));
        }
    }

    /** The token table of the configuration: the tokens file, or empty (every connection refused). */
    static TokenTable tokenTable(GatewayConfig config) {
        return config.tokens() == null ? TokenTable.empty() : TokenTable.read(config.tokens());
    }
}
