package dev.kitflow.localstore;

import java.util.Collection;
import java.util.List;

import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.memory.index.MemoryUniqueIndex;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;

/**
 * A unique index that also serves queries giving its keys by plain equality plus other
 * conditions, such as {@code {_id: x, sequence: 3}}: the optimistic-concurrency update every
 * service makes. mongo-java-server uses a unique index only for a query on exactly its keys, so
 * each such update scanned the whole collection (a partner's import linking 10,000 needs back
 * to another partner's took minutes). The index hands over the one document its keys name; the
 * collection still matches it against the whole query (AbstractMongoCollection.queryDocuments).
 */
final class NarrowingUniqueIndex extends MemoryUniqueIndex {

    NarrowingUniqueIndex(String name, List<IndexKey> keys, boolean sparse) {
        super(name, keys, sparse);
    }

    @Override
    public synchronized boolean canHandle(Document query) {
        Document narrowed = narrowed(query);
        return narrowed != null && super.canHandle(narrowed);
    }

    @Override
    public synchronized Iterable<Integer> getPositions(Document query) {
        Document narrowed = narrowed(query);
        return super.getPositions(narrowed != null ? narrowed : query);
    }

    /** The query's conditions on this index's keys, or null when it cannot be narrowed to them. */
    private Document narrowed(Document query) {
        if (query.keySet().equals(keySet())) {
            return query;
        }
        if (!query.keySet().containsAll(keySet())) {
            return null;
        }
        Document narrowed = new Document();
        for (String key : keys()) {
            Object value = query.get(key);
            // Plain equality only: operators, arrays, nulls and patterns keep the library's rules.
            if (value == null || value instanceof Document || value instanceof Collection
                || BsonRegularExpression.isRegularExpression(value)) {
                return null;
            }
            narrowed.put(key, value);
        }
        return narrowed;
    }
}
