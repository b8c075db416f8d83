package org.flagagg.cli;

import ch.qos.logback.classic.Level;
import java.io.PrintWriter;
import org.flagagg.config.InputException;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** Entry point of flagagg.jar: one subcommand per product entry point. */
@Command(name = "flagagg", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Byzantine-robust gradient aggregation: the Flag Aggregator and classic rules.",
        subcommands = {DemoCommand.class, RobustnessCommand.class, AggregateCommand.class, ServerCommand.class, WorkerCommand.class,
            LoadTestCommand.class, TokenCommand.class, CertsCommand.class,
            CommandLine.HelpCommand.class})
public final class Main {

    /** Exit code for bad input or usage: the user can fix it. */
    static final int EXIT_USAGE = 2;
    /** Exit code for a failure that is not the input's fault (I/O, a bug). */
    static final int EXIT_FAILURE = 1;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams and returns the exit code (tests call this). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        // Bad input gets one line on stderr, never a usage dump or a stack trace.
        cli.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println(e.getCommandLine().getCommandName() + ": " + e.getMessage()
                    + " (see --help)");
            return EXIT_USAGE;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean usage = e instanceof IllegalArgumentException || e instanceof InputException;
            // One line, whatever the message holds.
            String message = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName()
                    : e.getMessage().lines().findFirst().orElse("");
            commandLine.getErr().println(commandLine.getCommandName() + ": " + message);
            return usage ? EXIT_USAGE : EXIT_FAILURE;
        });
        return cli.execute(args);
    }

    /** Raises the logger {@code name} to WARN when it would log at INFO (not when FLAGAGG_LOG_LEVEL asks for more). */
    static void quietInfo(String name) {
        if (LoggerFactory.getLogger(name) instanceof ch.qos.logback.classic.Logger logger
                && Level.INFO.equals(logger.getEffectiveLevel())) {
            logger.setLevel(Level.WARN);
        }
    }

    /** Runs {@code work} with the logger {@code name} off (logback), then gives it back its own level. */
    static <T> T withLoggerOff(String name, java.util.function.Supplier<T> work) {
        if (!(LoggerFactory.getLogger(name) instanceof ch.qos.logback.classic.Logger logger)) {
            return work.get();
        }
        Level own = logger.getLevel();
        logger.setLevel(Level.OFF);
        try {
            return work.get();
        } finally {
            logger.setLevel(own);
        }
    }

    /** Reads the version from the jar manifest (the build writes it there). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"flagagg " + (v == null ? "dev" : v)};
        }
    }
}
