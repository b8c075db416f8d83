package org.flagagg.config;

/** Bad user input (a file, a value): reported as one line and exit code 2. */
public final class InputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InputException(String message) {
        super(message);
    }
}
