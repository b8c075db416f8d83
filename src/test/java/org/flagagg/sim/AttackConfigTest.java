package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.flagagg.sim.AttackConfig.Distribution;
import org.flagagg.sim.AttackConfig.Noise;
import org.flagagg.sim.AttackConfig.NonFinite;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AttackConfigTest {

    @Test
    void defaults() {
        AttackConfig drop = AttackConfig.of("drop");
        assertThat(drop.fraction()).isEqualTo(0.1);
        assertThat(AttackConfig.of("nan").fraction()).isEqualTo(1.0);
        assertThat(AttackConfig.of("nan").mode()).isEqualTo(NonFinite.NAN);
        assertThat(AttackConfig.of("reverse").k()).isEqualTo(10.0);
        assertThat(AttackConfig.of("empire").eps()).isEqualTo(0.1);
        assertThat(AttackConfig.of("lie").z()).isNaN();
        assertThat(AttackConfig.of("duplicate").target()).isZero();
        assertThat(AttackConfig.of("random").noise()).isEqualTo(Noise.uniform(0, 1));
        assertThat(drop.seed()).isZero();
    }

    @Test
    void parsesNamesAndParameters() {
        assertThat(AttackConfig.parse("lie", 5)).isEqualTo(AttackConfig.of("lie", 5));
        assertThat(AttackConfig.parse("empire:eps=10", 0).eps()).isEqualTo(10.0);
        assertThat(AttackConfig.parse("random:dist=gaussian,std=2", 0).noise()).isEqualTo(Noise.gaussian(0, 2));
        assertThat(AttackConfig.parse("random:dist=gaussian,mean=-1.5", 0).noise()).isEqualTo(Noise.gaussian(-1.5, 1));
        assertThat(AttackConfig.parse("random:low=-1,high=1e1", 0).noise()).isEqualTo(Noise.uniform(-1, 10));
        assertThat(AttackConfig.parse("reverse:k=3", 0).k()).isEqualTo(3.0);
        assertThat(AttackConfig.parse("drop:fraction=0.25", 0).fraction()).isEqualTo(0.25);
        assertThat(AttackConfig.parse("lie:z=1.5", 0).z()).isEqualTo(1.5);
        assertThat(AttackConfig.parse("duplicate:target=3", 0).target()).isEqualTo(3);
        AttackConfig nan = AttackConfig.parse("nan:mode=inf,fraction=0.5", 0);
        assertThat(nan.mode()).isEqualTo(NonFinite.INF);
        assertThat(nan.fraction()).isEqualTo(0.5);
        assertThat(AttackConfig.parse("nan:mode=-inf", 0).mode()).isEqualTo(NonFinite.NEG_INF);
        assertThat(AttackConfig.parse("nan:mode=+inf", 0).mode()).isEqualTo(NonFinite.INF);
        assertThat(AttackConfig.parse("random:dist=normal,std=3", 0).noise()).isEqualTo(Noise.gaussian(0, 3));
    }

    @Test
    void isCaseAndSpaceInsensitiveAndSeedInTheSpecWins() {
        AttackConfig c = AttackConfig.parse("  Random : Dist = Gaussian , STD = 2 ", 4);
        assertThat(c.name()).isEqualTo("random");
        assertThat(c.noise().distribution()).isEqualTo(Distribution.GAUSSIAN);
        assertThat(c.noise().std()).isEqualTo(2.0);
        assertThat(c.seed()).isEqualTo(4);
        assertThat(AttackConfig.parse("drop:seed=9", 4).seed()).isEqualTo(9);
        assertThat(AttackConfig.parse("zero:seed=-3", 4).seed()).isEqualTo(-3);
    }

    @Test
    void specRoundTrips() {
        List<AttackConfig> configs = List.of(
                AttackConfig.of("none", 1),
                AttackConfig.of("random", 2),
                AttackConfig.of("random", 2).withNoise(Noise.gaussian(0.25, 3)),
                AttackConfig.of("random", 2).withNoise(Noise.uniform(-2, 0.125)),
                AttackConfig.of("reverse").withK(2.5),
                AttackConfig.of("drop", -7).withFraction(0.3),
                AttackConfig.of("lie"),
                AttackConfig.of("lie").withZ(0.21),
                AttackConfig.of("empire").withEps(10),
                AttackConfig.of("signflip"),
                AttackConfig.of("nan").withMode(NonFinite.NEG_INF).withFraction(0.01),
                AttackConfig.of("zero"),
                AttackConfig.of("duplicate").withTarget(4));
        for (AttackConfig c : configs) {
            assertThat(AttackConfig.parse(c.spec(), 12345)).as(c.spec()).isEqualTo(c);
        }
        assertThat(AttackConfig.of("empire", 3).withEps(10).spec()).isEqualTo("empire:eps=10.0,seed=3");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "''                              | empty attack spec",
            "'   '                           | empty attack spec",
            "foo                             | unknown attack 'foo' (attacks: none, random, reverse, drop, lie, empire, signflip, nan, zero, duplicate, lienoise)",
            "foo:eps=1                       | unknown attack 'foo'",
            "empire:k=3                      | attack 'empire' has no parameter 'k' (its parameters: eps, seed)",
            "zero:fraction=0.5               | attack 'zero' has no parameter 'fraction' (its parameters: seed)",
            "empire:eps                      | parameter 'eps' needs a value",
            "empire:eps=                     | parameter 'eps' needs a value",
            "empire:                         | empty parameter",
            "'empire:eps=1,,'                | empty parameter",
            "'empire:eps=1,eps=2'            | parameter 'eps' given twice",
            "empire:eps=abc                  | attack 'empire': eps must be a number, got 'abc'",
            "empire:eps=NaN                  | attack 'empire': eps must be a finite number, got 'NaN'",
            "reverse:k=Infinity              | attack 'reverse': k must be a finite number",
            "drop:fraction=1.5               | drop: fraction must be in [0, 1], got 1.5",
            "nan:fraction=-0.1               | nan: fraction must be in [0, 1], got -0.1",
            "nan:mode=zero                   | attack 'nan': mode must be nan, inf or -inf, got 'zero'",
            "random:dist=cauchy              | attack 'random': dist must be uniform or gaussian, got 'cauchy'",
            "random:std=2                    | mean and std apply to dist=gaussian",
            "'random:dist=gaussian,low=0'    | low and high apply to dist=uniform",
            "'random:dist=gaussian,std=-1'   | gaussian std must be finite and >= 0, got -1.0",
            "'random:low=2,high=1'           | uniform needs finite low < high, got low = 2.0, high = 1.0",
            "duplicate:target=-1             | target must be an honest worker index >= 0, got -1",
            "duplicate:target=1.5            | attack 'duplicate': target must be an integer, got '1.5'",
            "lie:seed=x                      | attack 'lie': seed must be an integer, got 'x'",
    })
    void badSpecsAreRejectedWithAClearMessage(String spec, String message) {
        assertThatThrownBy(() -> AttackConfig.parse(spec, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void nullSpecIsRejected() {
        assertThatThrownBy(() -> AttackConfig.parse(null, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty attack spec");
    }

    @Test
    void constructorRejectsBadValues() {
        assertThatThrownBy(() -> AttackConfig.of("lie").withZ(Double.POSITIVE_INFINITY))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lie: z must be a finite number");
        assertThatThrownBy(() -> AttackConfig.of("empire").withEps(Double.NaN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empire: eps");
        assertThatThrownBy(() -> AttackConfig.of("duplicate").withTarget(-2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got -2");
        assertThatThrownBy(() -> AttackConfig.of("random").withNoise(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("noise");
    }
}
