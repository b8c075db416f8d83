package org.flagagg.web;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The aggregator's one HTTP server: components mount their routes on {@link #router()} (the round records,
 * health, and later the WebSocket gateway, the dashboard and metrics), then {@link #listen} starts it.
 */
public final class HttpApi {
    private final Vertx vertx;
    private final Router router;
    private Handler<HttpConnection> connectionHandler;

    public HttpApi(Vertx vertx) {
        this.vertx = vertx;
        this.router = Router.router(vertx);
        router.get("/health").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "UP")));
    }

    public Router router() {
        return router;
    }

    /** Called with every new connection to the server (before its first request); set before {@link #listen}. */
    public HttpApi connectionHandler(Handler<HttpConnection> handler) {
        this.connectionHandler = handler;
        return this;
    }

    /** Starts listening; port 0 picks a free port (read it from the returned server). */
    public Future<HttpServer> listen(HttpServerOptions options) {
        // Unknown paths and methods get a JSON error, not an HTML page.
        router.route().last().handler(ctx -> json(ctx, ctx.request().method().name().equals("GET") ? 404 : 405,
                new JsonObject().put("error", "no such resource: " + ctx.request().method() + " " + ctx.request().path())));
        HttpServer server = vertx.createHttpServer(options).requestHandler(router);
        if (connectionHandler != null) {
            server.connectionHandler(connectionHandler);
        }
        return server.listen();
    }

    static void json(RoutingContext ctx, int status, Object body) {
        ctx.response().setStatusCode(status).putHeader("content-type", "application/json")
                .end(body instanceof JsonObject o ? o.encode() : body instanceof io.vertx.core.json.JsonArray a ? a.encode()
                        : String.valueOf(body));
    }
}
