package org.flagagg.web;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.flagagg.engine.RoundLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /rounds[?last=N]}: the last N (default 100, at most 10000) round records from the round log as
 * a JSON array, oldest first. Lines that are not JSON objects (a torn write) are skipped, counted in the
 * {@value #SKIPPED_HEADER} header and logged; the request is always answered (500 with the reason when the
 * log cannot be read).
 */
public final class RoundsApi {
    private static final Logger LOG = LoggerFactory.getLogger(RoundsApi.class);
    /** Response header: how many of the lines read were not round records (torn or foreign lines, skipped). */
    public static final String SKIPPED_HEADER = "Flagagg-Skipped-Lines";
    static final int DEFAULT_LAST = 100;
    static final int MAX_LAST = 10_000;
    /** Reads of the log at once (each holds up to {@link RoundLog#MAX_TAIL_BYTES} a few times over); more get 503. */
    static final int MAX_READS = 4;

    private RoundsApi() {
    }

    /** Mounts the route on {@code router}; a null log answers 404 with the reason. */
    public static void mount(Router router, Vertx vertx, Path roundLog) {
        AtomicInteger reads = new AtomicInteger();
        router.get("/rounds").handler(ctx -> rounds(vertx, roundLog, reads, ctx));
    }

    private static void rounds(Vertx vertx, Path roundLog, AtomicInteger reads, RoutingContext ctx) {
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
        if (reads.incrementAndGet() > MAX_READS) {
            reads.decrementAndGet();
            ctx.response().putHeader("Retry-After", "1");
            HttpApi.json(ctx, 503, new JsonObject().put("error", "too many round log reads at once (max " + MAX_READS
                    + "), retry"));
            return;
        }
        vertx.executeBlocking(() -> RoundLog.tail(roundLog, last), false).onComplete(ar -> {
            reads.decrementAndGet();
            if (ar.failed()) {
                LOG.warn("GET /rounds: cannot read the round log {}: {}", roundLog, ar.cause().toString());
                HttpApi.json(ctx, 500, new JsonObject().put("error", "cannot read the round log: " + ar.cause().getMessage()));
                return;
            }
            RoundLog.Tail tail = ar.result();
            if (tail.skipped() > 0) {
                LOG.warn("GET /rounds: skipped {} unreadable lines of the round log {}", tail.skipped(), roundLog);
            }
            ctx.response().putHeader(SKIPPED_HEADER, Integer.toString(tail.skipped()));
            HttpApi.json(ctx, 200, new JsonArray(new ArrayList<>(tail.records())));
        });
    }
}
