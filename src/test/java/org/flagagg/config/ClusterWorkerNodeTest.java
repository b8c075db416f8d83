package org.flagagg.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.flagagg.Await.await;

import com.hazelcast.core.Hazelcast;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A worker node joins the cluster as a Hazelcast lite member: it reaches the server's consumers over the
 * event bus like any member, and owns no partition of the cluster's maps, so its loss cannot stall them.
 */
class ClusterWorkerNodeTest {
    private final List<Cluster.Node> nodes = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = nodes.size() - 1; i >= 0; i--) {
            await(nodes.get(i).vertx().close());
        }
    }

    private static ClusterConfig section(String name, String... members) {
        return ClusterConfig.fromJson(Configuration.defaults().getJsonObject("cluster").copy().put("name", name)
                .put("port", 0).put("members", new JsonArray(List.of((Object[]) members))));
    }

    @Test
    void aWorkerNodeIsALiteMemberThatStillUsesTheEventBus() throws Exception {
        String name = "lite-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Cluster.Node server = await(Cluster.start(section(name), true));
        nodes.add(server);
        server.vertx().eventBus().<JsonObject>consumer("lite.echo", msg -> msg.reply(msg.body().put("seen", true)));
        Cluster.Node worker = await(Cluster.startWorkerNode(section(name, server.member()), "lite"));
        nodes.add(worker);

        var hazelcast = worker.manager().getHazelcastInstance();
        assertThat(hazelcast.getCluster().getLocalMember().isLiteMember()).isTrue();
        assertThat(server.manager().getHazelcastInstance().getCluster().getLocalMember().isLiteMember()).isFalse();
        assertThat(hazelcast.getCluster().getMembers()).hasSize(2);
        // Every partition is owned by the data member, none by the worker node.
        assertThat(hazelcast.getPartitionService().getPartitions())
                .allSatisfy(p -> assertThat(p.getOwner().isLiteMember()).isFalse());
        JsonObject reply = await(worker.vertx().eventBus().<JsonObject>request("lite.echo", new JsonObject().put("n", 1)))
                .body();
        assertThat(reply).isEqualTo(new JsonObject().put("n", 1).put("seen", true));
    }

    @Test
    void aWorkerNodeStartedBeforeAnyServerJoinsOnceOneIsThere() throws Exception {
        String name = "lite-first-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        // The worker must know where the server will be before it exists: a port free now (loopback only).
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        // Alone, a lite member cannot join (no member to hold the maps): it tries again until a server is there.
        var workerStarted = Cluster.startWorkerNode(section(name, "127.0.0.1:" + port), "early");
        Cluster.Node server = await(Cluster.start(ClusterConfig.fromJson(Configuration.defaults().getJsonObject("cluster")
                .copy().put("name", name).put("port", port)), true));
        nodes.add(server);
        Cluster.Node worker = await(workerStarted);
        nodes.add(worker);
        assertThat(worker.manager().getHazelcastInstance().getCluster().getLocalMember().isLiteMember()).isTrue();
        assertThat(worker.manager().getHazelcastInstance().getCluster().getMembers()).hasSize(2);
    }

    @Test
    void aWorkerNodeThatFindsNoServerGivesUpWithoutLeavingAMemberBehind() {
        String name = "lite-alone-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        int before = Hazelcast.getAllHazelcastInstances().size();
        ClusterConfig alone = ClusterConfig.fromJson(Configuration.defaults().getJsonObject("cluster").copy()
                .put("name", name).put("port", 0).put("server_wait_s", 1));
        assertThatThrownBy(() -> await(Cluster.startWorkerNode(alone, "alone")))
                .hasMessageContaining("no aggregator for job 'alone' answered within 1 s");
        // Each failed attempt shut its Hazelcast instance down: retries do not pile up members or threads.
        assertThat(Hazelcast.getAllHazelcastInstances()).hasSize(before);
    }
}
