package org.flagagg.link;

import java.util.ArrayDeque;

/**
 * Reusable arrays for received records of the largest size (full chunk frames). Allocating, and so zeroing,
 * a fresh chunk-sized array per record cost a pass over every byte received, and page faults while the heap
 * was still growing. Holds at most {@code max} spare arrays; records of other sizes get fresh ones.
 * Thread-safe: a record may be given back from another thread than the one that read it.
 */
final class RecordArrays {
    private final ArrayDeque<byte[]> spare = new ArrayDeque<>();
    private final int max;
    private volatile int length = -1;

    RecordArrays(int max) {
        this.max = max;
    }

    /** From now on, arrays of {@code length} bytes are reused. */
    void reuse(int length) {
        this.length = length;
    }

    synchronized byte[] take(int n) {
        byte[] reused = n == length ? spare.poll() : null;
        return reused != null ? reused : new byte[n];
    }

    /** The array's record is no longer read by anyone. */
    synchronized void give(byte[] array) {
        if (array.length == length && spare.size() < max) {
            spare.push(array);
        }
    }
}
