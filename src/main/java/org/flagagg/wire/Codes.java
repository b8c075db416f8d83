package org.flagagg.wire;

/** Failure codes of the engine's replies (ReplyException.failureCode()), HTTP-like on purpose. */
public final class Codes {
    /** Malformed frame or request. */
    public static final int BAD_REQUEST = 400;
    /** The peer did not prove it holds the job secret (join or data link). */
    public static final int UNAUTHORIZED = 401;
    /** A sender acting for a slot it was not granted (another worker's, or one that joined elsewhere). */
    public static final int FORBIDDEN = 403;
    /** The worker is excluded from this round; later chunks are refused. */
    public static final int EXCLUDED = 403;
    /** Unknown worker slot, or the worker has not joined. */
    public static final int UNKNOWN_WORKER = 404;
    /** A data-link peer did not authenticate in time. */
    public static final int TIMEOUT = 408;
    /**
     * The round is closing without this chunk (a straggler's chunk: its result follows) or the job is full.
     */
    public static final int CLOSED = 409;
    /**
     * The round is over: its result was sent when it closed. A worker that had chunks of it acknowledged is a
     * straggler (its result came or comes); any other must not wait for it: the reason names the current round.
     */
    public static final int ROUND_OVER = 410;
    /**
     * An aggregate frame (or summary) the client's connection could not take: the data link or WebSocket
     * closed before the client acknowledged it.
     */
    public static final int GONE = 410;
    /** The chunk broke the round's rules (shape, duplicate, NaN/Inf): the worker is now excluded. */
    public static final int BAD_CHUNK = 422;
    /**
     * Code of a "dropped" notice: the worker's result stream of a round was stopped (it held the round's results
     * past result_timeout_ms after the close, or more than max_result_rounds rounds of them).
     */
    public static final int RESULTS_DROPPED = 408;
    /**
     * The round is ahead of the job's schedule (a round id past the next one, or the next before the current
     * round closed or a quorum of workers started it): the reason names the current round.
     */
    public static final int TOO_EARLY = 425;
    /** More chunks outstanding than the credits, or too many rounds open. */
    public static final int TOO_MANY = 429;
    /** A server-side failure (storage). */
    public static final int SERVER_ERROR = 500;

    private Codes() {
    }
}
