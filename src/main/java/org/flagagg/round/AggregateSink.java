package org.flagagg.round;

import java.io.IOException;

/** Receives the aggregate block by block (never across a chunk boundary), in coordinate order. */
@FunctionalInterface
public interface AggregateSink {
    /** values[0, len) are the aggregate's coordinates [offset, offset + len). */
    void accept(long offset, double[] values, int len) throws IOException;
}
