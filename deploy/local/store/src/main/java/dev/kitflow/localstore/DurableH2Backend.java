package dev.kitflow.localstore;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;

/**
 * The H2 (MVStore file) backend, answering a write only once the write is in the file.
 *
 * <p>mongo-java-server's H2 backend leaves committing to MVStore's background writer, which
 * stores the changes of the last second or so ({@code autoCommitDelay}, 1000 ms by default). A
 * write was therefore acknowledged while it lived only in the heap, and a SIGKILL of the store
 * within that second lost it, although the services had acted on the acknowledgement (published
 * its events, answered 201).
 *
 * <p>Here, after every command that may change data, and before the answer goes out:
 * <ul>
 *   <li>{@link MVStore#commit()} stores what has changed and returns once it is written: a
 *   commit runs under MVStore's store lock and writes synchronously;</li>
 *   <li>{@link MVStore#executeFilestoreOperation(Runnable)} then waits for any store that the
 *   background writer started earlier (those are written asynchronously, and may hold this
 *   command's change while {@code commit()} found nothing left to store);</li>
 *   <li>with {@link Durability#FSYNC}, {@link MVStore#sync()} forces the file to the disk.</li>
 * </ul>
 * Commands that only read skip all of it, so reads cost what they did. Concurrent writes share a
 * flush (group commit): a write whose commit an fsync already covers, because that fsync began
 * after the commit had returned, does not force the file again.
 */
final class DurableH2Backend extends H2Backend {

    /** How far an acknowledged write has gone when the answer leaves the store. */
    enum Durability {
        /** The library's behaviour: committed by the background writer within about a second. */
        DEFERRED,
        /** Written to the file (the operating system's cache): survives a crash of the store. */
        WRITE,
        /** Written and forced to the disk: survives a crash of the machine too. */
        FSYNC;

        static Durability parse(String name) {
            return valueOf(name.toUpperCase(Locale.ROOT));
        }
    }

    /**
     * Commands that never change data (lower case). Anything not listed is treated as a write,
     * so a command this list forgets costs a commit instead of losing durability.
     */
    private static final Set<String> READ_ONLY_COMMANDS = Set.of(
        "find", "getmore", "killcursors", "count", "distinct", "listcollections", "listindexes",
        "listdatabases", "ismaster", "hello", "buildinfo", "ping", "serverstatus", "whatsmyuri",
        "getlasterror", "getlog", "getparameter", "getcmdlineopts", "hostinfo", "connectionstatus",
        "collstats", "dbstats", "explain", "endsessions", "currentop", "saslstart",
        "saslcontinue", "getfreemonitoringstatus", "features", "validate");

    private final Durability durability;
    /** Writes whose commit has returned, counted; and how many of them an fsync has covered. */
    private final AtomicLong committed = new AtomicLong();
    private long synced; // guarded by syncLock
    private final Object syncLock = new Object();

    DurableH2Backend(String fileName, Durability durability) {
        super(fileName);
        this.durability = durability;
    }

    Durability durability() {
        return durability;
    }

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
        try {
            return super.handleCommand(channel, databaseName, command, query);
        } finally {
            // Also after a failed command: what it changed before failing is visible to every
            // reader already, so it must be as durable as the rest.
            if (durability != Durability.DEFERRED && mayWrite(command, query)) {
                persist();
            }
        }
    }

    private void persist() {
        MVStore store = getMvStore();
        store.commit();
        if (durability == Durability.WRITE) {
            store.executeFilestoreOperation(() -> { });
            return;
        }
        long ticket = committed.incrementAndGet();
        synchronized (syncLock) {
            if (synced >= ticket) {
                return; // an fsync that began after this commit has finished
            }
            long covered = committed.get();
            // The barrier under MVStore's store lock; the fsync outside it, so that other
            // writers' commits go on meanwhile (FileChannel.force covers what was written
            // before it began).
            store.executeFilestoreOperation(() -> { });
            store.sync();
            synced = covered;
        }
    }

    static boolean mayWrite(String command, Document query) {
        String name = command.toLowerCase(Locale.ROOT);
        if (name.equals("aggregate")) {
            return writesItsResult(query.get("pipeline"));
        }
        return !READ_ONLY_COMMANDS.contains(name);
    }

    /** An aggregation writes only through a final {@code $out} or {@code $merge} stage. */
    private static boolean writesItsResult(Object pipeline) {
        if (!(pipeline instanceof List<?> stages) || stages.isEmpty()) {
            return false;
        }
        Object last = stages.get(stages.size() - 1);
        return last instanceof Document stage
            && (stage.containsKey("$out") || stage.containsKey("$merge"));
    }
}
