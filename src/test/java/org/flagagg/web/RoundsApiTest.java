package org.flagagg.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.flagagg.Await.await;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(VertxExtension.class)
class RoundsApiTest {

    @TempDir
    Path dir;

    record Reply(int status, String body) {
    }

    static Reply get(HttpClient client, int port, String uri, HttpMethod method) throws Exception {
        return await(client.request(method, port, "127.0.0.1", uri)
                .compose(req -> req.send().compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), b.toString())))));
    }

    static HttpServer start(Vertx vertx, Path log) throws Exception {
        HttpApi api = new HttpApi(vertx);
        RoundsApi.mount(api.router(), vertx, log);
        return await(api.listen(new io.vertx.core.http.HttpServerOptions().setHost("127.0.0.1").setPort(0)));
    }

    @Test
    void roundsServesTheLastRecordsOfTheLogAndHealthAnswers(Vertx vertx) throws Exception {
        Path log = dir.resolve("rounds.jsonl");
        StringBuilder lines = new StringBuilder();
        for (int r = 0; r < 5; r++) {
            lines.append(new JsonObject().put("round", r).put("status", "completed").encode()).append('\n');
        }
        Files.writeString(log, lines);
        HttpServer server = start(vertx, log);
        HttpClient client = vertx.createHttpClient();
        int port = server.actualPort();

        Reply all = get(client, port, "/rounds", HttpMethod.GET);
        assertThat(all.status()).isEqualTo(200);
        assertThat(new JsonArray(all.body())).hasSize(5);
        JsonArray last2 = new JsonArray(get(client, port, "/rounds?last=2", HttpMethod.GET).body());
        assertThat(last2.getJsonObject(0).getInteger("round")).isEqualTo(3);
        assertThat(last2.getJsonObject(1).getInteger("round")).isEqualTo(4);

        assertThat(get(client, port, "/rounds?last=0", HttpMethod.GET).status()).isEqualTo(400);
        assertThat(get(client, port, "/rounds?last=abc", HttpMethod.GET).status()).isEqualTo(400);
        assertThat(get(client, port, "/nope", HttpMethod.GET).status()).isEqualTo(404);
        assertThat(get(client, port, "/rounds", HttpMethod.POST).status()).isEqualTo(405);
        Reply health = get(client, port, "/health", HttpMethod.GET);
        assertThat(new JsonObject(health.body()).getString("status")).isEqualTo("UP");
    }

    @Test
    void aMissingLogIsAnEmptyList(Vertx vertx) throws Exception {
        HttpServer server = start(vertx, dir.resolve("none.jsonl"));
        Reply reply = get(vertx.createHttpClient(), server.actualPort(), "/rounds", HttpMethod.GET);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(new JsonArray(reply.body())).isEmpty();
    }
}
