package org.flagagg.wire;

import java.util.ArrayDeque;
import java.util.function.IntFunction;
import java.util.function.ToIntFunction;

/**
 * Reusable arrays of one length, for chunk-sized frames and values on the hot paths. Allocating, and so
 * zeroing, a fresh chunk-sized array per frame cost a pass over every byte (and page faults while the heap
 * was still growing). Holds at most {@code max} spare arrays; other lengths get fresh ones. Thread-safe: an
 * array may be given back on another thread than the one that took it.
 */
public final class ArrayPool<A> {
    private final ArrayDeque<A> spare = new ArrayDeque<>();
    private final int max;
    private final IntFunction<A> allocate;
    private final ToIntFunction<A> lengthOf;
    private volatile int length = -1;

    private ArrayPool(int max, IntFunction<A> allocate, ToIntFunction<A> lengthOf) {
        this.max = max;
        this.allocate = allocate;
        this.lengthOf = lengthOf;
    }

    public static ArrayPool<byte[]> bytes(int max) {
        return new ArrayPool<>(max, byte[]::new, a -> a.length);
    }

    public static ArrayPool<float[]> floats(int max) {
        return new ArrayPool<>(max, float[]::new, a -> a.length);
    }

    /** From now on, arrays of {@code length} elements are reused. */
    public void reuse(int length) {
        this.length = length;
    }

    /** An array of n elements, reused when n is the reused length (its old contents are still there). */
    public synchronized A take(int n) {
        A reused = n == length ? spare.poll() : null;
        return reused != null ? reused : allocate.apply(n);
    }

    /** Nobody reads or writes {@code array} any more. */
    public synchronized void give(A array) {
        if (lengthOf.applyAsInt(array) == length && spare.size() < max) {
            spare.push(array);
        }
    }
}
