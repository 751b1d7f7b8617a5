package dev.kitflow.localstore;

import java.io.File;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;

/**
 * A MongoDB-wire-compatible server for local runs and tests (mongo-java-server).
 *
 * <pre>
 *   java -jar kitflow-store.jar --port 27017 [--host 127.0.0.1] --backend memory
 *   java -jar kitflow-store.jar --port 27017 [--host 127.0.0.1] --backend h2 --file /path/store.mv
 *       [--durability fsync|write|deferred]
 * </pre>
 *
 * With the h2 backend a write is answered only once it is in the file, and (fsync, the default)
 * forced to the disk: see {@link DurableH2Backend}. {@code deferred} is the library's own
 * behaviour (committed in the background within about a second), kept for the benchmark that
 * measures what durability costs.
 *
 * SIGTERM (or Ctrl-C) closes client connections and the backend (the H2 file is committed and
 * closed), then the JVM exits.
 */
public final class KitflowStore {

    /**
     * What the server reports in isMaster/buildInfo. mongo-java-server 1.47.0 uses the version only
     * for reporting; its default (MONGO_5_0) reports maxWireVersion 8, but PyMongo 4.20 refuses
     * servers below wire version 9 (MongoDB 4.4). PyMongo changes no behaviour we use between wire
     * 9 and 12 (13+ switches on transaction features, 21+/25+ on bulkWrite/QE), so we report the
     * lowest version it accepts.
     */
    static final MongoVersion REPORTED_VERSION = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    private KitflowStore() {
    }

    public static void main(String[] args) throws InterruptedException {
        String host = "127.0.0.1";
        int port = 27017;
        String backendName = "memory";
        String file = null;
        String durabilityName = "fsync";

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--host" -> host = value(args, ++i, arg);
                case "--port" -> port = Integer.parseInt(value(args, ++i, arg));
                case "--backend" -> backendName = value(args, ++i, arg);
                case "--file" -> file = value(args, ++i, arg);
                case "--durability" -> durabilityName = value(args, ++i, arg);
                case "-h", "--help" -> {
                    usage();
                    return;
                }
                default -> fail("unknown argument: " + arg);
            }
        }

        final DurableH2Backend.Durability durability;
        try {
            durability = DurableH2Backend.Durability.parse(durabilityName);
        } catch (IllegalArgumentException e) {
            fail("unknown durability '" + durabilityName + "' (expected fsync, write or deferred)");
            return;
        }

        final MongoBackend backend;
        switch (backendName) {
            case "memory" -> backend = new SizedMemoryBackend();
            case "h2" -> {
                if (file == null) {
                    fail("--backend h2 needs --file <path>");
                }
                File parent = new File(file).getAbsoluteFile().getParentFile();
                if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
                    fail("cannot create directory " + parent);
                }
                backend = new DurableH2Backend(file, durability);
            }
            default -> {
                fail("unknown backend '" + backendName + "' (expected memory or h2)");
                return;
            }
        }
        backend.version(REPORTED_VERSION);

        MongoServer server = new MongoServer(backend);
        server.bind(host, port); // throws (and exits non-zero) if the port is taken
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("kitflow-store: shutting down");
            try {
                server.shutdownNow();
            } finally {
                System.err.println("kitflow-store: stopped");
                stopped.countDown();
            }
        }, "kitflow-store-shutdown"));

        System.err.printf("kitflow-store: listening on %s:%d, backend=%s%s%n", host, port, backendName,
            file == null ? "" : " file=" + file + " durability=" + durability.name().toLowerCase(Locale.ROOT));
        stopped.await();
    }

    private static String value(String[] args, int i, String name) {
        if (i >= args.length) {
            fail(name + " needs a value");
        }
        return args[i];
    }

    private static void usage() {
        System.err.println("usage: kitflow-store [--host 127.0.0.1] [--port 27017] "
            + "[--backend memory|h2] [--file <path> (h2 only)] "
            + "[--durability fsync|write|deferred (h2 only; default fsync)]");
    }

    private static void fail(String message) {
        System.err.println("kitflow-store: " + message);
        usage();
        System.exit(2);
    }
}
