package org.flagagg.cli;

/** Bad user input (a file, a value): reported as one line and exit code 2. */
final class InputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InputException(String message) {
        super(message);
    }
}
