package org.flagagg.web;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.flagagg.config.TokenTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The aggregator's one HTTP server: components mount their routes on {@link #router()} (the round records,
 * health, the WebSocket gateway, the dashboard and metrics), then {@link #listen} starts it.
 *
 * <p>Every request first has its query string checked (a malformed one, such as {@code ?%zz}, is answered
 * 400 with the reason) and then, when read tokens are set ({@link #readTokens}), its read token: every path
 * not made public with {@link #open} answers 401 without one. A token is accepted as
 * {@code Authorization: Bearer TOKEN}, as {@code ?token=TOKEN} (for a browser: the answer then sets it as the
 * {@value #COOKIE} cookie, so the dashboard's own requests carry it) or as that cookie.
 */
public final class HttpApi {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    /** The cookie a browser keeps the read token in after opening a page with {@code ?token=}. */
    public static final String COOKIE = "flagagg_read";

    private final Vertx vertx;
    private final Router router;
    private final Set<String> open = ConcurrentHashMap.newKeySet();
    private volatile TokenTable readers;
    private Handler<HttpConnection> connectionHandler;

    public HttpApi(Vertx vertx) {
        this.vertx = vertx;
        this.router = Router.router(vertx);
        router.route().handler(this::checkQuery);
        router.route().handler(this::checkReader);
        router.route().failureHandler(this::failed);
        open("/health");
        router.get("/health").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "UP")));
    }

    /**
     * Requires a read token (one of these, same file format as the workers' tokens) on every path not
     * {@link #open}; null or an empty table leaves every path open.
     */
    public HttpApi readTokens(TokenTable tokens) {
        this.readers = tokens == null || tokens.size() == 0 ? null : tokens;
        return this;
    }

    /** Makes a path public: no read token needed (probes, and endpoints that authenticate on their own). */
    public HttpApi open(String path) {
        open.add(path);
        return this;
    }

    private void checkQuery(RoutingContext ctx) {
        try {
            ctx.request().params();
        } catch (IllegalArgumentException e) {
            json(ctx, 400, new JsonObject().put("error", "malformed query string: " + e.getMessage()));
            return;
        }
        ctx.next();
    }

    private void checkReader(RoutingContext ctx) {
        TokenTable tokens = readers;
        if (tokens == null || open.contains(ctx.request().path())) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        String query = ctx.request().getParam("token");
        Cookie cookie = ctx.request().getCookie(COOKIE);
        String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip()
                : query != null ? query : cookie != null ? cookie.getValue() : null;
        if (tokens.workerOf(token) == null) {
            ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"flagagg\"");
            json(ctx, 401, new JsonObject().put("error", token == null
                    ? "this server needs a read token: send 'Authorization: Bearer TOKEN' or open the page with ?token=TOKEN"
                    : "unknown read token"));
            return;
        }
        if (query != null) {
            ctx.response().addCookie(Cookie.cookie(COOKIE, query).setPath("/").setHttpOnly(true)
                    .setSecure(ctx.request().isSSL()).setSameSite(CookieSameSite.STRICT));
        }
        ctx.next();
    }

    /** Whatever a handler threw is answered, as JSON with the status it set (500 by default), never left hanging. */
    private void failed(RoutingContext ctx) {
        int status = ctx.statusCode() < 400 ? 500 : ctx.statusCode();
        if (status == 500) {
            LOG.warn("{} {} failed", ctx.request().method(), ctx.request().path(), ctx.failure());
        }
        if (!ctx.response().headWritten()) {
            json(ctx, status, new JsonObject().put("error", status == 500 ? "internal error: "
                    + (ctx.failure() == null ? "unknown" : ctx.failure().toString()) : "request failed"));
        } else if (!ctx.response().ended()) {
            ctx.response().reset();
        }
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
