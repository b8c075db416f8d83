package org.flagagg.web;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.micrometer.PrometheusScrapingHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.AggregatorVerticle;
import org.flagagg.round.ChunkStore;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.VertxInternals;

/**
 * The live view of a job: the dashboard page ({@code GET /}, assets under {@code /dashboard/}), round
 * records as Server-Sent Events ({@code GET /events}), Prometheus metrics ({@code GET /metrics}) and the
 * readiness probe ({@code GET /ready}). One {@link #mount} call sets it all up on the server's router;
 * {@link #follow} moves it to another job (the demo runs one job after another).
 */
public final class Dashboard {
    static final String ECHARTS_POM = "META-INF/maven/org.webjars.npm/echarts/pom.properties";

    private final Vertx vertx;
    private final EngineMeters meters;
    private final RoundEvents events;
    private volatile AggregatorVerticle aggregator;
    private MessageConsumer<JsonObject> records;
    private Future<Void> following = Future.succeededFuture();

    private Dashboard(Vertx vertx, Metrics metrics) {
        this.vertx = vertx;
        this.meters = new EngineMeters(metrics.registry());
        this.events = new RoundEvents(vertx, metrics.registry());
    }

    /**
     * Mounts the dashboard, {@code /events}, {@code /metrics} and {@code /ready} on {@code router} and
     * follows {@code job} (null: nothing yet, until {@link #follow}). {@code metrics} is the registry Vert.x reports into (see
     * {@link Metrics#startVertx}); null makes one with the engine's meters only.
     */
    public static Dashboard mount(Router router, Vertx vertx, JobConfig job, ChunkStore store,
            AggregatorVerticle aggregator, Metrics metrics) {
        Metrics m = metrics == null ? new Metrics() : metrics;
        Dashboard dashboard = new Dashboard(vertx, m);
        router.get("/metrics").handler(PrometheusScrapingHandler.create(m.registry()));
        router.get("/ready").handler(dashboard::ready);
        router.get("/events").handler(dashboard.events::handle);
        router.get("/").handler(ctx -> ctx.redirect("/dashboard/"));
        router.get("/dashboard/lib/*").handler(StaticHandler.create(echartsRoot()).setMaxAgeSeconds(86_400));
        // The page and its script change with the jar: browsers revalidate them.
        router.get("/dashboard/*").handler(StaticHandler.create("web").setCachingEnabled(false)
                .setIndexPage("index.html"));
        if (job != null) {
            dashboard.follow(job, store, aggregator);
        }
        return dashboard;
    }

    /** The webjar's dist folder on the classpath (its version is read from the webjar, not written here). */
    static String echartsRoot() {
        try (InputStream in = Dashboard.class.getClassLoader().getResourceAsStream(ECHARTS_POM)) {
            if (in == null) {
                throw new IllegalStateException(ECHARTS_POM + " is missing: the echarts webjar is not on the classpath");
            }
            Properties pom = new Properties();
            pom.load(in);
            return "META-INF/resources/webjars/echarts/" + pom.getProperty("version") + "/dist";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Follows another job: the gauges read its store and aggregator, its round records feed the meters and
     * the event stream, and connected pages reset. Completes once the record consumer is registered.
     */
    public synchronized Future<Void> follow(JobConfig job, ChunkStore store, AggregatorVerticle aggregator) {
        Future<Void> previous = records == null ? Future.succeededFuture() : records.unregister();
        this.aggregator = aggregator;
        meters.follow(store, aggregator);
        events.job(new JsonObject().put("job", job.job()).put("rule", job.rule().name()).put("workers", job.workers())
                .put("dim", job.dim()).put("chunks", job.chunks()).put("quorum", job.quorum()));
        records = vertx.eventBus().localConsumer(new Addresses(job.job()).rounds(), msg -> {
            meters.onRecord(msg.body());
            events.round(msg.body());
        });
        following = previous.compose(v -> records.completion());
        return following;
    }

    /** Completes once the followed job's round records are being received (registration is asynchronous). */
    public synchronized Future<Void> following() {
        return following;
    }

    /** Stops the record consumer and ends the event streams; the routes stay (they answer from nothing). */
    public synchronized Future<Void> close() {
        events.close();
        return records == null ? Future.succeededFuture() : records.unregister();
    }

    /** Ready when the aggregator is deployed and running and, when clustered, the cluster manager is active. */
    private void ready(RoutingContext ctx) {
        AggregatorVerticle a = aggregator;
        boolean aggregatorUp = a != null && a.load().running();
        JsonObject checks = new JsonObject().put("aggregator", aggregatorUp ? "UP" : "DOWN");
        boolean clusterUp = true;
        if (vertx.isClustered()) {
            clusterUp = VertxInternals.clusterActive(vertx);
            checks.put("cluster", clusterUp ? "UP" : "DOWN");
        }
        boolean up = aggregatorUp && clusterUp;
        HttpApi.json(ctx, up ? 200 : 503, new JsonObject().put("status", up ? "UP" : "DOWN").put("checks", checks));
    }
}
