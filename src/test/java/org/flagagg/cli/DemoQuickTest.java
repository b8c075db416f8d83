package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quick demo, end to end through the command line (about a minute on 2 cores); see docs/demo.md. */
class DemoQuickTest {
    @TempDir
    static Path dir;
    static JsonObject results;
    static String stdout;
    static int exit;

    @BeforeAll
    static void runQuickDemo() throws Exception {
        CommandRun run = CommandRun.of(dir, "demo", "--quick");
        exit = run.exit();
        stdout = run.stdout();
        results = run.results();
    }

    static JsonObject run(String rule, String attack) {
        return results.getJsonArray("runs").stream().map(o -> (JsonObject) o)
                .filter(r -> r.getString("rule").equals(rule) && r.getString("attack").equals(attack)
                        && r.getString("stragglers").equals("none"))
                .findFirst().orElseThrow();
    }

    static double accuracy(String rule, String attack) {
        return run(rule, attack).getDouble("final_accuracy");
    }

    @Test
    void everyRunIsThereWithCanonicalNamesAndHonestReplicasInSync() {
        assertThat(exit).isZero();
        JsonArray runs = results.getJsonArray("runs");
        assertThat(runs).hasSize(13);
        int rounds = results.getJsonObject("settings").getInteger("rounds");
        assertThat(rounds).isEqualTo(150);
        for (String rule : List.of("flag", "mean", "multikrum", "median")) {
            for (String attack : List.of("none", "lie", "random")) {
                JsonObject r = run(rule, attack);
                assertThat(r.getDouble("final_accuracy")).isBetween(0.0, 1.0);
                assertThat(r.getJsonArray("accuracy")).hasSize(rounds / 5 + 1);
                assertThat(r.getJsonArray("loss")).hasSize(rounds / 5 + 1);
                assertThat(r.getJsonArray("byzantine")).containsExactly("w0", "w1", "w2");
                assertThat(r.getBoolean("replicas_in_sync")).isTrue();
                assertThat(r.getInteger("failed_rounds")).isZero();
                assertThat(r.containsKey("quality")).isEqualTo(rule.equals("flag"));
            }
        }
        JsonArray q = run("flag", "lie").getJsonArray("quality");
        assertThat(q).hasSize(rounds);
        assertThat(q.getJsonArray(0)).hasSize(15);
        assertThat(stdout).contains("final accuracy (%)").contains("flag + stragglers");
    }

    @Test
    void theStragglerRunClosesRoundsOnQuorum() {
        JsonObject late = results.getJsonArray("runs").stream().map(o -> (JsonObject) o)
                .filter(r -> !r.getString("stragglers").equals("none")).findFirst().orElseThrow();
        assertThat(late.getString("rule")).isEqualTo("flag");
        // The slow worker (w14) sends 1 s late and misses (almost) every 250 ms deadline; the others close the round.
        assertThat(late.getInteger("late_gradients")).isGreaterThanOrEqualTo(135);
        assertThat(late.getDouble("final_accuracy")).isGreaterThan(0.5);
    }

    @Test
    void theModelLearnsAndRandomNoiseDestroysPlainMeanButNotFa() {
        double baseline = accuracy("mean", "none");
        assertThat(baseline).isGreaterThan(0.7);
        assertThat(accuracy("mean", "random")).isLessThan(0.15);
        assertThat(accuracy("flag", "random")).isGreaterThan(accuracy("mean", "random") + 0.4);
        assertThat(accuracy("multikrum", "random")).isGreaterThan(0.5);
    }

    @Test
    void underLieFaStillLearns() {
        // Before the cosine schedule FA under lie was 8 points under the no-attack baseline (docs/demo.md); with
        // it the quick run has FA under lie at the mean's clean level (82.1 vs 81.4, seed 1), but the figure moves
        // with the last bits of G. What holds robustly: FA under lie learns, far above chance, and stays within
        // 15 points of the baseline.
        double flagLie = accuracy("flag", "lie");
        assertThat(flagLie).isGreaterThan(0.6);
        assertThat(flagLie).isGreaterThan(accuracy("mean", "none") - 0.15);
    }

    @Test
    void lieAttackersSitInsideTheFlag() {
        // The finding of docs/demo.md: the three colluders send one identical vector near the honest mean, a
        // rank-one cluster of weight 3 that any flag of rank ceil(p/2) contains, so FA rates them highest, not lowest.
        JsonArray q = run("flag", "lie").getJsonArray("quality");
        int byzantineHighest = 0;
        for (int t = 0; t < q.size(); t++) {
            JsonArray row = q.getJsonArray(t);
            double byz = Math.min(row.getDouble(0), Math.min(row.getDouble(1), row.getDouble(2)));
            double honest = 0;
            for (int w = 3; w < 15; w++) {
                honest = Math.max(honest, row.getDouble(w));
            }
            byzantineHighest += byz >= honest - 1e-6 ? 1 : 0;
        }
        assertThat(byzantineHighest).isGreaterThan(q.size() / 2);
    }

    @Test
    void theReportIsSelfContained() throws Exception {
        String html = Files.readString(dir.resolve("report.html"));
        assertThat(html).contains("echarts").contains("const RESULTS = ").contains("heatmap");
        assertThat(html).doesNotContain("<script src=");
        assertThat(html).contains("flag + stragglers");
    }
}
