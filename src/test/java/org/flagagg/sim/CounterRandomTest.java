package org.flagagg.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CounterRandomTest {

    @Test
    void valueAtIndexIsTheSequentialSplitMixStreamAtThatPosition() {
        long key = CounterRandom.streamKey(42, RandomAttack.SALT, 3);
        SplittableRandom sequential = new SplittableRandom(key);
        for (long i = 0; i < 10_000; i++) {
            assertThat(CounterRandom.bits(key, i)).isEqualTo(sequential.nextLong());
        }
        SplittableRandom doubles = new SplittableRandom(key);
        for (long i = 0; i < 1000; i++) {
            assertThat(CounterRandom.uniform(key, i)).isEqualTo(doubles.nextDouble());
        }
    }

    @Test
    void uniformsStayInTheirRanges() {
        long key = CounterRandom.streamKey(7, 0, 0);
        for (long i = 0; i < 100_000; i++) {
            double u = CounterRandom.uniform(key, i);
            double o = CounterRandom.openUniform(key, i);
            double f = CounterRandom.uniform24(key, i);
            assertThat(u).isGreaterThanOrEqualTo(0).isLessThan(1);
            assertThat(o).isGreaterThan(0).isLessThan(1);
            assertThat((float) f).isGreaterThanOrEqualTo(0f).isLessThan(1f);
        }
    }

    @Test
    void keysDifferBySeedSaltAndWorker() {
        long base = CounterRandom.streamKey(1, 2, 0);
        assertThat(CounterRandom.streamKey(1, 2, 1)).isNotEqualTo(base);
        assertThat(CounterRandom.streamKey(2, 2, 0)).isNotEqualTo(base);
        assertThat(CounterRandom.streamKey(1, 3, 0)).isNotEqualTo(base);
        assertThat(CounterRandom.streamKey(1, 2, 0)).isEqualTo(base);
    }
}
