package org.flagagg.config;

import com.hazelcast.config.Config;
import com.hazelcast.config.XmlConfigBuilder;
import com.hazelcast.partition.NoDataMemberInClusterException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.metrics.MetricsOptions;
import io.vertx.core.net.PfxOptions;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts Vert.x, embedded or as a member of a Hazelcast cluster configured by the "cluster" section of the
 * configuration: {@code config} (a Hazelcast XML file; empty = conf/cluster.xml as packaged), {@code name}
 * (the cluster name: members with another name never join), {@code host} (the interface Hazelcast and the
 * event bus bind to and advertise), {@code members} (host[:port] entries to join; empty = the file's list)
 * and {@code port} (Hazelcast's first port, incremented when taken; 0 picks a free one).
 *
 * <p>Security: the event bus speaks TLS with client certificates (mutual TLS) when {@code tls_keystore},
 * {@code tls_truststore} and {@code tls_password} (or {@code tls_password_file}) are set ({@code flagagg certs}
 * makes them): a member without a certificate of the cluster's CA can neither send to nor receive from the
 * others. Off loopback TLS, an explicit cluster name and an explicit member list are required; on loopback
 * a cluster without TLS starts with a warning. Multicast and auto-detection are always off. Hazelcast's own
 * membership is not authenticated (its TLS is not in the open-source edition): a process that reaches the
 * Hazelcast port and knows the name can join and disturb the shared maps, but not use the event bus.
 */
public final class Cluster {
    /** Classpath location of the packaged Hazelcast configuration. */
    public static final String DEFAULT_CONFIG = "conf/cluster.xml";
    /** The cluster name on loopback when none is configured. */
    static final String LOOPBACK_NAME = "flagagg-local";
    private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);

    private Cluster() {
    }

    /**
     * A started Vert.x, and when clustered its Hazelcast member address ("host:port") and cluster manager,
     * else nulls.
     */
    public record Node(Vertx vertx, String member, HazelcastClusterManager manager) {
        /** This member's Hazelcast UUID, or null when embedded. */
        public String memberId() {
            return manager == null ? null
                    : manager.getHazelcastInstance().getCluster().getLocalMember().getUuid().toString();
        }

        /** True when the member with this Hazelcast UUID is in the cluster now. */
        public boolean hasMember(String memberId) {
            return manager.getHazelcastInstance().getCluster().getMembers().stream()
                    .anyMatch(m -> m.getUuid().toString().equals(memberId));
        }
    }

    public static Future<Node> start(ClusterConfig cluster, boolean clustered) {
        return start(cluster, clustered, null, null);
    }

    /**
     * A node that only runs workers: a Hazelcast lite member, which holds no partition of the cluster's maps
     * (the event bus's subscriber lists among them). A worker host that drops off the network then stalls no
     * other member's lookups until it is declared dead; only the job's server and shard hosts hold that data.
     */
    public static Future<Node> startWorkerNode(ClusterConfig cluster, String job) {
        return startWorkerNode(cluster, job, System.nanoTime() + cluster.serverWaitS() * 1_000_000_000L);
    }

    /**
     * A lite member cannot join a cluster of lite members only (Hazelcast has nowhere to put its maps): until a
     * server member is there, or {@code cluster.server_wait_s} passed, it tries again every half second.
     */
    private static Future<Node> startWorkerNode(ClusterConfig cluster, String job, long deadlineNanos) {
        return start(cluster, true, null, null, true).recover(e -> {
            if (!noDataMember(e)) {
                return Future.failedFuture(e);
            }
            LOG.debug("no server member in cluster '{}' yet: joining again in 0.5 s", cluster.name());
            if (System.nanoTime() > deadlineNanos) {
                return Future.failedFuture(new IllegalStateException("no aggregator for job '" + job
                        + "' answered within " + cluster.serverWaitS() + " s (no server member in the cluster)"));
            }
            Promise<Node> again = Promise.promise();
            CompletableFuture.delayedExecutor(500, TimeUnit.MILLISECONDS)
                    .execute(() -> startWorkerNode(cluster, job, deadlineNanos).onComplete(again));
            return again.future();
        });
    }

    private static boolean noDataMember(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof NoDataMemberInClusterException) {
                return true;
            }
        }
        return false;
    }

    /**
     * As {@link #start(ClusterConfig, boolean)}, with Vert.x metrics when both {@code metricsOptions} (enabled)
     * and {@code metricsFactory} are given (e.g. Micrometer's); nulls mean no metrics.
     */
    public static Future<Node> start(ClusterConfig cluster, boolean clustered, MetricsOptions metricsOptions,
            VertxMetricsFactory metricsFactory) {
        return start(cluster, clustered, metricsOptions, metricsFactory, false);
    }

    private static Future<Node> start(ClusterConfig cluster, boolean clustered, MetricsOptions metricsOptions,
            VertxMetricsFactory metricsFactory, boolean liteMember) {
        VertxOptions options = new VertxOptions();
        VertxBuilder builder = Vertx.builder();
        if (metricsOptions != null && metricsFactory != null) {
            options.setMetricsOptions(metricsOptions);
            builder.withMetrics(metricsFactory);
        }
        if (!clustered) {
            return Future.succeededFuture(new Node(builder.with(options).build(), null, null));
        }
        Config hazelcast;
        try {
            hazelcast = hazelcastConfig(cluster).setLiteMember(liteMember);
            options.setEventBusOptions(eventBusOptions(cluster));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        HazelcastClusterManager manager = new HazelcastClusterManager(hazelcast);
        return builder.with(options).withClusterManager(manager).buildClustered().map(vertx -> {
            var address = manager.getHazelcastInstance().getCluster().getLocalMember().getAddress();
            return new Node(vertx, address.getHost() + ":" + address.getPort(), manager);
        });
    }

    /**
     * The event bus's options: bound to and advertised on the cluster host, port 0, and mutual TLS when a key
     * store is configured (required off loopback). The stores are opened here so a wrong file or password is
     * one clear line, not a failed handshake later.
     */
    static EventBusOptions eventBusOptions(ClusterConfig cluster) {
        String host = cluster.host();
        EventBusOptions options = new EventBusOptions().setHost(host).setClusterPublicHost(host).setPort(0);
        Path keystore = cluster.tlsKeystore();
        Path truststore = cluster.tlsTruststore();
        if (keystore == null && truststore == null) {
            if (!loopback(host)) {
                throw new IllegalArgumentException("cluster.tls_keystore and cluster.tls_truststore are required when "
                        + "cluster.host '" + host + "' is not loopback (make them with 'flagagg certs')");
            }
            LOG.warn("cluster event bus WITHOUT TLS: any process on this host that joins the cluster can send to the "
                    + "aggregator; set cluster.tls_keystore and cluster.tls_truststore (made by 'flagagg certs')");
            return options;
        }
        if (keystore == null || truststore == null) {
            throw new IllegalArgumentException("cluster.tls_keystore and cluster.tls_truststore go together, got only "
                    + (keystore == null ? "the trust store" : "the key store"));
        }
        String password = tlsPassword(cluster);
        checkStore("cluster.tls_keystore", keystore, password);
        checkStore("cluster.tls_truststore", truststore, password);
        return options.setSsl(true).setClientAuth(ClientAuth.REQUIRED)
                .setKeyCertOptions(new PfxOptions().setPath(keystore.toString()).setPassword(password))
                .setTrustOptions(new PfxOptions().setPath(truststore.toString()).setPassword(password));
    }

    /** The stores' password: cluster.tls_password, else the first line of cluster.tls_password_file. */
    private static String tlsPassword(ClusterConfig cluster) {
        String password = cluster.tlsPassword();
        Path file = cluster.tlsPasswordFile();
        if (!password.isEmpty() || file == null) {
            return password;
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8).lines().findFirst().orElse("");
        } catch (IOException e) {
            throw new IllegalArgumentException("cluster.tls_password_file " + file + ": cannot read: " + e.getMessage());
        }
    }

    private static void checkStore(String key, Path file, String password) {
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore.getInstance("PKCS12").load(in, password.toCharArray());
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new IllegalArgumentException(key + " " + file + ": not a readable PKCS12 store with this password ("
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + ")");
        }
    }

    /** True when {@code host} is a loopback address (or a name resolving to one). */
    public static boolean loopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    static Config hazelcastConfig(ClusterConfig cluster) {
        Path file = cluster.config();
        Config config;
        try (InputStream in = file == null ? Cluster.class.getClassLoader().getResourceAsStream(DEFAULT_CONFIG)
                : Files.newInputStream(file)) {
            if (in == null) {
                throw new IllegalStateException(DEFAULT_CONFIG + " is missing from the classpath");
            }
            config = new XmlConfigBuilder(in).build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the cluster configuration " + file, e);
        }
        String host = cluster.host();
        boolean loopback = loopback(host);
        String name = cluster.name();
        if (name == null && !loopback) {
            throw new IllegalArgumentException("cluster.name is required when cluster.host '" + host + "' is not "
                    + "loopback: pick one for the deployment (flagagg certs prints a random one)");
        }
        config.setClusterName(name == null ? LOOPBACK_NAME : name);
        config.getNetworkConfig().getInterfaces().setEnabled(true).clear().addInterface(host);
        // Members come only from the list: nobody is found by broadcast or cloud discovery.
        config.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
        config.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
        List<String> members = cluster.members();
        if (members.isEmpty() && !loopback) {
            throw new IllegalArgumentException("cluster.members is required when cluster.host '" + host + "' is not "
                    + "loopback: list the members to join (host[:port], at least one)");
        }
        if (!members.isEmpty()) {
            config.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).setMembers(new ArrayList<>(members));
        }
        if (cluster.port() > 0) {
            config.getNetworkConfig().setPort(cluster.port());
        }
        // Failure detection in seconds, not Hazelcast's 60: a member silent this long is dead, its locks (a job's
        // claim) are freed and its shards placed again. A member cut off for longer comes back by a split-brain
        // merge, looked for as often.
        String timeout = Long.toString(cluster.failureTimeoutS());
        config.setProperty("hazelcast.max.no.heartbeat.seconds", timeout);
        config.setProperty("hazelcast.heartbeat.interval.seconds", "1");
        config.setProperty("hazelcast.merge.first.run.delay.seconds", timeout);
        config.setProperty("hazelcast.merge.next.run.delay.seconds", timeout);
        return config;
    }
}
