package org.flagagg.round;

/**
 * A snapshot of a {@link ChunkStore} for metrics. Each field is exact when read; the fields are read one
 * after the other, so under concurrent puts they may be a few chunks apart from each other.
 *
 * @param budgetBytes        the direct-memory budget the store was built with
 * @param slabBytes          size of one pooled direct buffer
 * @param bytesInMemory      chunk bytes currently held in slabs
 * @param peakBytesInMemory  the largest {@code bytesInMemory} seen since the store was built
 * @param bytesSpilled       chunk bytes currently in spill files
 * @param bytesSpilledTotal  chunk bytes ever written to spill files (cumulative)
 * @param peakBytesHeld      the largest chunk bytes held at once, in memory and spilled together, since the
 *                           store was built (with one round at a time: a round's footprint)
 * @param chunks             chunks currently stored (in memory or spilled)
 * @param rounds             rounds currently holding chunks
 * @param slabsAllocated     direct buffers allocated by the pool (they are reused, never freed before close)
 * @param slabsFree          allocated slabs not holding any round's chunks
 * @param slabsMax           budgetBytes / slabBytes: the pool never allocates more
 */
public record ChunkStoreStats(long budgetBytes, int slabBytes, long bytesInMemory, long peakBytesInMemory,
        long bytesSpilled, long bytesSpilledTotal, long peakBytesHeld, long chunks, int rounds, int slabsAllocated, int slabsFree,
        int slabsMax) {

    /** Direct memory held by the pool: slabsAllocated * slabBytes, never more than budgetBytes. */
    public long directBytes() {
        return (long) slabsAllocated * slabBytes;
    }
}
