package org.flagagg.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Joining a Hazelcast cluster instead of running embedded. */
final class ClusterOptions {

    @Option(names = "--cluster", description = "Join the Vert.x cluster (Hazelcast) instead of running embedded "
            + "(one JVM, local event bus).")
    boolean enabled;

    @Option(names = "--cluster-host", paramLabel = "HOST", description = "Interface to bind and advertise, for "
            + "Hazelcast and the event bus (default: 127.0.0.1).")
    String host;

    @Option(names = "--cluster-members", paramLabel = "HOST[:PORT]", split = ",", description = "Members to join, "
            + "comma-separated (default: the cluster configuration's list, 127.0.0.1).")
    List<String> members;

    @Option(names = "--cluster-port", paramLabel = "PORT", description = "Hazelcast's first port, incremented "
            + "while taken; 0 picks a free one (default: 5701).")
    Integer port;

    @Option(names = "--cluster-name", paramLabel = "NAME", description = "Cluster name: members with another name "
            + "never join; required off loopback (default on loopback: flagagg-local).")
    String name;

    @Option(names = "--cluster-tls-keystore", paramLabel = "FILE", description = "PKCS12 key store of this member's "
            + "certificate: the event bus speaks mutual TLS (required off loopback; 'flagagg certs' makes it).")
    Path tlsKeystore;

    @Option(names = "--cluster-tls-truststore", paramLabel = "FILE", description = "PKCS12 trust store with the "
            + "cluster's CA: only members with a certificate it signed can connect.")
    Path tlsTruststore;

    @Option(names = "--cluster-tls-password-file", paramLabel = "FILE", description = "File whose first line is "
            + "the stores' password (or cluster.tls_password, FLAGAGG_CLUSTER__TLS_PASSWORD).")
    Path tlsPasswordFile;

    @Option(names = "--cluster-config", paramLabel = "FILE", description = "Hazelcast XML configuration "
            + "(default: the packaged conf/cluster.xml).")
    Path config;

    @Option(names = "--cluster-secret", paramLabel = "FILE", description = "File whose first line is the job secret "
            + "that worker nodes in other JVMs prove on the data link and when they join (at least 16 characters; "
            + "'flagagg certs' writes one). Needed with --cluster.")
    Path secret;

    /** Lays these flags over the configuration's "cluster" section. */
    void applyTo(JsonObject cluster) {
        RuleOptions.putIfSet(cluster, "host", host);
        RuleOptions.putIfSet(cluster, "members", members == null ? null : new JsonArray(List.copyOf(members)));
        RuleOptions.putIfSet(cluster, "port", port);
        RuleOptions.putIfSet(cluster, "name", name);
        RuleOptions.putIfSet(cluster, "config", config == null ? null : config.toString());
        RuleOptions.putIfSet(cluster, "secret", secret == null ? null : secret.toString());
        RuleOptions.putIfSet(cluster, "tls_keystore", tlsKeystore == null ? null : tlsKeystore.toString());
        RuleOptions.putIfSet(cluster, "tls_truststore", tlsTruststore == null ? null : tlsTruststore.toString());
        RuleOptions.putIfSet(cluster, "tls_password_file", tlsPasswordFile == null ? null : tlsPasswordFile.toString());
    }
}
