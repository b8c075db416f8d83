package org.flagagg.cli;

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

    @Option(names = "--cluster-failure-timeout", paramLabel = "S", description = "Seconds a member may stay silent "
            + "before the cluster declares it dead: a job's standby server takes over, and its shards are placed "
            + "again, after it (2..300; default: 10, cluster.failure_timeout_s). Give every member the same value.")
    Integer failureTimeoutS;

    /** Adds the flags that were given to the command line's configuration layer. */
    void addTo(FlagLayer flags) {
        flags.put("cluster.host", host).put("cluster.members", members).put("cluster.port", port)
                .put("cluster.name", name).put("cluster.config", config).put("cluster.secret", secret)
                .put("cluster.tls_keystore", tlsKeystore).put("cluster.tls_truststore", tlsTruststore)
                .put("cluster.tls_password_file", tlsPasswordFile)
                .put("cluster.failure_timeout_s", failureTimeoutS);
    }
}
