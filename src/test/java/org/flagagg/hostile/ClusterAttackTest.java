package org.flagagg.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.vertx.core.Context;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.Lock;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.flagagg.Await;
import org.flagagg.cli.Main;
import org.flagagg.config.Cluster;
import org.flagagg.config.ClusterConfig;
import org.flagagg.config.Configuration;
import org.flagagg.config.JobConfig;
import org.flagagg.engine.Engine;
import org.flagagg.config.JobServer;
import org.flagagg.wire.Addresses;
import org.flagagg.wire.JobSecret;
import org.flagagg.worker.Worker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks on the cluster plane (issue 14, item 6), with clustered Vert.x members built here on loopback: a
 * member without the cluster's certificate, or with another CA's, joins Hazelcast but cannot deliver to the
 * aggregator while honest members' rounds complete; a second server for a job refuses to start; a cluster
 * off loopback refuses to start without TLS, its own name and a member list.
 */
class ClusterAttackTest {
    /** An attacker's request: long enough for a TLS connection on a loaded machine, short for a test. */
    private static final long ATTACK_TIMEOUT_MS = 5_000;

    @TempDir
    static Path certsDir;

    @TempDir
    Path dir;

    private static Path cluster;
    private static Path foreign;
    private final List<Cluster.Node> nodes = new ArrayList<>();

    @BeforeAll
    static void certificates() {
        cluster = certs("cluster");
        foreign = certs("foreign");
    }

    private static Path certs(String name) {
        Path out = certsDir.resolve(name);
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"certs", "--out", out.toString()}, new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true));
        assertThat(code).as(err.toString()).isZero();
        return out;
    }

    @AfterEach
    void close() throws Exception {
        for (Cluster.Node node : nodes) {
            await(node.vertx().close());
        }
    }

    private static String name() {
        return "hostile-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    /** A "cluster" section: this name, Hazelcast on a free port, joining {@code members}, TLS from {@code certs}. */
    private static JsonObject section(String name, Path certs, String... members) throws Exception {
        JsonObject section = Configuration.defaults().getJsonObject("cluster").copy();
        if (certs != null) {
            section.mergeIn(new JsonObject(Files.readString(certs.resolve("cluster.json"))).getJsonObject("cluster"));
        }
        return section.put("name", name).put("port", 0).put("members", new JsonArray(List.of((Object[]) members)));
    }

    private Cluster.Node start(JsonObject section) throws Exception {
        Cluster.Node node = await(Cluster.start(ClusterConfig.fromJson(section), true));
        nodes.add(node);
        return node;
    }

    @Test
    void membersWithoutTheClustersCertificateCannotDeliverToTheAggregator() throws Exception {
        String name = name();
        Cluster.Node server = start(section(name, cluster));
        JobConfig job = Engine.job(new JsonObject().put("workers", 2), dir);
        JobSecret secret = JobSecret.fromConfig(section(name, cluster));
        try (Engine engine = Engine.start(server.vertx(), job, secret)) {
            Cluster.Node honest = start(section(name, cluster, server.member()));
            Cluster.Node plain = start(section(name, null, server.member()));
            Cluster.Node otherCa = start(section(name, foreign, server.member()));
            // Both attackers are Hazelcast members (its membership has no authentication): TLS is what stops them.
            assertThat(server.hasMember(plain.memberId())).isTrue();
            assertThat(server.hasMember(otherCa.memberId())).isTrue();

            int slot = 0;
            for (Cluster.Node attacker : List.of(plain, otherCa)) {
                JsonObject claim = new JsonObject().put("worker", "w" + slot).put("dim", job.dim()).put("slot", slot);
                CompletableFuture<Object> join = attacker.vertx().eventBus().request(new Addresses(job.job()).join(),
                        claim, new DeliveryOptions().setSendTimeout(ATTACK_TIMEOUT_MS))
                        .map(reply -> reply.body()).toCompletionStage().toCompletableFuture();
                assertThatThrownBy(() -> join.get(ATTACK_TIMEOUT_MS * 4, TimeUnit.MILLISECONDS))
                        .as("a join from a member without the cluster's certificate").hasMessageContaining("Timed out");
                slot++;
            }

            // The slots the attackers asked for are free, and the honest member's round has the right aggregate.
            float[][] gradients = Engine.gradients(2, (int) job.dim(), 14);
            List<Engine.Client> workers = new ArrayList<>();
            for (int s = 0; s < 2; s++) {
                int at = s;
                Context context = honest.vertx().getOrCreateContext();
                Worker worker = Await.get(Await.on(context,
                        () -> Worker.join(honest.vertx(), job.job(), "w" + at, job.dim(), at, null, secret)));
                workers.add(new Engine.Client(context, worker));
            }
            List<CompletableFuture<Worker.Aggregate>> aggregates = new ArrayList<>();
            for (int s = 0; s < 2; s++) {
                aggregates.add(workers.get(s).exchange(0, gradients[s]));
            }
            float[] expected = engine.offline(gradients);
            for (CompletableFuture<Worker.Aggregate> aggregate : aggregates) {
                Worker.Aggregate result = Await.get(aggregate);
                assertThat(result.included()).isTrue();
                Engine.assertSameAggregate(result.values(), expected);
            }
            assertThat(Await.get(engine.recordOf(0)).getJsonArray("participants")).hasSize(2);
        }
    }

    @Test
    void aSecondServerForTheSameJobRefusesToStartNamingTheFirst() throws Exception {
        String name = name();
        Cluster.Node first = start(section(name, null));
        Lock lock = await(JobServer.claim(first, "dup"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> Main.run(new String[] {"server", "--cluster",
            "--cluster-name", name, "--cluster-members", first.member(), "--cluster-port", "0", "--job", "dup",
            "--cluster-secret", section(name, cluster).getString("secret"),
            "--port", "0", "--workers", "2", "--dim", "1000", "--memory-budget", "8",
            "--spill-dir", dir.resolve("spill").toString(), "--round-log", dir.resolve("rounds.jsonl").toString()},
                new PrintWriter(out, true), new PrintWriter(err, true)));
        assertThat(code).as(out + "\n" + err).isNotZero();
        assertThat(err.toString()).contains("job 'dup' already has a server in this cluster: member " + first.member());
        assertThat(out.toString()).doesNotContain("aggregator ready");

        // Released at stop, the job can be claimed again.
        lock.release();
        Cluster.Node second = start(section(name, null, first.member()));
        await(JobServer.claim(second, "dup")).release();
    }

    @Test
    void offLoopbackAClusterNeedsTlsItsOwnNameAndAMemberList() throws Exception {
        JsonObject remote = section("", null).put("host", "192.0.2.7");
        assertThatThrownBy(() -> Cluster.start(ClusterConfig.fromJson(remote.copy()), true).await())
                .hasMessageContaining("cluster.name is required");
        assertThatThrownBy(() -> Cluster.start(ClusterConfig.fromJson(remote.copy().put("name", "ops-chosen")), true).await())
                .hasMessageContaining("cluster.members is required");
        JsonObject named = remote.copy().put("name", "ops-chosen").put("members", new JsonArray().add("192.0.2.8"));
        assertThatThrownBy(() -> Cluster.start(ClusterConfig.fromJson(named.copy()), true).await())
                .hasMessageContaining("cluster.tls_keystore and cluster.tls_truststore are required");
        JsonObject wrongPassword = section("ops-chosen", cluster).put("tls_password", "guess");
        assertThatThrownBy(() -> Cluster.start(ClusterConfig.fromJson(wrongPassword), true).await())
                .hasMessageContaining("not a readable PKCS12 store with this password");
    }
}
