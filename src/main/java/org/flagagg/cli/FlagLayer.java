package org.flagagg.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;

/**
 * The keys the command line set: the last layer of the configuration ({@code Configuration.load}), over
 * conf/flagagg.json, --conf and FLAGAGG_*. A flag not given sets nothing, so the layers below show through.
 */
final class FlagLayer {
    private final JsonObject json = new JsonObject();

    /** Sets {@code key} ("workers", "http.port") to a given flag's value; null (not given) sets nothing. */
    FlagLayer put(String key, Object value) {
        if (value == null) {
            return this;
        }
        String[] path = key.split("\\.");
        JsonObject at = json;
        for (int i = 0; i < path.length - 1; i++) {
            if (!(at.getValue(path[i]) instanceof JsonObject)) {
                at.put(path[i], new JsonObject());
            }
            at = at.getJsonObject(path[i]);
        }
        at.put(path[path.length - 1], value instanceof Path p ? p.toString()
                : value instanceof List<?> l ? new JsonArray(List.copyOf(l)) : value);
        return this;
    }

    JsonObject json() {
        return json;
    }
}
