package org.flagagg.cli;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.flagagg.round.JobConfig;

/**
 * Builds the effective configuration, each layer over the one before: conf/flagagg.json as packaged, a
 * --conf FILE, FLAGAGG_* environment variables, then command-line flags.
 *
 * <p>Environment: FLAGAGG_KEY sets a top-level key, FLAGAGG_SECTION__KEY a nested one (lower-cased:
 * FLAGAGG_RULE__NAME=krum, FLAGAGG_DEADLINE__MAX_MS=5000); values are read as JSON numbers or booleans
 * when they parse as such, else as strings.
 */
final class Configuration {

    private Configuration() {
    }

    static JsonObject load(Path file, Map<String, String> env) {
        JsonObject json = JobConfig.defaults();
        if (file != null) {
            try {
                json.mergeIn(new JsonObject(Files.readString(file)), true);
            } catch (NoSuchFileException e) {
                throw new InputException(file + ": no such configuration file");
            } catch (DecodeException e) {
                throw new InputException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
            } catch (IOException e) {
                throw new InputException(file + ": cannot read: " + e.getMessage());
            }
        }
        env.forEach((name, value) -> {
            if (name.startsWith("FLAGAGG_") && name.length() > "FLAGAGG_".length() && !name.equals("FLAGAGG_LOG_LEVEL")) {
                String[] path = name.substring("FLAGAGG_".length()).toLowerCase(Locale.ROOT).split("__");
                JsonObject at = json;
                for (int i = 0; i < path.length - 1; i++) {
                    JsonObject next = at.getJsonObject(path[i]);
                    if (next == null) {
                        next = new JsonObject();
                        at.put(path[i], next);
                    }
                    at = next;
                }
                at.put(path[path.length - 1], scalar(value));
            }
        });
        return json;
    }

    private static Object scalar(String value) {
        if (value.equals("true") || value.equals("false")) {
            return Boolean.parseBoolean(value);
        }
        try {
            return value.contains(".") || value.contains("e") || value.contains("E")
                    ? (Object) Double.parseDouble(value) : (Object) Long.parseLong(value);
        } catch (NumberFormatException e) {
            return value;
        }
    }
}
