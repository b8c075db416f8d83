package org.flagagg.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.flagagg.engine.RoundReport;
import org.flagagg.fa.FlagOptions;
import org.flagagg.kernels.Kernels;
import org.junit.jupiter.api.Test;

/**
 * acfa against a whole-vector reference: the centred qualities of {@link CentredFlagRuleTest#reference}
 * (geometric median, deviations, rank-1 FA in full space), then the adaptive drop written out here: if at
 * least two workers have q~ >= 0.99, drop those of them among the f highest; FA in full space on the rest.
 */
class AdaptiveCentredFlagRuleTest {

    private static final FlagOptions OPTIONS = FlagOptions.DEFAULTS;

    static CentredFlagRuleTest.Reference reference(float[][] g, int f, FlagOptions options) {
        double[] q = CentredFlagRuleTest.reference(g, f, options).quality();
        int p = g.length;
        long fitted = Arrays.stream(q).filter(x -> x >= 0.99).count();
        Set<Integer> dropped = new TreeSet<>();
        if (fitted >= 2) {
            IntStream.range(0, p).boxed()
                    .sorted(Comparator.<Integer>comparingDouble(i -> -q[i]).thenComparingInt(i -> i))
                    .limit(f).filter(i -> q[i] >= 0.99).forEach(dropped::add);
        }
        return new CentredFlagRuleTest.Reference(q, dropped, CentredFlagRuleTest.flagOnKept(g, dropped, options));
    }

    static Solution assertMatchesReference(float[][] g, int f, String what) {
        StreamingRun.Result run = StreamingRun.run(CentredFlagRule.adaptive(f, OPTIONS), g, Kernels.best(), 64, 3);
        CentredFlagRuleTest.Reference expected = reference(g, f, OPTIONS);
        double[] q = CentredFlagRuleTest.qualities(run.solution());
        for (int i = 0; i < g.length; i++) {
            assertThat(q[i]).as("%s: centred quality of %d", what, i).isCloseTo(expected.quality()[i], within(1e-8));
        }
        assertThat(CentredFlagRuleTest.droppedByRule(run.solution())).as(what + ": dropped").isEqualTo(expected.dropped());
        Approx.assertClose(run.aggregate(), expected.aggregate(), 1e-8, what);
        return run.solution();
    }

    @Test
    void dropsNobodyOnHonestInputsAndIsThenFa() {
        for (long seed = 1820; seed < 1825; seed++) {
            float[][] g = Inputs.gaussian(15, 1500, seed);
            Solution solution = assertMatchesReference(g, 3, "honest, seed " + seed);
            assertThat(solution.dropped()).as("seed %d", seed).isEmpty();
            Approx.assertClose(StreamingRun.run(CentredFlagRule.adaptive(3, OPTIONS), g, Kernels.scalar(), 40, 6).aggregate(),
                    StreamingRun.run(new FlagRule(OPTIONS), g, Kernels.scalar(), 40, 6).aggregate(), 1e-9, "acfa vs flag");
        }
    }

    @Test
    void dropsEveryColluderUnderLie() {
        Solution solution = assertMatchesReference(CentredFlagRuleTest.lieColluders(15, 3, 2000, 1826), 3, "lie");
        assertThat(solution.dropped().keySet()).containsExactly(0, 1, 2);
        assertThat(solution.dropped().get(0))
                .matches("centred quality 1\\.000 >= 0\\.99, shared by 3 workers, among the 3 highest \\(acfa\\)");
    }

    @Test
    void dropsOnlyTheTwoColludersWhenFIsLarger() {
        // f = 4 tolerated, 2 collude: cfa would drop 2 honest workers too.
        float[][] g = CentredFlagRuleTest.lieColluders(15, 2, 1500, 1827);
        assertThat(assertMatchesReference(g, 4, "2 colluders, f = 4").dropped().keySet()).containsExactly(0, 1);
        assertThat(StreamingRun.run(new CentredFlagRule(4, OPTIONS), g, Kernels.best(), 64, 3).solution().dropped())
                .hasSize(4);
    }

    @Test
    void neverDropsMoreThanF() {
        // Five copies of one vector (mimic: colluders copying an honest worker), f = 3.
        float[][] g = Inputs.gaussian(12, 800, 1828);
        for (int i = 1; i < 5; i++) {
            g[i] = g[0].clone();
        }
        Solution solution = assertMatchesReference(g, 3, "five copies");
        assertThat(solution.dropped().keySet()).containsExactly(0, 1, 2);
        assertThat(RoundReport.json(solution.details()).getInteger("fitted")).isEqualTo(5);
    }

    @Test
    void aDuplicatedWorkerGoesWithItsCopyAndNobodyElse() {
        // Two identical gradients are indistinguishable from two colluders: both go, the other ten stay.
        float[][] g = Inputs.gaussian(12, 1000, 1829);
        g[7] = g[4].clone();
        assertThat(assertMatchesReference(g, 3, "one duplicate").dropped().keySet()).containsExactly(4, 7);
    }

    @Test
    void oneWorkerLeftIsThatWorker() {
        float[][] g = CentredFlagRuleTest.lieColluders(4, 3, 400, 1830);
        Solution solution = assertMatchesReference(g, 3, "p - f = 1");
        assertThat(solution.selected()).containsExactly(3);
    }

    @Test
    void registeredByNameWithItsDetails() {
        Rule rule = Rules.create(new RuleConfig("acfa", 2, 0, OPTIONS));
        assertThat(rule.name()).isEqualTo("acfa");
        assertThat(rule.passes()).containsExactlyInAnyOrder(Rule.Pass.GRAM, Rule.Pass.SECOND_PASS);
        var details = RoundReport.json(StreamingRun.run(rule, CentredFlagRuleTest.lieColluders(9, 2, 300, 1831),
                Kernels.scalar(), 30, 15).solution().details());
        assertThat(details.getDouble("fittedThreshold")).isEqualTo(0.99);
        assertThat(details.getInteger("fitted")).isEqualTo(2);
        assertThat(details.getJsonArray("dropped")).hasSize(2);
        assertThat(details.getJsonArray("kept")).hasSize(7);
        assertThat(details.getJsonArray("centredQuality")).hasSize(9);
    }
}
