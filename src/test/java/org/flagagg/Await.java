package org.flagagg;

import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Blocks a test thread on a future, with one generous bound: a hang fails the test instead of stalling CI. */
public final class Await {
    /** How long a test waits for anything before it fails. */
    public static final long WAIT_S = 60;

    private Await() {
    }

    public static <T> T await(Future<T> future) throws Exception {
        return get(future.toCompletionStage().toCompletableFuture());
    }

    public static <T> T get(CompletableFuture<T> future) throws Exception {
        return future.get(WAIT_S, TimeUnit.SECONDS);
    }

    /** Runs {@code action} on {@code context} and hands its outcome to the calling (test) thread. */
    public static <T> CompletableFuture<T> on(Context context, Supplier<Future<T>> action) {
        CompletableFuture<T> result = new CompletableFuture<>();
        context.runOnContext(v -> action.get().onComplete(ar -> {
            if (ar.succeeded()) {
                result.complete(ar.result());
            } else {
                result.completeExceptionally(ar.cause());
            }
        }));
        return result;
    }
}
