package org.flagagg.engine;

import java.util.function.BiConsumer;
import org.flagagg.config.JobConfig;

/**
 * When the coordinator closes a round by time: its deadline is armed as it opens (deadline.max_ms when
 * adaptive, so one early chunk does not start the clock before the others begin), and re-armed once a
 * quorum of workers started it (the adaptive deadline from then, never past deadline.max_ms after the
 * opening). Confined to the coordinator's event loop.
 */
final class RoundClock {
    private final JobConfig job;
    private final Deadlines deadlines;
    private final RoundAdmission admission;
    /** Closes the round if still open, naming the trigger. */
    private final BiConsumer<RoundRun, String> close;

    RoundClock(JobConfig job, Deadlines deadlines, RoundAdmission admission, BiConsumer<RoundRun, String> close) {
        this.job = job;
        this.deadlines = deadlines;
        this.admission = admission;
        this.close = close;
    }

    /** A new round waits for its workers until a quorum started it. */
    void opened(RoundRun run) {
        arm(run, job.deadline().adaptive() ? job.deadline().maxMs() : admission.deadlineMs());
    }

    /**
     * A quorum of workers started the round: the adaptive deadline runs from now, and the latency history
     * measures from here too.
     */
    void quorumStarted(RoundRun run) {
        long now = System.nanoTime();
        run.clockNanos = now;
        if (job.deadline().adaptive()) {
            long left = job.deadline().maxMs() - (now - run.round.openedNanos()) / 1_000_000;
            arm(run, Math.max(1, Math.min(admission.deadlineMs(), left)));
        }
    }

    /** The round closed (or the engine stops): its deadline never fires. */
    void stop(RoundRun run) {
        deadlines.cancel(run.deadline);
    }

    /** (Re)sets the round's deadline to {@code ms} from now. */
    private void arm(RoundRun run, long ms) {
        deadlines.cancel(run.deadline);
        run.deadline = deadlines.arm(run.round.id(), ms, () -> close.accept(run, "deadline " + ms + " ms"));
    }
}
