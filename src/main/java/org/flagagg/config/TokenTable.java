package org.flagagg.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which token belongs to which worker: per worker id, the SHA-256 of its token (the server never stores a
 * token). A token is the string the client sends after {@code Bearer }; its hash is SHA-256 of that
 * string's UTF-8 bytes, in lower-case hex. Lookups compare every entry in constant time (no early exit),
 * so the time taken says nothing about which hash came close.
 *
 * <p>The tokens file has one {@code WORKER_ID SHA256_HEX} a line; blank lines and everything after a
 * {@code #} are ignored. Revoking a token is removing its line and restarting the server.
 */
public final class TokenTable {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final List<String> workers = new ArrayList<>();
    private final List<byte[]> hashes = new ArrayList<>();

    private TokenTable() {
    }

    /** A table with no tokens: every connection is refused. */
    public static TokenTable empty() {
        return new TokenTable();
    }

    /** A table from worker id to token hash (hex); the same checks as a file. */
    public static TokenTable of(Map<String, String> hashByWorker) {
        TokenTable table = new TokenTable();
        Set<String> seenHashes = new HashSet<>();
        hashByWorker.forEach((worker, hex) -> {
            String problem = table.add(worker, hex, seenHashes);
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
        });
        return table;
    }

    /** Reads a tokens file; a malformed line fails with "FILE:LINE: what is wrong". */
    public static TokenTable read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": no such tokens file");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the tokens file: " + e.getMessage());
        }
        TokenTable table = new TokenTable();
        Set<String> seenHashes = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] fields = line.split("\\s+");
            String problem = fields.length != 2
                    ? "expected 'WORKER_ID SHA256_HEX', got " + fields.length + " field" + (fields.length == 1 ? "" : "s")
                    : table.add(fields[0], fields[1], seenHashes);
            if (problem != null) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": " + problem);
            }
        }
        return table;
    }

    private String add(String worker, String hex, Set<String> seenHashes) {
        if (worker == null || worker.isEmpty() || worker.length() > 128 || worker.chars().anyMatch(Character::isWhitespace)) {
            return "worker id must be 1-128 characters without spaces, got '" + worker + "'";
        }
        if (hex == null || !hex.matches("[0-9a-fA-F]{64}")) {
            return "the token hash of '" + worker + "' must be 64 hex digits (SHA-256), got '" + hex + "'";
        }
        if (workers.contains(worker)) {
            return "worker '" + worker + "' is listed twice";
        }
        String lower = hex.toLowerCase(java.util.Locale.ROOT);
        if (!seenHashes.add(lower)) {
            return "worker '" + worker + "' has the same token hash as another worker";
        }
        workers.add(worker);
        hashes.add(HexFormat.of().parseHex(lower));
        return null;
    }

    /** The worker this token belongs to, or null. Compares against every entry in constant time. */
    public String workerOf(String token) {
        if (token == null) {
            return null;
        }
        byte[] presented = sha256(token);
        String found = null;
        for (int i = 0; i < hashes.size(); i++) {
            if (MessageDigest.isEqual(presented, hashes.get(i))) {
                found = workers.get(i);
            }
        }
        return found;
    }

    public int size() {
        return workers.size();
    }

    /** A new random token: 256 bits, URL-safe base64 without padding (43 characters). */
    public static String newToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** SHA-256 of the token's UTF-8 bytes, lower-case hex: what the tokens file holds. */
    public static String hashHex(String token) {
        return HexFormat.of().formatHex(sha256(token));
    }

    /** The tokens-file line of a worker and its token. */
    public static String line(String worker, String token) {
        return worker + " " + hashHex(token);
    }

    /** Writes a tokens file for these workers' tokens (worker id -> token). */
    public static void write(Path file, Map<String, String> tokenByWorker) throws IOException {
        StringBuilder out = new StringBuilder("# flagagg tokens: WORKER_ID SHA256_HEX_OF_TOKEN\n");
        tokenByWorker.forEach((worker, token) -> out.append(line(worker, token)).append('\n'));
        Files.writeString(file, out.toString());
    }

    /** Fresh tokens for these worker ids, in order. */
    public static Map<String, String> generate(List<String> workers) {
        Map<String, String> tokens = new LinkedHashMap<>();
        workers.forEach(w -> tokens.put(w, newToken()));
        return tokens;
    }

    /** The table that accepts exactly these tokens (worker id -> token). */
    public static TokenTable ofTokens(Map<String, String> tokenByWorker) {
        Map<String, String> hashes = new LinkedHashMap<>();
        tokenByWorker.forEach((worker, token) -> hashes.put(worker, hashHex(token)));
        return of(hashes);
    }

    private static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
