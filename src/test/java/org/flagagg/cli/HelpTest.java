package org.flagagg.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** What --help says: whole sentences, and defaults that hold. */
class HelpTest {
    static String help(String... args) {
        StringWriter out = new StringWriter();
        int exit = Main.run(args, new PrintWriter(out, true), new PrintWriter(new StringWriter(), true));
        assertThat(exit).isZero();
        return out.toString();
    }

    @Test
    void everyCommandsSummaryIsAWholeSentence() {
        // Each command's entry (its name line and the wrapped lines under it) ends a sentence: picocli shows
        // the first line of a command's description only.
        String commands = help("--help").lines().dropWhile(l -> !l.startsWith("Commands:")).skip(1)
                .map(l -> l.matches("  \\S.*") ? "\n" + l.trim() : " " + l.trim()).collect(Collectors.joining());
        assertThat(commands.strip().lines().toList()).anySatisfy(l -> assertThat(l).startsWith("demo "))
                .allSatisfy(l -> assertThat(l).endsWith("."));
    }

    @Test
    void loadtestDoesNotPromiseARoundLogItDoesNotWrite() {
        String help = help("loadtest", "--help").lines().map(String::trim).collect(Collectors.joining(" "));
        // The option's description follows its last mention (the first ones are in the synopsis).
        String option = help.substring(help.lastIndexOf("--round-log=FILE"));
        assertThat(option.substring(0, option.indexOf(')') + 1)).endsWith("(default: server: flagagg-rounds.jsonl; "
                + "loadtest and worker: none)");
    }

    @Test
    void theDemoRunsStragglersOnlyUnderSelectedAttacks() {
        List<String> rules = List.of("flag", "mean");
        assertThat(DemoCommand.specs(rules, List.of("random"), "delay:ms=1000,workers=1", List.of("flag"), List.of("lie")))
                .extracting(s -> s.rule() + "/" + s.attack() + "/" + s.stragglers())
                .containsExactly("flag/random/none", "mean/random/none");
        assertThat(DemoCommand.specs(rules, List.of("none", "lie"), "delay:ms=1000,workers=1", List.of("flag"),
                List.of("lie"))).extracting(s -> s.rule() + "/" + s.attack() + "/" + s.stragglers())
                .containsExactly("flag/none/none", "mean/none/none", "flag/lie/none", "mean/lie/none",
                        "flag/lie/delay:ms=1000,workers=1");
        assertThat(DemoCommand.specs(rules, List.of("lie"), "none", List.of("flag"), List.of("lie"))).hasSize(2);
    }
}
