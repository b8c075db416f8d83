package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.SplittableRandom;
import org.flagagg.engine.RoundReport;
import org.flagagg.fa.FlagOptions;
import org.flagagg.fa.FlagSolution;
import org.flagagg.fa.FlagSolver;
import org.junit.jupiter.api.Test;

/** The Flag Aggregator behind the Rule interface: validation, the linear solution and its details. */
class FlagRuleTest {

    @Test
    void validateNamesTheRankTheRangeAndP() {
        assertThatThrownBy(() -> new FlagRule(FlagOptions.DEFAULTS.withRank(9)).validate(8))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("flag rank r = 9 is out of range 1..8 for p = 8");
        assertThatThrownBy(() -> new FlagRule(FlagOptions.DEFAULTS).validate(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("flag needs at least one input (p = 0)");
        assertThatThrownBy(() -> new FlagRule(FlagOptions.DEFAULTS.withRank(3)).solve(2, new double[4]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("flag rank r = 3 is out of range 1..2 for p = 2");
    }

    @Test
    void validateAcceptsTheDefaultRankAndAnyRankUpToP() {
        for (int p = 1; p <= 20; p++) {
            int inputs = p;
            assertThatCode(() -> new FlagRule(FlagOptions.DEFAULTS).validate(inputs)).doesNotThrowAnyException();
            assertThatCode(() -> new FlagRule(FlagOptions.DEFAULTS.withRank(inputs)).validate(inputs))
                    .doesNotThrowAnyException();
        }
    }

    @Test
    void nameAndPasses() {
        Rule rule = new FlagRule(FlagOptions.DEFAULTS);
        assertThat(rule.name()).isEqualTo("flag");
        assertThat(rule.passes()).containsExactlyInAnyOrder(Rule.Pass.GRAM, Rule.Pass.SECOND_PASS);
        assertThat(rule.needsGram()).isTrue();
    }

    @Test
    void solveGivesTheSolversCombinationWithDetails() {
        int p = 6;
        int n = 64;
        float[][] g = new float[p][n];
        SplittableRandom random = new SplittableRandom(31);
        for (int i = 0; i < p; i++) {
            for (int t = 0; t < n; t++) {
                g[i][t] = i == 3 ? 0 : (float) (random.nextDouble() - 0.3);
            }
        }
        double[] gram = gram(g);
        FlagOptions options = FlagOptions.DEFAULTS.withLambda(1).withScale(FlagOptions.Scale.NORM);

        Solution solution = new FlagRule(options).solve(p, gram);
        FlagSolution direct = FlagSolver.solve(gram, p, options);

        assertThat(solution.selected()).containsExactly(0, 1, 2, 4, 5);
        assertThat(solution.coefficients()).containsExactly(
                direct.coefficients()[0], direct.coefficients()[1], direct.coefficients()[2],
                direct.coefficients()[4], direct.coefficients()[5]);
        assertThat(solution.dropped()).containsExactly(Map.entry(3, "zero gradient"));

        JsonObject details = RoundReport.json(solution.details());
        assertThat(details.getInteger("rank")).isEqualTo(3); // ceil(5 kept / 2)
        assertThat(details.getDouble("lambda")).isEqualTo(1.0);
        assertThat(details.getInteger("iterations")).isEqualTo(direct.iterations());
        assertThat(details.getString("scale")).isEqualTo("norm");
        JsonArray objective = details.getJsonArray("objective");
        assertThat(objective.size()).isEqualTo(direct.iterations() + 1);
        assertThat(objective.getDouble(0)).isEqualTo(direct.objective()[0]);
        JsonArray quality = details.getJsonArray("quality");
        JsonArray weight = details.getJsonArray("weight");
        assertThat(quality.size()).isEqualTo(p);
        assertThat(weight.size()).isEqualTo(p);
        assertThat(quality.getValue(3)).isNull();
        assertThat(weight.getValue(3)).isNull();
        assertThat(quality.getDouble(0)).isEqualTo(direct.quality()[0]);
        assertThat(weight.getDouble(5)).isEqualTo(direct.weight()[5]);
        assertThat(details.encode()).doesNotContain("NaN");

        // The output pass: rows of the selected inputs in, sum_i c_i g_i out.
        int[] selected = solution.selected();
        float[][] rows = new float[selected.length][];
        for (int k = 0; k < selected.length; k++) {
            rows[k] = g[selected[k]];
        }
        double[] out = new double[n + 2];
        solution.apply(rows, n, out, 2);
        for (int t = 0; t < n; t++) {
            double expected = 0;
            for (int i = 0; i < p; i++) {
                expected += direct.coefficients()[i] * g[i][t];
            }
            assertThat(out[2 + t]).isCloseTo(expected, within(1e-12));
        }
    }

    private static double[] gram(float[][] g) {
        int p = g.length;
        double[] gram = new double[p * p];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                for (int t = 0; t < g[i].length; t++) {
                    gram[i * p + j] += (double) g[i][t] * g[j][t];
                }
            }
        }
        return gram;
    }
}
