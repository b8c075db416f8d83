package org.flagagg.cli;

import java.nio.file.Path;
import java.util.Map;
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

    /** Adds the flags that were given (and FLAGAGG_TLS_PASSWORD when --tls-password was not) to the layer. */
    void addTo(FlagLayer flags, Map<String, String> env) {
        flags.put("ws.tokens", tokens).put("ws.tls_keystore", tlsKeystore)
                .put("ws.tls_password", tlsPassword != null ? tlsPassword : env.get("FLAGAGG_TLS_PASSWORD"));
    }
}
