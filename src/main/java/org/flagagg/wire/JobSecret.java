package org.flagagg.wire;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job secret: what worker nodes in other JVMs prove they hold, on the data link and when they join over
 * the event bus, without ever sending it (docs/protocol.md, "Job secret"). It is the first line of the file
 * named by the configuration key {@code cluster.secret} ({@code --cluster-secret FILE},
 * {@code FLAGAGG_CLUSTER__SECRET}); {@code flagagg certs} writes one as 64 hex characters.
 *
 * <p>A proof is HMAC-SHA256 keyed with the secret's UTF-8 bytes over a label and fields, each written as
 * its u32 little-endian UTF-8 byte length then its bytes, so no two field lists give the same message.
 * Proofs and tokens are compared in constant time.
 */
public final class JobSecret {
    /** Shortest secret accepted, in characters. */
    public static final int MIN_CHARS = 16;
    private static final Logger LOG = LoggerFactory.getLogger(JobSecret.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private final SecretKeySpec key;

    private JobSecret(String secret) {
        this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
    }

    /** The secret of {@code file}'s first line; fails with a clear message if missing, empty or too short. */
    public static JobSecret load(Path file) {
        String line;
        try {
            line = Files.readAllLines(file, StandardCharsets.UTF_8).stream().findFirst().orElse("").strip();
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("job secret file " + file + " does not exist");
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new IllegalArgumentException("cannot read the job secret file " + file + ": " + e.getMessage());
        }
        warnIfOthersCanRead(file);
        try {
            return of(line);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("job secret file " + file + ": the first line " + e.getMessage()
                    + " (create one with 'flagagg certs')");
        }
    }

    private static void warnIfOthersCanRead(Path file) {
        try {
            var permissions = Files.getPosixFilePermissions(file);
            if (permissions.contains(PosixFilePermission.OTHERS_READ) || permissions.contains(PosixFilePermission.GROUP_READ)) {
                LOG.warn("job secret file {} can be read by other users: chmod 600 it", file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // Not a POSIX file system: nothing to check.
        }
    }

    /** The secret {@code text} (at least {@link #MIN_CHARS} characters). */
    public static JobSecret of(String text) {
        if (text.length() < MIN_CHARS) {
            throw new IllegalArgumentException("must hold a secret of at least " + MIN_CHARS + " characters, it has "
                    + text.length());
        }
        return new JobSecret(text);
    }

    /** The secret named by the "cluster" section's {@code secret} key, or null when it names none. */
    public static JobSecret fromConfig(JsonObject cluster) {
        String file = cluster == null ? null : cluster.getString("secret");
        return file == null || file.isBlank() ? null : load(Path.of(file));
    }

    /** A new secret's text: 32 random bytes in hex (the content of a secret file, before its newline). */
    public static String newSecretText() {
        return nonce();
    }

    /** A fresh random secret that lives in memory only (a data link inside one process). */
    public static JobSecret random() {
        return new JobSecret(newSecretText());
    }

    /** 32 random bytes in hex: a challenge or a session token. */
    public static String nonce() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return HEX.formatHex(bytes);
    }

    /** HMAC-SHA256 in hex over {@code label} and {@code fields} (see the class comment). */
    public String mac(String label, String... fields) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            update(mac, label);
            for (String field : fields) {
                update(mac, field);
            }
            return HEX.formatHex(mac.doFinal());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    private static void update(Mac mac, String field) {
        byte[] bytes = field.getBytes(StandardCharsets.UTF_8);
        int n = bytes.length;
        mac.update(new byte[] {(byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)});
        mac.update(bytes);
    }

    /** True when {@code proof} is {@link #mac} of the same label and fields; constant time. */
    public boolean verify(String proof, String label, String... fields) {
        return same(proof, mac(label, fields));
    }

    /** Constant-time equality of two tokens; false if either is null. */
    public static boolean same(String a, String b) {
        return a != null && b != null
                && MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
