package org.flagagg.engine;

import java.util.ArrayDeque;
import java.util.List;
import java.util.TreeMap;
import java.util.function.LongFunction;
import org.flagagg.config.JobConfig;
import org.flagagg.wire.Codes;

/**
 * Which rounds take chunks, how many chunks each worker may have in process (its credits), and how long the
 * next round may wait (the adaptive deadline from the latency history). Confined to the aggregator's event
 * loop.
 *
 * <p>Round ids are the server's: chunks are taken for the open rounds and for the next id, which opens only
 * once the round before it closed or a quorum of workers started it; any other id is refused at once (410
 * over, 425 ahead) naming the current round.
 */
final class RoundAdmission {
    private final JobConfig job;
    private final TreeMap<Long, RoundRun> open = new TreeMap<>();
    /** Per slot: chunks taken (a credit used) and not yet answered. */
    private final int[] outstanding;
    /** Open-to-close latencies of recent completed rounds, from their quorum's start, oldest first. */
    private final ArrayDeque<Long> latenciesMs = new ArrayDeque<>();
    /** The id the next round to open gets: ids are the server's, in sequence from 0. */
    private long nextRound;

    RoundAdmission(JobConfig job) {
        this.job = job;
        this.outstanding = new int[job.workers()];
    }

    /** Refuses a chunk of a slot that has {@code credits} chunks in process. */
    void checkCredit(int slot, String worker) throws Refusal {
        if (outstanding[slot] >= job.credits()) {
            throw new Refusal(Codes.TOO_MANY, "worker '" + worker + "' has more than " + job.credits()
                    + " chunks unacknowledged (credits)");
        }
    }

    /** A chunk of the slot is in process until {@link #returnCredit}. */
    void takeCredit(int slot) {
        outstanding[slot]++;
    }

    void returnCredit(int slot) {
        outstanding[slot]--;
    }

    /** The open round with this id, if any. */
    RoundRun get(long id) {
        return open.get(id);
    }

    /**
     * The open round with this id, opened with {@code opener} if allowed. The only round that can open is the
     * next id, and only once the round before it closed or a quorum of workers started it, so one worker can
     * neither jump ahead (a round id of 10^12) nor open the next round before the others finished the current one.
     */
    RoundRun roundFor(long id, LongFunction<RoundRun> opener) throws Refusal {
        RoundRun run = open.get(id);
        if (run != null) {
            return run;
        }
        if (id < nextRound) {
            throw new Refusal(Codes.ROUND_OVER, "round " + id + " is over; the current round is " + currentRound());
        }
        if (id > nextRound) {
            throw new Refusal(Codes.TOO_EARLY, "round " + id + " is ahead of the job's schedule; the current round is "
                    + currentRound());
        }
        RoundRun previous = open.get(id - 1);
        if (previous != null && previous.round.status() == Round.Status.OPEN && previous.round.started() < job.quorum()) {
            throw new Refusal(Codes.TOO_EARLY, "round " + id + " cannot open yet: round " + (id - 1) + " is open and "
                    + previous.round.started() + " of a quorum of " + job.quorum() + " workers started it");
        }
        if (open.size() >= job.maxOpenRounds()) {
            throw new Refusal(Codes.TOO_MANY, "round " + id + " cannot open: " + open.size()
                    + " rounds are open (max_open_rounds)");
        }
        run = opener.apply(id);
        open.put(id, run);
        nextRound = id + 1;
        return run;
    }

    /**
     * A shard learns that round {@code id} ended at the coordinator without a chunk of it reaching this
     * shard: its ids move past it, so the next round's chunks are not refused as ahead of the schedule.
     */
    void skip(long id) {
        nextRound = Math.max(nextRound, id + 1);
    }

    /** The round a worker should send now: the oldest one still taking chunks, else the next to open. */
    long currentRound() {
        for (RoundRun run : open.values()) {
            if (run.round.status() == Round.Status.OPEN) {
                return run.round.id();
            }
        }
        return nextRound;
    }

    /** The job resumes at round {@code id} (a server that took it over): ids before it are over. */
    void resumeAt(long id) {
        nextRound = Math.max(nextRound, id);
    }

    /** The id the next round to open gets. */
    long nextRound() {
        return nextRound;
    }

    /** The open rounds, oldest first. */
    List<RoundRun> openRuns() {
        return List.copyOf(open.values());
    }

    int openCount() {
        return open.size();
    }

    /** The round is over: it leaves the open rounds, and a completed one's latency joins the history. */
    void finished(RoundRun run, boolean completed) {
        open.remove(run.round.id());
        if (completed) {
            latenciesMs.addLast((run.closedNanos - run.clockNanos) / 1_000_000);
            while (latenciesMs.size() > job.deadline().history()) {
                latenciesMs.removeFirst();
            }
        }
    }

    /** Empties the open rounds (the engine stops) and returns them. */
    List<RoundRun> drain() {
        List<RoundRun> runs = List.copyOf(open.values());
        open.clear();
        return runs;
    }

    /**
     * A round's deadline: deadline.max_ms when fixed or without history, else factor x the median latency
     * clamped to [min_ms, max_ms].
     */
    long deadlineMs() {
        JobConfig.Deadline d = job.deadline();
        if (!d.adaptive() || latenciesMs.isEmpty()) {
            return d.maxMs();
        }
        long[] sorted = latenciesMs.stream().mapToLong(Long::longValue).sorted().toArray();
        long median = sorted[sorted.length / 2];
        return Math.max(d.minMs(), Math.min(d.maxMs(), (long) Math.ceil(d.factor() * median)));
    }
}
