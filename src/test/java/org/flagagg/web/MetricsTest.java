package org.flagagg.web;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import org.flagagg.LogCapture;
import org.junit.jupiter.api.Test;

class MetricsTest {

    /** Vert.x registers its event-bus gauges once per handler: the registry keeps one, quietly, and it counts all. */
    @Test
    void handlersOnManyAddressesLogNoDoubleRegistrationAndAreCounted() {
        Metrics metrics = new Metrics();
        try (LogCapture log = new LogCapture("io.micrometer")) {
            Vertx vertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(metrics.vertxOptions()))
                    .withMetrics(metrics.vertxFactory()).build();
            try {
                for (String address : new String[] {"a", "b", "c"}) {
                    vertx.eventBus().consumer(address, m -> { }).completion().await();
                }
                assertThat(metrics.registry().get("vertx.eventbus.handlers").gauge().value()).isEqualTo(3);
            } finally {
                vertx.close().await();
            }
            assertThat(log.messages(Level.WARN, "")).isEmpty();
        }
    }
}
