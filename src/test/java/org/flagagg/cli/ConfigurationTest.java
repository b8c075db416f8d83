package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.flagagg.config.Cluster;
import org.flagagg.config.Configuration;
import org.flagagg.config.InputException;
import org.flagagg.config.ServerConfig;
import org.flagagg.server.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The configuration's layers (packaged conf/flagagg.json, --conf, FLAGAGG_*, flags: each later one wins) and
 * FLAGAGG_* variables: typed by the key they name, checked like a --conf file, the launcher's own left alone.
 */
class ConfigurationTest {

    @Test
    void environmentValuesTakeTheTypeOfTheirKey() {
        JsonObject json = Configuration.load(null, Map.of(
                "FLAGAGG_JOB", "123",
                "FLAGAGG_WORKERS", "7",
                "FLAGAGG_HTTP__METRICS_OPEN", "true",
                "FLAGAGG_CLUSTER__MEMBERS", "10.0.0.1:5701, 10.0.0.2",
                "FLAGAGG_HEAP", "2g",
                "FLAGAGG_LOG_LEVEL", "debug",
                "FLAGAGG_TLS_PASSWORD", "secret"), new JsonObject());
        assertThat(json.getString("job")).isEqualTo("123");
        assertThat(json.getInteger("workers")).isEqualTo(7);
        assertThat(json.getJsonObject("http").getBoolean("metrics_open")).isTrue();
        assertThat(json.getJsonObject("cluster").getJsonArray("members"))
                .isEqualTo(new JsonArray().add("10.0.0.1:5701").add("10.0.0.2"));
        assertThat(json.fieldNames()).doesNotContain("heap", "log_level", "tls_password");
    }

    @Test
    void environmentValuesAreCheckedLikeAFile() {
        assertThatThrownBy(() -> Configuration.load(null, Map.of("FLAGAGG_SLAB_KIB", "-1"), new JsonObject()))
                .isInstanceOf(InputException.class).hasMessage("slab_kib must be an integer in 1..2097151, got -1");
        assertThatThrownBy(() -> Configuration.load(null, Map.of("FLAGAGG_DEADLINE__MAX_MS", "soon"), new JsonObject()))
                .isInstanceOf(InputException.class)
                .hasMessage("configuration key 'deadline.max_ms' must be a number, got \"soon\"");
    }

    @Test
    void onlyLoopbackHostsGoWithoutTheReadTokenWarning() {
        assertThat(Cluster.loopback("127.0.0.1")).isTrue();
        assertThat(Cluster.loopback("localhost")).isTrue();
        assertThat(Cluster.loopback("::1")).isTrue();
        assertThat(Cluster.loopback("0.0.0.0")).isFalse();
        assertThat(Cluster.loopback("no-such-host.invalid")).isFalse();
    }

    @Test
    void aPortInUseIsNamedForTheDataLinkToo() throws Exception {
        Vertx vertx = Vertx.vertx();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> Server.listening(vertx.createNetServer().connectHandler(s -> s.close())
                    .listen(port, "127.0.0.1"), "data link", "127.0.0.1", port).await())
                    .isInstanceOf(InputException.class)
                    .hasMessageStartingWith("cannot listen on 127.0.0.1:" + port + " for the data link: address already in use");
        } finally {
            vertx.close().await();
        }
    }

    @Test
    void eachLayerOverridesTheOneBeforeKeyByKey(@TempDir Path dir) throws Exception {
        JsonObject packaged = Configuration.defaults();
        Path conf = dir.resolve("conf.json");
        Files.writeString(conf, "{\"workers\": 5, \"chunk_coords\": 1000, \"deadline\": {\"max_ms\": 5000},"
                + " \"http\": {\"port\": 9001}}");
        Map<String, String> env = Map.of("FLAGAGG_WORKERS", "6", "FLAGAGG_HTTP__PORT", "9002");
        ServerCommand flags = new ServerCommand();
        new CommandLine(flags).parseArgs("--workers", "7", "--chunk-coords", "2000");
        assertThat(packaged.getInteger("workers")).isEqualTo(4);

        ServerConfig fromConf = ServerConfig.load(conf, Map.of(), new JsonObject());
        assertThat(fromConf.job().workers()).isEqualTo(5);
        assertThat(fromConf.http().port()).isEqualTo(9001);
        ServerConfig fromEnv = ServerConfig.load(conf, env, new JsonObject());
        assertThat(fromEnv.job().workers()).isEqualTo(6);
        assertThat(fromEnv.http().port()).isEqualTo(9002);
        assertThat(fromEnv.job().chunkCoords()).isEqualTo(1000);
        ServerConfig fromFlags = ServerConfig.load(conf, env, flags.flags(env).json());
        assertThat(fromFlags.job().workers()).isEqualTo(7);
        assertThat(fromFlags.job().chunkCoords()).isEqualTo(2000);
        assertThat(fromFlags.job().session().getInteger("chunk_coords")).isEqualTo(2000);
        // What no later layer sets shows through, sibling keys of a section included.
        assertThat(fromFlags.http().port()).isEqualTo(9002);
        assertThat(fromFlags.job().deadline().maxMs()).isEqualTo(5000);
        assertThat(fromFlags.job().deadline().minMs()).isEqualTo(packaged.getJsonObject("deadline").getLong("min_ms"));
        assertThat(fromFlags.http().host()).isEqualTo(packaged.getJsonObject("http").getString("host"));
        assertThat(fromFlags.ws().controlRate()).isEqualTo(packaged.getJsonObject("ws").getDouble("control_rate"));
    }

    @Test
    void aFlagIsCheckedLikeEveryOtherLayer() {
        ServerCommand flags = new ServerCommand();
        new CommandLine(flags).parseArgs("--chunk-coords", "0");
        assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), flags.flags(Map.of()).json()))
                .isInstanceOf(InputException.class).hasMessage("chunk_coords must be an integer in 1..67108864, got 0");
        ServerCommand krum = new ServerCommand();
        new CommandLine(krum).parseArgs("--rule", "krum", "--f", "3", "--workers", "4");
        assertThatThrownBy(() -> ServerConfig.load(null, Map.of(), krum.flags(Map.of()).json()))
                .isInstanceOf(InputException.class).message().doesNotContain("\n").contains("krum");
    }

    @Test
    void aFixedDeadlineFlagOrdersItsPair() {
        ServerCommand flags = new ServerCommand();
        new CommandLine(flags).parseArgs("--deadline-ms", "200");
        ServerConfig config = ServerConfig.load(null, Map.of(), flags.flags(Map.of()).json());
        assertThat(config.job().deadline().adaptive()).isFalse();
        assertThat(config.job().deadline().maxMs()).isEqualTo(200);
        assertThat(config.job().deadline().minMs()).isLessThanOrEqualTo(200);
    }
}
