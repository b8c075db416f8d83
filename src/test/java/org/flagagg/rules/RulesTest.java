package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.flagagg.engine.RoundReport;
import org.flagagg.fa.FlagOptions;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The registry, parameter validation, passes, and the mean. */
class RulesTest {

    @Test
    void createsEveryNamedRule() {
        for (String name : Rules.NAMES) {
            Rule rule = Rules.create(RuleConfig.of(name).withF(1));
            assertThat(rule.name()).isEqualTo(name);
        }
    }

    @Test
    void unknownNameListsTheRules() {
        assertThatThrownBy(() -> Rules.create(RuleConfig.of("krumm")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown rule 'krumm'")
                .hasMessageContaining(
                        "flag, mean, median, trmean, phocas, meamed, krum, multikrum, bulyan, geomed, cfa");
        assertThatThrownBy(() -> Rules.create(RuleConfig.of(null)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rules: flag, mean");
    }

    static Stream<Arguments> tooLargeF() {
        return Stream.of(
                Arguments.of("trmean", 4, 2, "trmean needs p > 2f (p = 4, f = 2)"),
                Arguments.of("phocas", 6, 3, "phocas needs p > 2f (p = 6, f = 3)"),
                Arguments.of("meamed", 3, 3, "meamed needs p > f (p = 3, f = 3)"),
                Arguments.of("krum", 6, 2, "krum needs p >= 2f + 3 (p = 6, f = 2)"),
                Arguments.of("multikrum", 4, 1, "multikrum needs p >= 2f + 3 (p = 4, f = 1)"),
                Arguments.of("bulyan", 10, 2, "bulyan needs p >= 4f + 3 (p = 10, f = 2)"),
                Arguments.of("cfa", 3, 3, "cfa needs p >= f + 1 (p = 3, f = 3)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tooLargeF")
    void rejectsFTooLargeForP(String name, int p, int f, String message) {
        Rule rule = Rules.create(RuleConfig.of(name).withF(f));
        assertThatThrownBy(() -> rule.validate(p)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
        // solve validates first, whatever the Gram matrix.
        assertThatThrownBy(() -> rule.solve(p, new double[p * p]))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(message);
        // One more input is enough.
        assertThatCode(() -> rule.validate(p + 1)).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @MethodSource("fRules")
    void rejectsNegativeFWhenCreated(String name) {
        assertThatThrownBy(() -> Rules.create(RuleConfig.of(name).withF(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(name + " needs f >= 0 (f = -1)");
    }

    static Stream<String> fRules() {
        return Stream.of("trmean", "phocas", "meamed", "krum", "multikrum", "bulyan", "cfa");
    }

    @Test
    void rejectsMOutOfRange() {
        Rule rule = Rules.create(RuleConfig.of("multikrum").withF(1).withM(8));
        assertThatThrownBy(() -> rule.validate(7))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("multikrum needs 1 <= m <= p (m = 8, p = 7)");
        assertThatCode(() -> rule.validate(8)).doesNotThrowAnyException();
        assertThatThrownBy(() -> Rules.create(RuleConfig.of("multikrum").withM(-2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("multikrum needs m >= 1, or 0 for p - f (m = -2)");
        assertThat(new MultiKrumRule(2, 0).mFor(9)).isEqualTo(7);
    }

    @Test
    void rejectsNoInputs() {
        for (String name : new String[] {"mean", "median", "geomed"}) {
            assertThatThrownBy(() -> Rules.create(RuleConfig.of(name)).validate(0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(name + " needs at least one input (p = 0)");
        }
    }

    @Test
    void gramRulesRejectAMissingGramMatrix() {
        for (String name : new String[] {"krum", "multikrum", "bulyan", "geomed", "cfa"}) {
            Rule rule = Rules.create(RuleConfig.of(name));
            assertThatThrownBy(() -> rule.solve(5, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(name + " needs the p x p Gram matrix");
            assertThatThrownBy(() -> rule.solve(5, new double[24]))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("got 24 entries");
        }
    }

    @Test
    void declaresItsPasses() {
        assertThat(Rules.create(RuleConfig.of("mean")).passes()).isEmpty();
        for (String name : new String[] {"median", "trmean", "phocas", "meamed"}) {
            assertThat(Rules.create(RuleConfig.of(name)).passes()).as(name).containsExactly(Rule.Pass.SECOND_PASS);
        }
        for (String name : new String[] {"krum", "multikrum", "bulyan", "geomed", "cfa"}) {
            assertThat(Rules.create(RuleConfig.of(name)).passes()).as(name)
                    .containsExactlyInAnyOrder(Rule.Pass.GRAM, Rule.Pass.SECOND_PASS);
        }
    }

    @Test
    void meanMatchesTextbookAndNeedsNoData() {
        for (int p : new int[] {1, 2, 13}) {
            float[][] g = Inputs.reversed(Inputs.gaussian(p, 900, 1300 + p), p / 3);
            StreamingRun.Result run = StreamingRun.run(new MeanRule(), g, Kernels.scalar(), 45, 15);
            assertThat(run.gram()).as("no Gram pass").isNull();
            Approx.assertClose(run.aggregate(), Textbook.mean(Inputs.toDouble(g)), "mean p = " + p);
            assertThat(run.solution().coefficients()).hasSize(p).containsOnly(1.0 / p);
        }
    }

    @Test
    void meanIsPermutationInvariant() {
        float[][] g = Inputs.gaussian(8, 400, 1401);
        double[] a = StreamingRun.run(new MeanRule(), g, Kernels.scalar(), 20, 16).aggregate();
        double[] b = StreamingRun.run(new MeanRule(), Inputs.permute(g, Inputs.randomPermutation(8, 1402)),
                Kernels.scalar(), 20, 16).aggregate();
        Approx.assertClose(b, a, 1e-12, "mean permuted");
    }

    @Test
    void detailsCarryWhatUsersNeed() {
        float[][] g = Inputs.gaussian(11, 200, 1501);
        assertThat(RoundReport.json(StreamingRun.run(new TrimmedMeanRule(2), g, Kernels.scalar(), 20, 1).solution().details())
                .getInteger("f")).isEqualTo(2);
        var krum = RoundReport.json(StreamingRun.run(new KrumRule(2), g, Kernels.scalar(), 20, 1).solution().details());
        assertThat(krum.getJsonArray("scores")).hasSize(11);
        assertThat(krum.getJsonArray("selected")).hasSize(1);
        var multi = RoundReport.json(StreamingRun.run(new MultiKrumRule(2, 0), g, Kernels.scalar(), 20, 1).solution().details());
        assertThat(multi.getJsonArray("selected")).hasSize(9);
        var bulyan = RoundReport.json(StreamingRun.run(new BulyanRule(2), g, Kernels.scalar(), 20, 1).solution().details());
        assertThat(bulyan.getJsonArray("selectionOrder")).hasSize(7);
        var geomed = RoundReport.json(StreamingRun.run(new GeometricMedianRule(), g, Kernels.scalar(), 20, 1).solution().details());
        assertThat(geomed.getInteger("iterations")).isPositive();
        assertThat(geomed.getDouble("objective")).isPositive();
        // Details are plain JSON (no infinities), so they can be encoded for reports.
        assertThat(krum.encode()).contains("\"scores\"");
        assertThat(bulyan.encode()).contains("\"selectionOrder\"");
        assertThat(geomed.encode()).contains("\"objective\"");
        var cfa = RoundReport.json(StreamingRun.run(new CentredFlagRule(2, FlagOptions.DEFAULTS), g, Kernels.scalar(), 20, 1).solution()
                .details());
        assertThat(cfa.getJsonArray("centredQuality")).hasSize(11);
        assertThat(cfa.getJsonArray("dropped")).hasSize(2);
        assertThat(cfa.getJsonObject("flag").getJsonArray("quality")).hasSize(11);
        assertThat(cfa.encode()).contains("\"centre\"");
    }
}
