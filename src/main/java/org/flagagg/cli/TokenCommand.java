package org.flagagg.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.flagagg.config.InputException;
import org.flagagg.config.TokenTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code flagagg token WORKER_ID}: a new worker token and its line for the server's tokens file. */
@Command(name = "token", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Prints a new random token (256 bits, URL-safe base64) for a WebSocket worker on the first "
                + "line, and its line for the server's tokens file (WORKER_ID SHA256_HEX) on the second.",
            "Give the token to the worker (Authorization: Bearer TOKEN); append the second line to the file passed "
                + "to 'flagagg server --tokens FILE' and restart the server. The server stores only the hash."})
final class TokenCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "WORKER_ID", description = "The worker's id (1-128 characters, no spaces): its name in "
            + "round records.")
    String worker;

    @Override
    public Integer call() {
        if (worker.isEmpty() || worker.length() > 128 || worker.chars().anyMatch(Character::isWhitespace)) {
            throw new InputException("WORKER_ID must be 1-128 characters without spaces, got '" + worker + "'");
        }
        String token = TokenTable.newToken();
        PrintWriter out = spec.commandLine().getOut();
        out.println(token);
        out.println(TokenTable.line(worker, token));
        out.flush();
        return 0;
    }
}
