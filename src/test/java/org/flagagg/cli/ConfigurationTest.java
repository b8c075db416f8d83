package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import org.flagagg.config.Configuration;
import org.flagagg.config.InputException;
import org.junit.jupiter.api.Test;

/** FLAGAGG_* variables: typed by the key they name, checked like a --conf file, the launcher's own left alone. */
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
                "FLAGAGG_TLS_PASSWORD", "secret"));
        assertThat(json.getString("job")).isEqualTo("123");
        assertThat(json.getInteger("workers")).isEqualTo(7);
        assertThat(json.getJsonObject("http").getBoolean("metrics_open")).isTrue();
        assertThat(json.getJsonObject("cluster").getJsonArray("members"))
                .isEqualTo(new JsonArray().add("10.0.0.1:5701").add("10.0.0.2"));
        assertThat(json.fieldNames()).doesNotContain("heap", "log_level", "tls_password");
    }

    @Test
    void environmentValuesAreCheckedLikeAFile() {
        assertThatThrownBy(() -> Configuration.load(null, Map.of("FLAGAGG_SLAB_KIB", "-1")))
                .isInstanceOf(InputException.class).hasMessage("slab_kib must be an integer in 1..2097151, got -1");
        assertThatThrownBy(() -> Configuration.load(null, Map.of("FLAGAGG_DEADLINE__MAX_MS", "soon")))
                .isInstanceOf(InputException.class)
                .hasMessage("configuration key 'deadline.max_ms' must be a number, got \"soon\"");
    }

    @Test
    void onlyLoopbackHostsGoWithoutTheReadTokenWarning() {
        assertThat(ServerCommand.isLoopback("127.0.0.1")).isTrue();
        assertThat(ServerCommand.isLoopback("localhost")).isTrue();
        assertThat(ServerCommand.isLoopback("::1")).isTrue();
        assertThat(ServerCommand.isLoopback("0.0.0.0")).isFalse();
        assertThat(ServerCommand.isLoopback("no-such-host.invalid")).isFalse();
    }

    @Test
    void aPortInUseIsNamedForTheDataLinkToo() throws Exception {
        Vertx vertx = Vertx.vertx();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> ServerCommand.listening(vertx.createNetServer().connectHandler(s -> s.close())
                    .listen(port, "127.0.0.1"), "data link", "127.0.0.1", port).await())
                    .isInstanceOf(InputException.class)
                    .hasMessageStartingWith("cannot listen on 127.0.0.1:" + port + " for the data link: address already in use");
        } finally {
            vertx.close().await();
        }
    }
}
