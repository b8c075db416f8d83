package org.flagagg.cli;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** A command run in-process with {@code --out DIR}: its exit code, its stdout and the results.json it wrote. */
record CommandRun(int exit, String stdout, JsonObject results) {

    static CommandRun of(Path out, String... args) throws IOException {
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--out";
        all[args.length + 1] = out.toString();
        StringWriter stdout = new StringWriter();
        int exit = Main.run(all, new PrintWriter(stdout, true), new PrintWriter(new StringWriter(), true));
        return new CommandRun(exit, stdout.toString(), new JsonObject(Files.readString(out.resolve("results.json"))));
    }
}
