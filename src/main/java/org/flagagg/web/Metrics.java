package org.flagagg.web;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.metrics.MetricsOptions;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.util.EnumSet;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;

/**
 * The server's one Prometheus registry: Vert.x's own meters (when Vert.x was built with
 * {@link #vertxOptions()} and {@link #vertxFactory()}) and the engine's ({@link EngineMeters}), scraped at
 * {@code GET /metrics}.
 */
public final class Metrics {
    /**
     * Vert.x labels kept. The event-bus address label is left out on purpose: each worker has its own
     * results address, so per-address series would grow with the fleet.
     */
    static final EnumSet<Label> VERTX_LABELS = EnumSet.of(Label.HTTP_ROUTE, Label.HTTP_METHOD, Label.HTTP_CODE,
            Label.POOL_TYPE, Label.POOL_NAME, Label.CLIENT_NAME, Label.EB_SIDE, Label.EB_FAILURE);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Vert.x metrics options: enabled, JVM meters on, bounded labels. */
    public MetricsOptions vertxOptions() {
        return new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true).setLabels(VERTX_LABELS);
    }

    /** The factory that makes Vert.x report into this registry. */
    public VertxMetricsFactory vertxFactory() {
        return new MicrometerMetricsFactory(registry);
    }

    /** Starts Vert.x (embedded or clustered, see {@link Cluster#start}) reporting into this registry. */
    public Future<Cluster.Node> startVertx(ClusterConfig cluster, boolean clustered) {
        return Cluster.start(cluster, clustered, vertxOptions(), vertxFactory());
    }
}
