package org.flagagg.bus;

import com.hazelcast.config.Config;
import com.hazelcast.config.XmlConfigBuilder;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.metrics.MetricsOptions;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts Vert.x, embedded or as a member of a Hazelcast cluster configured by the "cluster" section of the
 * configuration: {@code config} (a Hazelcast XML file; empty = conf/cluster.xml as packaged), {@code name}
 * (the cluster name: members with another name never join), {@code host} (the interface Hazelcast and the
 * event bus bind to and advertise), {@code members} (host[:port] entries to join; empty = the file's list)
 * and {@code port} (Hazelcast's first port, incremented when taken; 0 picks a free one).
 */
public final class Cluster {
    /** Classpath location of the packaged Hazelcast configuration. */
    public static final String DEFAULT_CONFIG = "conf/cluster.xml";

    private Cluster() {
    }

    /** A started Vert.x, and its Hazelcast member address ("host:port") when clustered, else null. */
    public record Node(Vertx vertx, String member) {
    }

    public static Future<Node> start(JsonObject cluster, boolean clustered) {
        return start(cluster, clustered, null, null);
    }

    /**
     * As {@link #start(JsonObject, boolean)}, with Vert.x metrics when both {@code metricsOptions} (enabled)
     * and {@code metricsFactory} are given (e.g. Micrometer's); nulls mean no metrics.
     */
    public static Future<Node> start(JsonObject cluster, boolean clustered, MetricsOptions metricsOptions,
            VertxMetricsFactory metricsFactory) {
        VertxOptions options = new VertxOptions();
        VertxBuilder builder = Vertx.builder();
        if (metricsOptions != null && metricsFactory != null) {
            options.setMetricsOptions(metricsOptions);
            builder.withMetrics(metricsFactory);
        }
        if (!clustered) {
            return Future.succeededFuture(new Node(builder.with(options).build(), null));
        }
        Config hazelcast = hazelcastConfig(cluster);
        String host = cluster.getString("host", "127.0.0.1");
        options.setEventBusOptions(new EventBusOptions().setHost(host).setClusterPublicHost(host).setPort(0));
        HazelcastClusterManager manager = new HazelcastClusterManager(hazelcast);
        return builder.with(options).withClusterManager(manager).buildClustered().map(vertx -> {
            var address = manager.getHazelcastInstance().getCluster().getLocalMember().getAddress();
            return new Node(vertx, address.getHost() + ":" + address.getPort());
        });
    }

    static Config hazelcastConfig(JsonObject cluster) {
        String file = cluster.getString("config", "");
        Config config;
        try (InputStream in = file.isEmpty() ? Cluster.class.getClassLoader().getResourceAsStream(DEFAULT_CONFIG)
                : Files.newInputStream(Path.of(file))) {
            if (in == null) {
                throw new IllegalStateException(DEFAULT_CONFIG + " is missing from the classpath");
            }
            config = new XmlConfigBuilder(in).build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the cluster configuration " + file, e);
        }
        String name = cluster.getString("name", "");
        if (!name.isEmpty()) {
            config.setClusterName(name);
        }
        String host = cluster.getString("host", "");
        if (!host.isEmpty()) {
            config.getNetworkConfig().getInterfaces().setEnabled(true).clear().addInterface(host);
        }
        JsonArray members = cluster.getJsonArray("members", new JsonArray());
        if (!members.isEmpty()) {
            List<String> list = new ArrayList<>();
            members.forEach(m -> list.add(String.valueOf(m)));
            config.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).setMembers(list);
        }
        Integer port = cluster.getInteger("port");
        if (port != null && port > 0) {
            config.getNetworkConfig().setPort(port);
        }
        return config;
    }
}
