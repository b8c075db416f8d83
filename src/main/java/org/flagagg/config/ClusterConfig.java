package org.flagagg.config;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;

/**
 * The "cluster" section (see {@link Cluster} for what each key does; empty strings in JSON are nulls here).
 *
 * @param config          Hazelcast XML file, or null for the packaged conf/cluster.xml
 * @param name            cluster name, or null: {@code flagagg-local} on loopback, refused elsewhere
 * @param host            interface Hazelcast and the event bus bind to and advertise
 * @param members         host[:port] entries to join; empty = the XML file's list
 * @param port            Hazelcast's first port; 0 picks a free one
 * @param tlsKeystore     PKCS12 key store of this member's certificate, or null
 * @param tlsTruststore   PKCS12 trust store of the cluster's CA, or null
 * @param tlsPassword     the stores' password, or empty
 * @param tlsPasswordFile file whose first line is the stores' password (when tlsPassword is empty), or null
 * @param secret          file whose first line is the job secret, or null
 * @param serverWaitS     how long a worker waits for the job's server to be in the cluster
 * @param failureTimeoutS how long a member may stay silent before the cluster declares it dead (Hazelcast's
 *                        heartbeat timeout): the failure detection of a failover
 */
public record ClusterConfig(Path config, String name, String host, List<String> members, int port,
        Path tlsKeystore, Path tlsTruststore, String tlsPassword, Path tlsPasswordFile, Path secret,
        long serverWaitS, long failureTimeoutS) {

    public ClusterConfig {
        members = List.copyOf(members);
    }

    /** A "cluster" section laid over the packaged defaults (only what differs is needed), for tests. */
    public static ClusterConfig fromJson(JsonObject cluster) {
        return parse(Configuration.defaults().getJsonObject("cluster").mergeIn(cluster));
    }

    /** Reads a complete "cluster" section, as checked by {@link Configuration#load}. */
    static ClusterConfig parse(JsonObject cluster) {
        return new ClusterConfig(Configuration.path(cluster.getString("config")),
                cluster.getString("name").isEmpty() ? null : cluster.getString("name"), cluster.getString("host"),
                cluster.getJsonArray("members").stream().map(String::valueOf).toList(), cluster.getInteger("port"),
                Configuration.path(cluster.getString("tls_keystore")),
                Configuration.path(cluster.getString("tls_truststore")), cluster.getString("tls_password"),
                Configuration.path(cluster.getString("tls_password_file")),
                Configuration.path(cluster.getString("secret")), cluster.getLong("server_wait_s"),
                cluster.getLong("failure_timeout_s"));
    }

    /** The same cluster under another name, joining these members, from this Hazelcast port. */
    public ClusterConfig joining(String newName, List<String> newMembers, int newPort) {
        return new ClusterConfig(config, newName, host, newMembers, newPort, tlsKeystore, tlsTruststore, tlsPassword,
                tlsPasswordFile, secret, serverWaitS, failureTimeoutS);
    }
}
