package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.flagagg.config.JobConfig;
import org.flagagg.config.ServerConfig;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** --shards S: one-line errors with exit 2 outside 1..chunks, and the value reaches the job's plan. */
class ShardsFlagTest {

    private record Run(int exit, String stderr) {
    }

    private static Run run(String... args) {
        StringWriter err = new StringWriter();
        int exit = Main.run(args, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        return new Run(exit, err.toString());
    }

    @Test
    void zeroShardsIsRefusedInOneLine() {
        Run run = run("server", "--shards", "0");
        assertThat(run.exit).isEqualTo(2);
        assertThat(run.stderr.strip()).doesNotContain("\n").contains("shards").contains("1..");
    }

    @Test
    void moreShardsThanChunksIsRefusedInOneLine() {
        Run run = run("server", "--dim", "1000", "--chunk-coords", "64", "--shards", "17");
        assertThat(run.exit).isEqualTo(2);
        assertThat(run.stderr.strip()).doesNotContain("\n")
                .contains("shards must be in 1..16 (the job's chunks: dim / chunk_coords), got 17");
    }

    @Test
    void theFlagSetsTheJobsPlan() {
        ServerCommand flags = new ServerCommand();
        new CommandLine(flags).parseArgs("--dim", "1000", "--chunk-coords", "64", "--shards", "3");
        ServerConfig config = ServerConfig.load(null, Map.of(), flags.flags(Map.of()).json());
        assertThat(config.job().plan().shards()).isEqualTo(3);
        assertThat(config.job().session().getJsonArray("shard_columns").encode()).isEqualTo("[[0,5],[5,10],[10,16]]");
    }
    @Test
    void aShardHostNeedsACluster() {
        Run run = run("server", "--shard-host");
        assertThat(run.exit).isEqualTo(2);
        assertThat(run.stderr.strip()).isEqualTo("server: --shard-host serves shards of a cluster's jobs: it needs --cluster");
    }

    @Test
    void aJobTravelsToAShardHostAsJsonAndComesBackEqual() {
        ServerCommand flags = new ServerCommand();
        new CommandLine(flags).parseArgs("--dim", "5000", "--chunk-coords", "100", "--shards", "4", "--rule", "krum",
                "--f", "1", "--workers", "7", "--deadline-ms", "1234", "--memory-budget", "3");
        JobConfig job = ServerConfig.load(null, Map.of(), flags.flags(Map.of()).json()).job();
        assertThat(JobConfig.fromJson(job.toJson())).isEqualTo(job);
    }
}
