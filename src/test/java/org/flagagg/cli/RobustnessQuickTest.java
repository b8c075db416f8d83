package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flagagg robustness --quick} end to end (about 30 s on 2 cores); see docs/robustness.md. */
class RobustnessQuickTest {
    @TempDir
    static Path dir;
    static JsonObject results;
    static String stdout;
    static int exit;

    @BeforeAll
    static void runQuickBenchmark() throws Exception {
        CommandRun run = CommandRun.of(dir, "robustness", "--quick");
        exit = run.exit();
        stdout = run.stdout();
        results = run.results();
    }

    static JsonObject cell(String rule, String attack) {
        return results.getJsonObject("summary").getJsonObject("iid").getJsonObject(rule).getJsonObject("cells")
                .getJsonObject(attack);
    }

    @Test
    void everyRuleAttackCellHasTwoSeedsAndFiniteStandardErrors() {
        assertThat(exit).isZero();
        assertThat(results.getJsonArray("runs")).hasSize(RobustnessCommand.QUICK.runs());
        for (String rule : RobustnessCommand.QUICK.rules()) {
            for (String attack : RobustnessCommand.QUICK.attacks()) {
                JsonObject cell = cell(rule, attack);
                assertThat(cell.getInteger("n")).as(rule + " / " + attack).isEqualTo(2);
                assertThat(cell.getDouble("mean")).isBetween(0.0, 1.0);
                assertThat(cell.getDouble("se")).isNotNaN().isFinite().isGreaterThanOrEqualTo(0.0);
                assertThat(cell.getJsonArray("curve")).hasSize(cell.getJsonArray("eval_rounds").size());
            }
            assertThat(stdout).contains("| " + rule + " |");
        }
        assertThat(dir.resolve("report.html")).content().contains("echarts").contains("Byzantine share dropped");
    }

    @Test
    void mergingRunsSummarisesThemAsTheRunThatMadeThem(@TempDir Path merged) throws Exception {
        CommandRun run = CommandRun.of(merged, "robustness", "--merge", dir.toString());
        JsonObject again = run.results();
        assertThat(run.exit()).isZero();
        assertThat(again.getJsonObject("grid")).isEqualTo(results.getJsonObject("grid"));
        assertThat(again.getJsonObject("summary")).isEqualTo(results.getJsonObject("summary"));
        assertThat(again.getJsonObject("settings")).isEqualTo(results.getJsonObject("settings"));
    }

    @Test
    void cfaDropsTheColludersInMostRoundsUnderLieAndMeanDropsNobody() {
        assertThat(cell("cfa", "lie").getDouble("dropped")).isGreaterThan(0.9);
        assertThat(cell("cfa", "lie").getBoolean("filtering")).isTrue();
        assertThat(cell("mean", "lie").getBoolean("filtering")).isFalse();
        assertThat(cell("mean", "lie").getValue("dropped")).isNull();
    }

    @Test
    void cfaStaysWithinAFewPointsOfFlagWithoutAttack() {
        assertThat(cell("cfa", "none").getDouble("mean")).isCloseTo(cell("flag", "none").getDouble("mean"),
                org.assertj.core.data.Offset.offset(0.05));
        // The worst case of every rule is its lowest cell.
        JsonObject worst = results.getJsonObject("summary").getJsonObject("iid").getJsonObject("cfa").getJsonObject("worst");
        assertThat(worst.getDouble("mean")).isEqualTo(Math.min(cell("cfa", "none").getDouble("mean"),
                cell("cfa", "lie").getDouble("mean")));
    }

    @Test
    void acfaDropsTheColludersUnderLieAndWithoutAttackIsFlag() {
        assertThat(cell("acfa", "lie").getDouble("dropped")).isGreaterThan(0.9);
        // Without attack it (almost) never drops anyone, so it trains as FA does; cfa drops three every round.
        JsonObject clean = cell("acfa", "none");
        assertThat(clean.getValue("dropped") == null ? 0.0 : clean.getDouble("dropped")).isLessThan(0.05);
        assertThat(clean.getDouble("mean")).isCloseTo(cell("flag", "none").getDouble("mean"),
                org.assertj.core.data.Offset.offset(0.01));
    }
}
