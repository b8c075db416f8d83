package org.flagagg.worker;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.flagagg.config.JobServer;
import org.flagagg.wire.ChunkFrame;

/**
 * A worker whose chunks travel on its node's data link ({@link LinkClient}): the join and the round
 * summaries stay on the event bus ({@link BusTransport}); the gradient goes out as link FRAMEs, and the
 * aggregate comes once per node over the link, decoded once and handed to every worker of the node.
 */
final class LinkTransport extends BusTransport {
    private final LinkClient link;

    LinkTransport(Vertx vertx, Join join, LinkClient link, JobServer.Holder holder) {
        super(vertx, join, holder);
        this.link = link;
    }

    @Override
    String relay() {
        return link.relay();
    }

    @Override
    public Future<Void> join(Worker worker) {
        return super.join(worker).onSuccess(v -> link.attach(worker.slot(), new LinkClient.Receiver() {
            @Override
            public Context context() {
                return worker.context;
            }

            @Override
            public Future<Void> aggregateChunk(ChunkFrame.Header header, float[] values) {
                return worker.aggregate(header, values);
            }

            @Override
            public void linkClosed(String reason) {
                // The aggregate's chunks cannot come any more: the exchanges fail now, not at their timeout. With
                // a watched server (a cluster), the session is lost: the next exchange re-joins over a new link.
                if (holder != null) {
                    worker.lost(LinkTransport.this, new IllegalStateException(reason));
                } else {
                    worker.failAll(new IllegalStateException(reason));
                }
            }
        }));
    }

    /**
     * The link's server is gone too, though its connection may not have noticed (a host cut off sends no
     * reset): dropped, so that the re-join connects a new one ({@link LinkClient#current}).
     */
    @Override
    void serverLeft(String reason) {
        link.drop(reason);
        super.serverLeft(reason);
    }

    @Override
    public Future<Void> send(long round, int slot, int chunkIndex, long offset, float[] values, int count) {
        return link.send(round, slot, chunkIndex, offset, values, count);
    }

    @Override
    public Future<Void> close() {
        if (worker != null) {
            link.detach(worker.slot());
        }
        return super.close();
    }
}
