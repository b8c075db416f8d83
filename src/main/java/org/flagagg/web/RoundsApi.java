package org.flagagg.web;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;

/**
 * {@code GET /rounds[?last=N]}: the last N (default 100, at most 10000) round records from the round log as
 * a JSON array, oldest first.
 */
public final class RoundsApi {
    static final int DEFAULT_LAST = 100;
    static final int MAX_LAST = 10_000;

    private RoundsApi() {
    }

    /** Mounts the route on {@code router}; a null log answers 404 with the reason. */
    public static void mount(Router router, Vertx vertx, Path roundLog) {
        router.get("/rounds").handler(ctx -> rounds(vertx, roundLog, ctx));
    }

    private static void rounds(Vertx vertx, Path roundLog, RoutingContext ctx) {
        int last;
        try {
            String param = ctx.request().getParam("last");
            last = param == null ? DEFAULT_LAST : Integer.parseInt(param);
            if (last < 1 || last > MAX_LAST) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            HttpApi.json(ctx, 400, new JsonObject().put("error", "last must be an integer in 1.." + MAX_LAST));
            return;
        }
        if (roundLog == null) {
            HttpApi.json(ctx, 404, new JsonObject().put("error", "the round log is off (round_log is empty)"));
            return;
        }
        String file = roundLog.toString();
        vertx.fileSystem().exists(file)
                .compose(exists -> exists ? vertx.fileSystem().readFile(file) : Future.succeededFuture(Buffer.buffer()))
                .onComplete(ar -> {
                    if (ar.failed()) {
                        HttpApi.json(ctx, 500, new JsonObject().put("error", "cannot read the round log"));
                        return;
                    }
                    String[] lines = ar.result().toString().split("\n");
                    JsonArray records = new JsonArray();
                    for (int i = Math.max(0, lines.length - last); i < lines.length; i++) {
                        if (!lines[i].isBlank()) {
                            records.add(new JsonObject(lines[i]));
                        }
                    }
                    HttpApi.json(ctx, 200, records);
                });
    }
}
