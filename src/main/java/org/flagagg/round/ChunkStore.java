package org.flagagg.round;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.ToIntBiFunction;
import org.flagagg.round.SlabPool.Slab;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the chunks of open rounds for the second pass, off-heap under an explicit budget: chunks go into
 * pooled direct buffers (slabs) while the budget allows and are appended to a per-round spill file past it.
 *
 * <p>One store serves the whole server and is shared by all rounds: the budget is a server-wide bound and
 * slabs freed by one round are reused by the next. Thread-safe: puts and reads of any rounds may run
 * concurrently; {@link #releaseRound} waits for the puts and reads of that round that are in progress.
 *
 * <p>Chunks are float32 stored as little-endian bytes, bit for bit (NaN payloads and -0.0 survive).
 * A chunk is at most one slab long; chunks of a round are packed into that round's slabs, and a slab holds
 * chunks of one round only, so releasing a round returns its slabs to the pool whole.
 *
 * <p>Over 400 lines: slabs, spill file and round lifecycle share one lock discipline, kept in one place.
 */
public final class ChunkStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkStore.class);

    /** Largest slab: one direct buffer, well under the 2 GiB ByteBuffer limit. */
    public static final int MAX_SLAB_BYTES = 1 << 30;

    /**
     * Size of the per-thread direct buffer that spill IO goes through. Spill traffic is staged in pieces
     * of this size so that no IO path allocates a direct buffer as large as a chunk outside the budget.
     */
    static final int STAGING_BYTES = 64 << 10;
    private static final ThreadLocal<Staging> STAGING = ThreadLocal.withInitial(Staging::new);

    /**
     * Direct memory left outside the pool when the JVM's limit is below the budget: min(64 MiB, limit / 4).
     * It covers the staging buffers and other direct-memory users in the process.
     */
    static final long HEADROOM_BYTES = 64L << 20;

    private final long budgetBytes;
    private final int slabBytes;
    private final int maxSlabs;
    private final Path spillDir;
    private final SlabPool pool;
    private final ConcurrentHashMap<Long, RoundChunks> rounds = new ConcurrentHashMap<>();
    private final AtomicLong bytesInMemory = new AtomicLong();
    private final AtomicLong peakBytesInMemory = new AtomicLong();
    private final AtomicLong bytesSpilled = new AtomicLong();
    private final AtomicLong bytesSpilledTotal = new AtomicLong();
    /** Chunk bytes held in memory or spilled, and its peak: a shard's whole chunk footprint, wherever it lies. */
    private final AtomicLong bytesHeld = new AtomicLong();
    private final AtomicLong peakBytesHeld = new AtomicLong();
    private final AtomicLong chunkCount = new AtomicLong();
    private volatile boolean closed;

    /**
     * @param budgetBytes most direct memory the store holds, in bytes (0: every chunk spills). Only whole
     *                    slabs are used: budgetBytes / slabBytes of them, fewer if the JVM's direct memory
     *                    limit is too small for the budget plus headroom (logged as a warning).
     * @param slabBytes   size of one pooled direct buffer, in bytes: a positive multiple of 4, at most
     *                    {@link #MAX_SLAB_BYTES}; also the largest chunk the store accepts
     * @param spillDir    directory for spill files, created if missing
     * @throws UncheckedIOException if spillDir cannot be created
     */
    public ChunkStore(long budgetBytes, int slabBytes, Path spillDir) {
        if (budgetBytes < 0) {
            throw new IllegalArgumentException("chunk store budget must be >= 0 bytes, got " + budgetBytes);
        }
        if (slabBytes < 4 || slabBytes % 4 != 0 || slabBytes > MAX_SLAB_BYTES) {
            throw new IllegalArgumentException("slab size must be a multiple of 4 bytes in [4, " + MAX_SLAB_BYTES
                    + "], got " + slabBytes);
        }
        Objects.requireNonNull(spillDir, "spillDir");
        long slabs = budgetBytes / slabBytes;
        if (slabs > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("budget / slab size must be <= " + Integer.MAX_VALUE + " slabs (budget = "
                    + budgetBytes + ", slab = " + slabBytes + "): use larger slabs");
        }
        try {
            Files.createDirectories(spillDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create spill directory " + spillDir, e);
        }
        long maxDirect = maxDirectMemory();
        long usable = maxDirect < 0 ? Long.MAX_VALUE : maxDirect - Math.min(HEADROOM_BYTES, maxDirect / 4);
        if (slabs * slabBytes > usable) {
            // Filling the JVM's whole direct memory would starve the spill path's staging buffers (and Netty).
            slabs = Math.max(0, usable) / slabBytes;
            LOG.warn("chunk store budget {} bytes does not fit the JVM's direct memory limit {} bytes with headroom: "
                    + "using {} slabs ({} bytes), the rest spills; start the JVM with -XX:MaxDirectMemorySize >= "
                    + "budget + 64m", budgetBytes, maxDirect, slabs, slabs * slabBytes);
        }
        this.budgetBytes = budgetBytes;
        this.slabBytes = slabBytes;
        this.maxSlabs = (int) slabs;
        this.spillDir = spillDir;
        this.pool = new SlabPool(slabBytes, maxSlabs);
    }

    /**
     * The JVM's direct memory limit in bytes (-XX:MaxDirectMemorySize, which defaults to the max heap), or
     * -1 if it cannot be read. JDK 17 has no public API for it; the HotSpot diagnostic bean shows the flag.
     */
    public static long maxDirectMemory() {
        try {
            HotSpotDiagnosticMXBean bean = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            long value = Long.parseLong(bean.getVMOption("MaxDirectMemorySize").getValue());
            return value > 0 ? value : Runtime.getRuntime().maxMemory();
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }

    /**
     * Stores values[from, from + count) as the chunk {@code key}.
     *
     * @throws IllegalArgumentException if count is < 1 or the chunk is larger than a slab
     * @throws IllegalStateException    if the key is already stored (the store never overwrites) or the store is closed
     * @throws UncheckedIOException     if writing the spill file fails (the chunk is then not stored)
     */
    public void put(ChunkKey key, float[] values, int from, int count) {
        Objects.checkFromIndexSize(from, count, values.length);
        int bytes = chunkBytes(key, 4L * count);
        RoundChunks round = openRound(key.round());
        try {
            Location at = round.reserve(key, count, bytes);
            boolean stored = false;
            try {
                if (at.slab != null) {
                    at.slab.floats().put(at.offset / 4, values, from, count);
                } else {
                    round.writeSpilled(values, from, count, at.filePosition);
                }
                stored = true;
            } finally {
                round.publish(key, at, stored);
            }
            account(at, bytes);
        } finally {
            round.lifecycle.readLock().unlock();
        }
    }

    /**
     * Stores the bytes payload[position, limit) as the chunk {@code key}: little-endian float32, copied as
     * they are (no decode). The payload's position and limit are left unchanged.
     *
     * @throws IllegalArgumentException if the payload is empty, not a multiple of 4 bytes, or larger than a slab
     * @throws IllegalStateException    if the key is already stored or the store is closed
     * @throws UncheckedIOException     if writing the spill file fails (the chunk is then not stored)
     */
    public void put(ChunkKey key, ByteBuffer payload) {
        int bytes = payload.remaining();
        if (bytes % 4 != 0) {
            throw new IllegalArgumentException("chunk " + key + " payload has " + bytes
                    + " bytes, not a multiple of 4 (float32)");
        }
        chunkBytes(key, bytes);
        RoundChunks round = openRound(key.round());
        try {
            Location at = round.reserve(key, bytes / 4, bytes);
            boolean stored = false;
            try {
                if (at.slab != null) {
                    at.slab.bytes().put(at.offset, payload, payload.position(), bytes);
                } else {
                    round.writeSpilled(payload, at.filePosition);
                }
                stored = true;
            } finally {
                round.publish(key, at, stored);
            }
            account(at, bytes);
        } finally {
            round.lifecycle.readLock().unlock();
        }
    }

    /**
     * Copies chunk {@code key} into dst[dstOffset ..] and returns its length in floats. Concurrent reads
     * (of the same or other chunks) are safe.
     *
     * @throws NoSuchElementException   if the chunk is not stored (never put, or its round was released)
     * @throws IllegalArgumentException if dst has no room for the chunk at dstOffset
     * @throws UncheckedIOException     if reading the spill file fails
     */
    public int read(ChunkKey key, float[] dst, int dstOffset) {
        return read(key, 0, Integer.MAX_VALUE, dst, dstOffset);
    }

    /**
     * Copies floats [from, from + count) of chunk {@code key}, clipped to its length, into dst[dstOffset ..]
     * and returns how many it copied: a chunk larger than the cache can be worked through block by block.
     *
     * @throws NoSuchElementException   if the chunk is not stored (never put, or its round was released)
     * @throws IllegalArgumentException if from is outside [0, chunk length] or dst has no room at dstOffset
     * @throws UncheckedIOException     if reading the spill file fails
     */
    public int read(ChunkKey key, int from, int count, float[] dst, int dstOffset) {
        return whileHeld(key, (round, at) -> {
            if (from < 0 || from > at.count || count < 0) {
                throw new IllegalArgumentException("chunk " + key + " has " + at.count + " floats: cannot read "
                        + count + " from " + from);
            }
            int n = Math.min(count, at.count - from);
            if (dstOffset < 0 || (long) dstOffset + n > dst.length) {
                throw new IllegalArgumentException("chunk " + key + ": no room for " + n + " floats in dst (length "
                        + dst.length + ") at offset " + dstOffset);
            }
            if (at.slab != null) {
                at.slab.floats().get(at.offset / 4 + from, dst, dstOffset, n);
            } else {
                round.readSpilled(dst, dstOffset, n, at.filePosition + 4L * from);
            }
            return n;
        });
    }

    /**
     * Copies chunk {@code key}'s bytes as stored (little-endian float32, or whatever was put as a payload)
     * into dst[dstOffset ..] and returns how many it copied.
     *
     * @throws NoSuchElementException   if the chunk is not stored (never put, or its round was released)
     * @throws IllegalArgumentException if dst has no room for the chunk at dstOffset
     * @throws UncheckedIOException     if reading the spill file fails
     */
    public int readBytes(ChunkKey key, byte[] dst, int dstOffset) {
        return whileHeld(key, (round, at) -> {
            int bytes = 4 * at.count;
            if (dstOffset < 0 || (long) dstOffset + bytes > dst.length) {
                throw new IllegalArgumentException("chunk " + key + ": no room for " + bytes + " bytes in dst (length "
                        + dst.length + ") at offset " + dstOffset);
            }
            if (at.slab != null) {
                at.slab.bytes().get(at.offset, dst, dstOffset, bytes);
            } else {
                round.readSpilled(ByteBuffer.wrap(dst, dstOffset, bytes), at.filePosition);
            }
            return bytes;
        });
    }

    /** A read of chunk {@code key}: runs under its round's read lock, so the round is not released meanwhile. */
    private int whileHeld(ChunkKey key, ToIntBiFunction<RoundChunks, Location> read) {
        RoundChunks round = rounds.get(key.round());
        if (round == null) {
            throw unknown(key);
        }
        round.lifecycle.readLock().lock();
        try {
            Location at = round.released ? null : round.chunks.get(key);
            if (at == null) {
                throw unknown(key);
            }
            return read.applyAsInt(round, at);
        } finally {
            round.lifecycle.readLock().unlock();
        }
    }

    /** Length in floats of chunk {@code key}, or -1 if it is not stored. */
    public int count(ChunkKey key) {
        RoundChunks round = rounds.get(key.round());
        Location at = round == null ? null : round.chunks.get(key);
        return at == null ? -1 : at.count;
    }

    /**
     * Frees every chunk of the round: its slabs go back to the pool, its spill file is closed and deleted.
     * Waits for puts and reads of the round in progress. Idempotent; a later put for the same round starts
     * it afresh.
     *
     * @throws UncheckedIOException if the spill file cannot be deleted (the memory is freed regardless)
     */
    public void releaseRound(long roundId) {
        RoundChunks round = rounds.get(roundId);
        if (round != null) {
            round.release();
        }
    }

    /** Releases every round and drops the pooled slabs (their memory returns to the JVM at a later GC). */
    @Override
    public void close() {
        closed = true;
        UncheckedIOException failure = null;
        for (RoundChunks round : rounds.values()) {
            try {
                round.release();
            } catch (UncheckedIOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        pool.clear();
        if (failure != null) {
            throw failure;
        }
    }

    public ChunkStoreStats stats() {
        return new ChunkStoreStats(budgetBytes, slabBytes, bytesInMemory.get(), peakBytesInMemory.get(),
                bytesSpilled.get(), bytesSpilledTotal.get(), peakBytesHeld.get(), chunkCount.get(), rounds.size(), pool.allocated(), pool.free(),
                maxSlabs);
    }

    public Path spillDir() {
        return spillDir;
    }

    private int chunkBytes(ChunkKey key, long bytes) {
        if (bytes < 4) {
            throw new IllegalArgumentException("chunk " + key + " is empty: a chunk holds at least one float");
        }
        if (bytes > slabBytes) {
            throw new IllegalArgumentException("chunk " + key + " is " + bytes + " bytes, larger than the slab size "
                    + slabBytes + " bytes: choose chunks of at most " + slabBytes / 4 + " floats or larger slabs");
        }
        return (int) bytes;
    }

    /** The round's state with its read lock held; creates the round on first use. */
    private RoundChunks openRound(long roundId) {
        while (true) {
            ensureOpen();
            RoundChunks round = rounds.computeIfAbsent(roundId, RoundChunks::new);
            round.lifecycle.readLock().lock();
            if (closed) {
                // close() may have swept the map before this round was added: free it here.
                round.lifecycle.readLock().unlock();
                round.release();
                ensureOpen();
            }
            if (!round.released) {
                return round;
            }
            // Released between lookup and lock: it is gone from the map, so the next lookup starts it afresh.
            round.lifecycle.readLock().unlock();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("chunk store is closed");
        }
    }

    private void account(Location at, int bytes) {
        chunkCount.incrementAndGet();
        peakBytesHeld.accumulateAndGet(bytesHeld.addAndGet(bytes), Math::max);
        if (at.slab != null) {
            long now = bytesInMemory.addAndGet(bytes);
            peakBytesInMemory.accumulateAndGet(now, Math::max);
        } else {
            bytesSpilled.addAndGet(bytes);
            bytesSpilledTotal.addAndGet(bytes);
        }
    }

    private static NoSuchElementException unknown(ChunkKey key) {
        return new NoSuchElementException("no chunk " + key + " in the store: never put, or its round was released");
    }

    /** Where a chunk is: in a slab at a byte offset, or (slab == null) in the round's spill file. */
    private record Location(Slab slab, int offset, long filePosition, int count) {
    }

    /** A thread's direct buffer for spill IO, with its little-endian float view. */
    private static final class Staging {
        final ByteBuffer bytes;
        final FloatBuffer floats;

        Staging() {
            try {
                bytes = ByteBuffer.allocateDirect(STAGING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            } catch (OutOfMemoryError e) {
                throw new IllegalStateException("no direct memory left for the " + STAGING_BYTES + "-byte spill buffer ("
                        + e.getMessage() + "): set -XX:MaxDirectMemorySize >= chunk store budget + 64m", e);
            }
            floats = bytes.asFloatBuffer();
        }
    }

    /** The chunks of one round. */
    private final class RoundChunks {
        final long id;
        // Puts and reads hold the read lock, release holds the write lock: no slab is handed to another round
        // while a put or read of this round is copying from it.
        final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
        volatile boolean released;
        final ConcurrentHashMap<ChunkKey, Location> chunks = new ConcurrentHashMap<>();

        // Guarded by this: space allocation.
        final Set<ChunkKey> pending = new HashSet<>();
        final List<Slab> slabs = new ArrayList<>();
        Slab current;
        int currentUsed;
        Path spillPath;
        FileChannel spill;
        long spillEnd;
        long memoryBytes;
        long spilledBytes;

        RoundChunks(long id) {
            this.id = id;
        }

        /** Claims room for a chunk: in the current slab, a new slab, or at the end of the spill file. */
        synchronized Location reserve(ChunkKey key, int count, int bytes) {
            if (chunks.containsKey(key) || !pending.add(key)) {
                throw new IllegalStateException("chunk " + key + " is already stored: the store never overwrites a chunk");
            }
            if (current == null || slabBytes - currentUsed < bytes) {
                Slab next = pool.acquire();
                if (next != null) {
                    slabs.add(next);
                    current = next;
                    currentUsed = 0;
                }
            }
            if (current != null && slabBytes - currentUsed >= bytes) {
                Location at = new Location(current, currentUsed, -1, count);
                currentUsed += bytes;
                return at;
            }
            try {
                channel();
            } catch (UncheckedIOException e) {
                pending.remove(key);
                throw e;
            }
            Location at = new Location(null, 0, spillEnd, count);
            spillEnd += bytes;
            return at;
        }

        synchronized void publish(ChunkKey key, Location at, boolean stored) {
            pending.remove(key);
            if (stored) {
                chunks.put(key, at);
                if (at.slab != null) {
                    memoryBytes += 4L * at.count;
                } else {
                    spilledBytes += 4L * at.count;
                }
            }
        }

        /**
         * The spill file's channel, created on first use. Reopened if it was closed: an interrupt during a
         * FileChannel operation closes the channel for every thread, but the file and its chunks are intact.
         */
        synchronized FileChannel channel() {
            if (spill != null && spill.isOpen()) {
                return spill;
            }
            try {
                if (spillPath == null) {
                    spillPath = Files.createTempFile(spillDir, "round-" + id + "-", ".spill");
                }
                spill = FileChannel.open(spillPath, StandardOpenOption.READ, StandardOpenOption.WRITE);
                return spill;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open spill file "
                        + (spillPath != null ? spillPath : spillDir.resolve("round-" + id + "-*.spill")), e);
            }
        }

        void writeSpilled(float[] values, int from, int count, long position) {
            Staging staging = STAGING.get();
            int step = STAGING_BYTES / 4;
            for (int done = 0; done < count; done += step) {
                int n = Math.min(step, count - done);
                staging.floats.put(0, values, from + done, n);
                staging.bytes.clear().limit(4 * n);
                writeFully(staging.bytes, position + 4L * done);
            }
        }

        void writeSpilled(ByteBuffer payload, long position) {
            if (payload.isDirect()) {
                writeFully(payload.duplicate(), position);
                return;
            }
            // A heap buffer would be copied by the JDK into a cached direct buffer of the payload's size;
            // staging in small pieces keeps that direct memory bounded.
            Staging staging = STAGING.get();
            int bytes = payload.remaining();
            for (int done = 0; done < bytes; done += STAGING_BYTES) {
                int n = Math.min(STAGING_BYTES, bytes - done);
                staging.bytes.clear().put(0, payload, payload.position() + done, n).limit(n);
                writeFully(staging.bytes, position + done);
            }
        }

        void readSpilled(float[] dst, int dstOffset, int count, long position) {
            Staging staging = STAGING.get();
            int step = STAGING_BYTES / 4;
            for (int done = 0; done < count; done += step) {
                int n = Math.min(step, count - done);
                staging.bytes.clear().limit(4 * n);
                readFully(staging.bytes, position + 4L * done);
                staging.floats.get(0, dst, dstOffset + done, n);
            }
        }

        /** Fills dst's remaining bytes from the spill file at {@code position}, staged in small direct pieces. */
        void readSpilled(ByteBuffer dst, long position) {
            Staging staging = STAGING.get();
            for (long at = position; dst.hasRemaining(); ) {
                int n = Math.min(STAGING_BYTES, dst.remaining());
                staging.bytes.clear().limit(n);
                readFully(staging.bytes, at);
                dst.put(staging.bytes.flip());
                at += n;
            }
        }

        private void readFully(ByteBuffer into, long position) {
            try {
                FileChannel ch = channel();
                while (into.hasRemaining()) {
                    if (ch.read(into, position + into.position()) < 0) {
                        throw new EOFException("spill file ends before byte " + (position + into.limit()));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read spill file " + spillPath, e);
            }
        }

        private void writeFully(ByteBuffer src, long position) {
            try {
                FileChannel ch = channel();
                long at = position;
                while (src.hasRemaining()) {
                    at += ch.write(src, at);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write spill file " + spillPath, e);
            }
        }

        /** Frees the round; idempotent. */
        void release() {
            lifecycle.writeLock().lock();
            try {
                if (released) {
                    return;
                }
                released = true;
                rounds.remove(id, this);
                Path file;
                FileChannel channel;
                synchronized (this) {
                    for (Slab slab : slabs) {
                        pool.release(slab);
                    }
                    slabs.clear();
                    current = null;
                    bytesInMemory.addAndGet(-memoryBytes);
                    bytesSpilled.addAndGet(-spilledBytes);
                    bytesHeld.addAndGet(-(memoryBytes + spilledBytes));
                    chunkCount.addAndGet(-this.chunks.size());
                    this.chunks.clear();
                    file = spillPath;
                    channel = spill;
                    spill = null;
                }
                if (file != null) {
                    try {
                        if (channel != null) {
                            channel.close();
                        }
                        Files.deleteIfExists(file);
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot delete spill file " + file, e);
                    }
                }
            } finally {
                lifecycle.writeLock().unlock();
            }
        }
    }
}
