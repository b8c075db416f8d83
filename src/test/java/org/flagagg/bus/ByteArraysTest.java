package org.flagagg.bus;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ByteArraysTest {

    @Test
    void reusesOnlyArraysOfTheReusedLengthAndKeepsAtMostMax() {
        ByteArrays arrays = new ByteArrays(2);
        byte[] before = arrays.take(8);
        arrays.give(before);
        assertThat(arrays.take(8)).as("no length is reused before reuse()").isNotSameAs(before);

        arrays.reuse(8);
        byte[] a = arrays.take(8);
        byte[] b = arrays.take(8);
        byte[] c = arrays.take(8);
        byte[] other = arrays.take(4);
        arrays.give(a);
        arrays.give(b);
        arrays.give(c);
        arrays.give(other);
        byte[] first = arrays.take(8);
        byte[] second = arrays.take(8);
        assertThat(first).isIn(a, b, c);
        assertThat(second).isIn(a, b, c).isNotSameAs(first);
        assertThat(arrays.take(8)).as("only max spares are kept").isNotIn(a, b, c);
        assertThat(arrays.take(4)).as("other lengths are never pooled").isNotSameAs(other).hasSize(4);
    }
}
