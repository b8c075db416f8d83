package org.flagagg.web;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * The aggregator's HTTP face: {@code GET /rounds[?last=N]} returns the last N (default 100, at most 10000)
 * round records from the round log as a JSON array, oldest first; {@code GET /health} answers {"status":"UP"}.
 */
public final class RoundsApi {
    static final int DEFAULT_LAST = 100;
    static final int MAX_LAST = 10_000;

    private RoundsApi() {
    }

    /** Starts the server; port 0 picks a free port (read it from the returned server). */
    public static Future<HttpServer> start(Vertx vertx, Path roundLog, String host, int port) {
        return vertx.createHttpServer().requestHandler(request -> handle(vertx, roundLog, request)).listen(port, host);
    }

    private static void handle(Vertx vertx, Path roundLog, HttpServerRequest request) {
        if (!"GET".equals(request.method().name())) {
            request.response().setStatusCode(405).putHeader("allow", "GET").end();
            return;
        }
        switch (request.path()) {
            case "/health" -> json(request, 200, new JsonObject().put("status", "UP").encode());
            case "/rounds" -> rounds(vertx, roundLog, request);
            default -> json(request, 404, new JsonObject().put("error", "no such path: " + request.path()).encode());
        }
    }

    private static void rounds(Vertx vertx, Path roundLog, HttpServerRequest request) {
        int last;
        try {
            String param = request.getParam("last");
            last = param == null ? DEFAULT_LAST : Integer.parseInt(param);
            if (last < 1 || last > MAX_LAST) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            json(request, 400, new JsonObject().put("error", "last must be an integer in 1.." + MAX_LAST).encode());
            return;
        }
        if (roundLog == null) {
            json(request, 404, new JsonObject().put("error", "the round log is off (round_log is empty)").encode());
            return;
        }
        String file = roundLog.toString();
        vertx.fileSystem().exists(file).compose(exists -> exists ? vertx.fileSystem().readFile(file)
                : Future.succeededFuture(io.vertx.core.buffer.Buffer.buffer())).onComplete(ar -> {
                    if (ar.failed()) {
                        json(request, 500, new JsonObject().put("error", "cannot read the round log").encode());
                        return;
                    }
                    String[] lines = ar.result().toString().split("\n");
                    JsonArray records = new JsonArray();
                    for (int i = Math.max(0, lines.length - last); i < lines.length; i++) {
                        if (!lines[i].isBlank()) {
                            records.add(new JsonObject(lines[i]));
                        }
                    }
                    json(request, 200, records.encode());
                });
    }

    private static void json(HttpServerRequest request, int status, String body) {
        request.response().setStatusCode(status).putHeader("content-type", "application/json").end(body);
    }
}
