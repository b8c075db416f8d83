package org.flagagg.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The benchmark's summary arithmetic on hand-made runs. */
class RobustnessTest {
    private static final Robustness.Grid GRID = new Robustness.Grid(List.of("mean", "cfa"), List.of("none", "lie"),
            List.of("iid"), List.of(1L, 2L, 3L));

    private static JsonObject run(String rule, String attack, long seed, double accuracy, boolean filtering, Double... dropped) {
        JsonArray d = new JsonArray();
        for (Double x : dropped) {
            d.add(x);
        }
        return new JsonObject().put("rule", rule).put("attack", attack).put("split", "iid").put("seed", seed)
                .put("final_accuracy", accuracy).put("eval_rounds", new JsonArray(List.of(0, 2)))
                .put("accuracy", new JsonArray(List.of(0.1, accuracy))).put("filtering", filtering)
                .put("byzantine_dropped", d);
    }

    private static List<JsonObject> runs() {
        List<JsonObject> runs = new ArrayList<>();
        double[] meanNone = {0.80, 0.82, 0.87};
        double[] meanLie = {0.50, 0.56, 0.53};
        for (int s = 0; s < 3; s++) {
            runs.add(run("mean", "none", s + 1, meanNone[s], false, 0.0, 0.0));
            runs.add(run("mean", "lie", s + 1, meanLie[s], false, 0.0, 0.0));
            runs.add(run("cfa", "none", s + 1, 0.8, true, 0.0, 1.0 / 3));
            // A failed round (null) is left out of its seed's mean.
            runs.add(run("cfa", "lie", s + 1, 0.79, true, 1.0, s == 0 ? null : 1.0 / 3));
        }
        return runs;
    }

    @Test
    void meanAndStandardErrorOverSeedsAndTheWorstAttack() {
        JsonObject mean = Robustness.summary(GRID, runs()).getJsonObject("iid").getJsonObject("mean");
        JsonObject lie = mean.getJsonObject("cells").getJsonObject("lie");
        // Independently: mean 0.53; deviations -0.03, 0.03, 0; sample variance 0.0018 / 2; SE = sqrt(0.0009 / 3).
        assertThat(lie.getDouble("mean")).isCloseTo(0.53, offset(1e-12));
        assertThat(lie.getDouble("se")).isCloseTo(Math.sqrt(0.0009 / 3), offset(1e-12));
        assertThat(lie.getJsonArray("curve").getDouble(1)).isCloseTo(0.53, offset(1e-12));
        assertThat(lie.getValue("dropped")).isNull();
        assertThat(mean.getJsonObject("worst").getString("attack")).isEqualTo("lie");
        assertThat(mean.getJsonObject("worst").getDouble("mean")).isCloseTo(0.53, offset(1e-12));
    }

    @Test
    void droppedShareAveragesSeedsPerRoundSkippingFailedRounds() {
        JsonObject cfa = Robustness.summary(GRID, runs()).getJsonObject("iid").getJsonObject("cfa");
        JsonObject lie = cfa.getJsonObject("cells").getJsonObject("lie");
        assertThat(lie.getJsonArray("dropped_curve").getDouble(0)).isEqualTo(1.0);
        assertThat(lie.getJsonArray("dropped_curve").getDouble(1)).isCloseTo(1.0 / 3, offset(1e-12));
        assertThat(lie.getDouble("dropped")).isCloseTo(2.0 / 3, offset(1e-12));
        assertThat(lie.getDouble("se")).isCloseTo(0.0, offset(1e-12));
        assertThat(cfa.getJsonObject("worst").getString("attack")).isEqualTo("lie");
    }

    @Test
    void oneSeedHasNoStandardErrorAndTheTableSaysSo() {
        Robustness.Grid one = new Robustness.Grid(List.of("mean"), List.of("none"), List.of("iid"), List.of(1L));
        JsonObject summary = Robustness.summary(one, List.of(run("mean", "none", 1, 0.75, false, 0.0)));
        assertThat(summary.getJsonObject("iid").getJsonObject("mean").getJsonObject("cells").getJsonObject("none")
                .getValue("se")).isNull();
        assertThat(Robustness.table(one, summary)).contains("| mean | 75.0 | 75.0 (none) |");
        assertThat(Robustness.table(GRID, Robustness.summary(GRID, runs()))).contains("| cfa | 80.0 +- 0.0 [0.17] | 79.0 +- 0.0 [0.67] |");
        assertThat(Robustness.htmlTables(Robustness.table(one, summary))).contains("<table>\n<tr><th>rule</th><th>none</th>")
                .contains("<tr><td>mean</td><td>75.0</td><td>75.0 (none)</td></tr>\n</table>");
        assertThatThrownBy(() -> new Robustness.Grid(List.of(), List.of("none"), List.of("iid"), List.of(1L)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
