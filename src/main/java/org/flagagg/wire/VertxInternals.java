package org.flagagg.wire;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.impl.clustered.ClusteredMessage;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.impl.HttpServerConnection;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.impl.VertxHandler;

/**
 * Every use of Vert.x's internal (integrator) API, in one place: each saves copies or is the only way to do
 * what the public API cannot, and each is pinned by {@code VertxInternalsTest}, which fails when a Vert.x
 * upgrade changes it (checked against 5.0.7).
 * <ul>
 * <li>Buffers over Netty ByteBufs without a copy: the public {@code Buffer.buffer(byte[])} copies the array,
 * and a frame's bytes are otherwise copied once more to be written.</li>
 * <li>Netty messages straight on a TCP socket (the data link): a FRAME record is written as the pooled
 * direct buffer it was encoded into, and records are read as ByteBufs, with no Buffer copy either way.</li>
 * <li>Dropping the TCP connection under a WebSocket at once: the public close waits to write its close frame,
 * which never happens behind a queue the client does not read.</li>
 * <li>Whether an event-bus message came from another JVM: only then must a join or chunk prove the job secret;
 * the public Message does not say.</li>
 * <li>Whether the cluster manager is active, for the readiness probe; the cluster manager itself, so a worker
 * holding only its Vert.x can watch the job's server leave the cluster.</li>
 * </ul>
 */
public final class VertxInternals {

    private VertxInternals() {
    }

    /** A Buffer over {@code buf}'s memory, no copy. */
    public static Buffer buffer(ByteBuf buf) {
        return BufferInternal.buffer(buf);
    }

    /**
     * The Buffer's bytes as a ByteBuf sharing its memory (a slice), or null for a Buffer class that is not
     * Vert.x's own.
     */
    public static ByteBuf byteBuf(Buffer buffer) {
        return buffer instanceof BufferInternal internal ? internal.getByteBuf() : null;
    }

    /** Writes a Netty message (a ByteBuf, released once written) to the socket's channel, past the Buffer API. */
    public static Future<Void> writeMessage(NetSocket socket, Object message) {
        return ((NetSocketInternal) socket).writeMessage(message);
    }

    /** Hands the socket's reads to {@code handler} as Netty messages (ByteBufs it must release), not Buffers. */
    public static void messageHandler(NetSocket socket, Handler<Object> handler) {
        ((NetSocketInternal) socket).messageHandler(handler);
    }

    /**
     * Drops the TCP connection of a server-side HTTP connection (a WebSocket's) at once, dropping what is
     * queued: closes the channel from the handler towards the socket (what Vert.x's idle timeout does), past
     * the WebSocket layer that would wait to write its close frame first. False if the connection is not one
     * this knows how to drop.
     */
    public static boolean abort(HttpConnection conn) {
        if (conn instanceof HttpServerConnection http) {
            ChannelHandlerContext handler = http.channelHandlerContext().pipeline().context(VertxHandler.class);
            if (handler != null) {
                handler.close();
                return true;
            }
        }
        return false;
    }

    /** True for a message that arrived from another member of the cluster (not sent in this JVM). */
    public static boolean fromOtherMember(Message<?> msg) {
        return msg instanceof ClusteredMessage<?, ?> m && m.isFromWire();
    }

    /** This member's cluster node id (the Hazelcast member UUID), or null when not clustered. */
    public static String nodeId(Vertx vertx) {
        return clusterActive(vertx) ? ((VertxInternal) vertx).clusterManager().getNodeId() : null;
    }

    /** The node ids of the cluster's members now (empty when not clustered). */
    public static java.util.List<String> nodes(Vertx vertx) {
        return clusterActive(vertx) ? ((VertxInternal) vertx).clusterManager().getNodes() : java.util.List.of();
    }

    /**
     * The nodes with a consumer of {@code address}, as this member's cluster manager sees them now (none when
     * not clustered): a dead member's consumers stay listed until the cluster cleaned them up.
     */
    public static Future<java.util.Set<String>> consumerNodes(Vertx vertx, String address) {
        if (!clusterActive(vertx)) {
            return Future.succeededFuture(java.util.Set.of());
        }
        Promise<java.util.List<io.vertx.core.spi.cluster.RegistrationInfo>> found = Promise.promise();
        ((VertxInternal) vertx).clusterManager().getRegistrations(address, found);
        return found.future().map(list -> list.stream().map(io.vertx.core.spi.cluster.RegistrationInfo::nodeId)
                .collect(java.util.stream.Collectors.toSet()));
    }

    /** Vert.x's cluster manager (Hazelcast's in flagagg), or null when not clustered. */
    public static io.vertx.core.spi.cluster.ClusterManager clusterManager(Vertx vertx) {
        return vertx instanceof VertxInternal internal ? internal.clusterManager() : null;
    }

    /** True when Vert.x is clustered and its cluster manager is active. */
    public static boolean clusterActive(Vertx vertx) {
        return vertx instanceof VertxInternal internal && internal.clusterManager() != null
                && internal.clusterManager().isActive();
    }
}
