package org.flagagg.round;

/** Names one stored chunk: a coordinate range (chunk index) of one worker slot's gradient in one round. */
public record ChunkKey(long round, int worker, int chunk) {

    public ChunkKey {
        if (worker < 0) {
            throw new IllegalArgumentException("worker slot must be >= 0, got " + worker);
        }
        if (chunk < 0) {
            throw new IllegalArgumentException("chunk index must be >= 0, got " + chunk);
        }
    }

    @Override
    public String toString() {
        return "(round " + round + ", worker " + worker + ", chunk " + chunk + ")";
    }
}
