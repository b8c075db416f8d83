package org.flagagg.bus;

import java.util.ArrayDeque;

/**
 * Reusable byte arrays of one size, for full chunk frames on the hot paths. Allocating, and so zeroing, a
 * fresh chunk-sized array per frame cost a pass over every byte (and page faults while the heap was still
 * growing). Holds at most {@code max} spare arrays; other sizes get fresh ones. Thread-safe: an array may be
 * given back on another thread than the one that took it.
 */
public final class ByteArrays {
    private final ArrayDeque<byte[]> spare = new ArrayDeque<>();
    private final int max;
    private volatile int length = -1;

    public ByteArrays(int max) {
        this.max = max;
    }

    /** From now on, arrays of {@code length} bytes are reused. */
    public void reuse(int length) {
        this.length = length;
    }

    /** An array of n bytes, reused when n is the reused length (its old contents are still there). */
    public synchronized byte[] take(int n) {
        byte[] reused = n == length ? spare.poll() : null;
        return reused != null ? reused : new byte[n];
    }

    /** Nobody reads or writes {@code array} any more. */
    public synchronized void give(byte[] array) {
        if (array.length == length && spare.size() < max) {
            spare.push(array);
        }
    }
}
