package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StragglerSpecTest {

    @Test
    void noneDoesNothing() {
        StragglerSpec spec = StragglerSpec.parse(" none ");
        for (int slot = 0; slot < 5; slot++) {
            assertThat(spec.sendDelayMs(1, 0, slot, 5)).isZero();
            assertThat(spec.dropsOut(1, 0, slot, 5)).isFalse();
            assertThat(spec.ackDelayMs(slot, 5)).isZero();
        }
    }

    @Test
    void onlyDelayAndLognormalDelaySending() {
        assertThat(StragglerSpec.parse("none").delaysSending()).isFalse();
        assertThat(StragglerSpec.parse("dropout:p=0.5+slowreader:ms=5").delaysSending()).isFalse();
        assertThat(StragglerSpec.parse("delay:ms=200").delaysSending()).isTrue();
        assertThat(StragglerSpec.parse("dropout:p=0.1+lognormal:median_ms=20,sigma=0.5").delaysSending()).isTrue();
    }

    @Test
    void delayHitsTheLastSlotsAndDefaultsToOne() {
        StragglerSpec one = StragglerSpec.parse("delay:ms=200");
        assertThat(one.sendDelayMs(1, 0, 4, 5)).isEqualTo(200);
        assertThat(one.sendDelayMs(1, 0, 3, 5)).isZero();
        StragglerSpec two = StragglerSpec.parse("DELAY: ms = 150 , workers = 2");
        assertThat(two.sendDelayMs(1, 7, 3, 5)).isEqualTo(150);
        assertThat(two.sendDelayMs(1, 7, 4, 5)).isEqualTo(150);
        assertThat(two.sendDelayMs(1, 7, 2, 5)).isZero();
        // More straggling workers than exist: all of them.
        assertThat(StragglerSpec.parse("delay:ms=1,workers=99").sendDelayMs(1, 0, 0, 5)).isEqualTo(1);
    }

    @Test
    void lognormalIsMedianTimesExpOfSigmaZDeterministically() {
        StragglerSpec spec = StragglerSpec.parse("lognormal:median_ms=50,sigma=1");
        int below = 0;
        int rounds = 2000;
        for (long round = 0; round < rounds; round++) {
            long ms = spec.sendDelayMs(9, round, 2, 4);
            assertThat(ms).isGreaterThanOrEqualTo(0).isEqualTo(spec.sendDelayMs(9, round, 2, 4));
            if (ms < 50) {
                below++;
            }
        }
        // Median 50 ms: about half the draws fall below it.
        assertThat(below).isBetween(900, 1100);
        assertThat(StragglerSpec.parse("lognormal:median_ms=50,sigma=0").sendDelayMs(9, 3, 0, 4)).isEqualTo(50);
        // sigma = 0 and a fixed delay add up.
        assertThat(StragglerSpec.parse("lognormal:median_ms=50,sigma=0+delay:ms=20").sendDelayMs(9, 3, 3, 4))
                .isEqualTo(70);
    }

    @Test
    void dropoutHasTheGivenRateAndTheEdgesAreExact() {
        StragglerSpec spec = StragglerSpec.parse("dropout:p=0.25");
        int drops = 0;
        for (long round = 0; round < 4000; round++) {
            if (spec.dropsOut(3, round, 1, 4)) {
                drops++;
            }
        }
        assertThat(drops).isBetween(900, 1100);
        StragglerSpec all = StragglerSpec.parse("dropout:p=1,workers=2");
        assertThat(all.dropsOut(3, 0, 3, 4)).isTrue();
        assertThat(all.dropsOut(3, 0, 2, 4)).isTrue();
        assertThat(all.dropsOut(3, 0, 1, 4)).isFalse();
        assertThat(StragglerSpec.parse("dropout:p=0").dropsOut(3, 0, 3, 4)).isFalse();
    }

    @Test
    void slowReaderAndCombinations() {
        StragglerSpec spec = StragglerSpec.parse("slowreader:ms=5,workers=2 + delay:ms=10 + dropout:p=0");
        assertThat(spec.ackDelayMs(3, 4)).isEqualTo(5);
        assertThat(spec.ackDelayMs(1, 4)).isZero();
        assertThat(spec.sendDelayMs(0, 0, 3, 4)).isEqualTo(10);
        assertThat(spec.spec()).isEqualTo("slowreader:ms=5,workers=2 + delay:ms=10 + dropout:p=0");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "''|empty straggler spec",
        "slow|unknown straggler kind 'slow'",
        "delay|needs ms=",
        "delay:ms=-1|ms must be >= 0",
        "delay:ms=abc|ms must be a number, got 'abc'",
        "delay:ms=5,ms=6|'ms' given twice",
        "delay:ms=5,median_ms=3|has no parameter 'median_ms'",
        "delay:ms=5,workers=0|workers must be >= 1",
        "delay:ms=5,workers=1.5|workers must be an integer",
        "lognormal:median_ms=50|needs sigma=",
        "dropout:p=1.5|p must be in [0, 1], got 1.5",
        "dropout:p=NaN|p must be finite",
        "slowreader:ms|is not key=value",
        "delay:ms=1+|empty part around '+'",
        "none:x=1|takes none"})
    void badSpecsSayWhatIsWrong(String spec, String message) {
        assertThatThrownBy(() -> StragglerSpec.parse(spec)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }
}
