package org.flagagg.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ArrayPoolTest {

    @Test
    void reusesOnlyArraysOfTheReusedLengthAndKeepsAtMostMax() {
        ArrayPool<byte[]> arrays = ArrayPool.bytes(2);
        byte[] early = arrays.take(8);
        arrays.give(early);
        assertThat(arrays.take(8)).as("no length is reused before reuse()").isNotSameAs(early);

        arrays.reuse(8);
        byte[] a = arrays.take(8);
        byte[] b = arrays.take(8);
        byte[] c = arrays.take(8);
        byte[] other = arrays.take(4);
        arrays.give(a);
        arrays.give(b);
        arrays.give(c); // over max: dropped
        arrays.give(other); // not the reused length: dropped
        List<byte[]> again = List.of(arrays.take(8), arrays.take(8), arrays.take(8));
        assertThat(again).allMatch(x -> x.length == 8);
        assertThat(again).filteredOn(x -> x == a || x == b).hasSize(2);
        assertThat(again).noneMatch(x -> x == c);
        byte[] small = arrays.take(4);
        assertThat(small).hasSize(4);
        assertThat(small == other).as("other lengths are never pooled").isFalse();
    }
}
