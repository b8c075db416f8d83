package org.flagagg.engine;

/** A request the engine refuses: the failure code the sender gets (wire.Codes) and the reason. */
final class Refusal extends Exception {
    final int code;

    Refusal(int code, String reason) {
        super(reason, null, false, false);
        this.code = code;
    }
}
