package org.flagagg.round;

import java.io.IOException;

/**
 * p gradients of dimension n that can be read by coordinate range, as often as needed: the offline form of
 * a round (a file, or arrays in memory).
 */
public interface GradientSource extends AutoCloseable {

    int workers();

    long dimension();

    /**
     * Reads worker {@code worker}'s coordinates [offset, offset + len) into dst[0, len). An {@link Aggregation}
     * with more than one thread calls it from several threads at once (into distinct arrays).
     */
    void read(int worker, long offset, int len, float[] dst) throws IOException;

    @Override
    default void close() throws IOException {
    }
}
